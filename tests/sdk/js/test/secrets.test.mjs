// Secrets through the JS SDK's SecretClient: create, read back as a string, tags,
// names, existence, delete; errors for unknown secrets.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { SecretClient, orkesConductorClient } from "@io-orkes/conductor-javascript";

import { isolateSdkEnvironment, startPodium } from "../lib/podium.mjs";
import { unique } from "../lib/fixture.mjs";

describe("secrets (SecretClient)", () => {
  let server;
  let client;
  let secrets;
  before(async () => {
    isolateSdkEnvironment();
    server = await startPodium();
    client = await orkesConductorClient({
      serverUrl: server.url,
      keyId: server.keyId,
      keySecret: server.keySecret,
    });
    secrets = new SecretClient(client);
  });
  after(async () => {
    client?.stopBackgroundRefresh?.();
    await server?.stop();
  });

  test("a secret round-trips, with tags, and is gone after delete", async () => {
    const name = unique("js-secret");
    const value = 'hello "world"\nline2';
    await secrets.putSecret(name, value);
    const read = await secrets.getSecret(name);
    assert.equal(typeof read, "string");
    assert.equal(read, value);
    assert.equal(await secrets.secretExists(name), true);
    assert.ok((await secrets.listAllSecretNames()).includes(name));
    assert.ok((await secrets.listSecretsThatUserCanGrantAccessTo()).includes(name));

    await secrets.setSecretTags([{ key: "team", value: "js" }], name);
    const tags = await secrets.getSecretTags(name);
    assert.deepEqual(tags.map((t) => [t.key, t.value]), [["team", "js"]]);
    await secrets.deleteSecretTags([{ key: "team", value: "js" }], name);
    assert.deepEqual(await secrets.getSecretTags(name), []);

    await secrets.deleteSecret(name);
    // A missing secret is a 404, which the SDK raises.
    await assert.rejects(() => secrets.secretExists(name));
    await assert.rejects(() => secrets.getSecret(name));
    await assert.rejects(() => secrets.getSecretTags(unique("js-missing")));
  });
});
