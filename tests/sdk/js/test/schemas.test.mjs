// Schemas through the SDK's SchemaClient, as its integration test walks them:
// register, a new version, read by version and by name, list, delete a version,
// delete by name, and what does not exist rejects.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SchemaClient } from "@io-orkes/conductor-javascript";

import { unique, usePodium } from "../lib/fixture.mjs";

describe("schemas", () => {
  const ctx = usePodium();

  test("schema versions are registered, read, listed and deleted", async () => {
    const schemas = new SchemaClient(ctx.client);
    const name = unique("jsSdkTest_schema");
    const data = { type: "object", properties: { id: { type: "string" } }, required: ["id"] };
    await schemas.registerSchema([{ name, version: 1, type: "JSON", data }]);
    const one = await schemas.getSchema(name, 1);
    assert.equal(one.name, name);
    assert.equal(one.version, 1);
    assert.equal((await schemas.getSchemaByName(name)).name, name);
    assert.ok((await schemas.getAllSchemas()).some((s) => s.name === name));
    await schemas.registerSchema([{ name, version: 1, type: "JSON", data }], true);
    assert.equal((await schemas.getSchema(name, 2)).version, 2);
    await schemas.deleteSchema(name, 2);
    await assert.rejects(schemas.getSchema(name, 2));
    await schemas.deleteSchemaByName(name);
    await assert.rejects(schemas.getSchema(name, 1));
    await assert.rejects(schemas.getSchema("nonexistent_schema_999999", 1));
    await assert.rejects(schemas.getSchemaByName("nonexistent_schema_999999"));
    await assert.rejects(schemas.deleteSchema("nonexistent_schema_999999", 1));
  });
});
