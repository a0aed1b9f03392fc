// Authentication through the JS SDK: the client mints its token from an access key,
// renews it when the server answers EXPIRED_TOKEN, and a paused key stops it.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { MetadataClient, orkesConductorClient, taskDefinition } from "@io-orkes/conductor-javascript";

import { isolateSdkEnvironment, startPodium } from "../lib/podium.mjs";
import { sleep, unique } from "../lib/fixture.mjs";

describe("authentication (orkesConductorClient with an access key)", () => {
  let server;
  let client;
  before(async () => {
    isolateSdkEnvironment();
    // Tokens live two seconds here, so the SDK must renew them as it goes.
    server = await startPodium({ env: { PODIUM_TOKEN_TTL_SECONDS: "2" } });
    client = await orkesConductorClient({
      serverUrl: server.url,
      keyId: server.keyId,
      keySecret: server.keySecret,
    });
  });
  after(async () => {
    client?.stopBackgroundRefresh?.();
    await server?.stop();
  });

  test("calls keep working across token expiries", async () => {
    const metadata = new MetadataClient(client);
    for (let round = 0; round < 3; round++) {
      const name = unique("js_auth_task");
      await metadata.registerTask(taskDefinition({ name }));
      const got = await metadata.getTask(name);
      assert.equal(got.name, name);
      // Past the token's lifetime: the next call meets EXPIRED_TOKEN and renews.
      await sleep(2200);
    }
  });

  test("the server refuses calls without a token, and bad keys", async () => {
    const bare = await fetch(`${server.url}/api/metadata/taskdefs`);
    assert.equal(bare.status, 401);
    assert.equal((await bare.json()).error, "INVALID_TOKEN");
    const minted = await fetch(`${server.url}/api/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ keyId: server.keyId, keySecret: "wrong" }),
    });
    assert.equal(minted.status, 401);
  });
});
