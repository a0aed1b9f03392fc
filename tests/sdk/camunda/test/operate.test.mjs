// Camunda Operate's REST API v1 on Podium, used as a Camunda user would: the Operate
// client of @camunda8/sdk, authenticated by OAuth client credentials at the OpenID
// Connect provider (tests/peers/oidc), reading definitions, instances, flow nodes,
// variables and incidents (within an instance and across instances), paging, and
// deleting an instance.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Camunda8 } from "@camunda8/sdk";

import { startProvider } from "../../../peers/oidc/provider.mjs";
import { adminToken, api, isolateSdkEnvironment, startPodium } from "../../js/lib/podium.mjs";

let provider;
let server;
let admin;
let operate;

/** Calls the API as the first admin and checks the answer. */
async function asAdmin(method, path, body) {
  const res = await api(server, admin, method, path, body);
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function statusOf(id) {
  return JSON.parse(await asAdmin("GET", `/api/workflow/${id}?includeTasks=false`)).status;
}

before(async () => {
  isolateSdkEnvironment();
  provider = await startProvider();
  server = await startPodium({
    env: { PODIUM_OIDC_ISSUER_URL: provider.issuer, PODIUM_OIDC_AUDIENCE: "podium-api" },
  });
  admin = await adminToken(server);
  // The provider's client acts as the Podium application an ADMIN named after it,
  // which may read `orders` and remove its instances.
  const app = JSON.parse(await asAdmin("POST", "/api/applications", { name: "operate-m2m" }));
  await asAdmin("POST", "/api/metadata/taskdefs", [
    { name: "charge", retryCount: 0, responseTimeoutSeconds: 30 },
  ]);
  await asAdmin("POST", "/api/metadata/workflow?overwrite=true", {
    name: "orders",
    version: 1,
    tasks: [
      {
        name: "vars",
        taskReferenceName: "remember",
        type: "SET_VARIABLE",
        inputParameters: { orderId: "${workflow.input.orderId}" },
      },
      { name: "charge", taskReferenceName: "charge", type: "SIMPLE" },
    ],
  });
  await asAdmin("POST", "/api/auth/authorization", {
    subject: { type: "USER", id: `app:${app.id}` },
    target: { type: "WORKFLOW_DEF", id: "orders" },
    access: ["READ", "DELETE_PROCESS_INSTANCE"],
  });
  // Three orders: one charged, one declined, one waiting.
  const ids = [];
  for (const n of [1, 2, 3]) {
    ids.push(await asAdmin("POST", "/api/workflow/orders", { orderId: `o-${n}` }));
  }
  const polled = JSON.parse(
    await asAdmin("GET", "/api/tasks/poll/batch/charge?workerid=w&count=2&timeout=2000"),
  );
  assert.equal(polled.length, 2);
  for (const task of polled) {
    const declined = task.workflowInstanceId === ids[1];
    await asAdmin("POST", "/api/tasks", {
      workflowInstanceId: task.workflowInstanceId,
      taskId: task.taskId,
      status: declined ? "FAILED" : "COMPLETED",
      reasonForIncompletion: "card declined",
      outputData: {},
    });
  }
  for (const [id, wanted] of [[ids[0], "COMPLETED"], [ids[1], "FAILED"]]) {
    for (let i = 0; i < 200 && (await statusOf(id)) !== wanted; i++) await sleep(25);
  }

  const c8 = new Camunda8({
    CAMUNDA_AUTH_STRATEGY: "OAUTH",
    CAMUNDA_OAUTH_URL: `${provider.issuer}/token`,
    ZEEBE_CLIENT_ID: "operate-m2m",
    ZEEBE_CLIENT_SECRET: "operate-secret",
    CAMUNDA_OPERATE_OAUTH_AUDIENCE: "podium-api",
    CAMUNDA_OPERATE_BASE_URL: server.url,
    CAMUNDA_TOKEN_DISK_CACHE_DISABLE: true,
  });
  operate = c8.getOperateApiClient();
});

after(async () => {
  await server?.stop();
  provider?.stop();
});

test("process definitions are found as the Operate document's example finds them", async () => {
  const found = await operate.searchProcessDefinitions({ filter: { bpmnProcessId: "orders" } });
  assert.equal(Number(found.total), 1);
  const [definition] = found.items;
  assert.equal(definition.bpmnProcessId, "orders");
  assert.equal(definition.version, 1);
  const byKey = await operate.getProcessDefinition(definition.key);
  assert.equal(byKey.key, definition.key);
});

test("process instances are paged with searchAfter and read by key", async () => {
  const first = await operate.searchProcessInstances({ filter: { bpmnProcessId: "orders" }, size: 2 });
  assert.equal(Number(first.total), 3);
  assert.deepEqual(first.items.map((i) => i.state), ["COMPLETED", "CANCELED"]);
  const second = await operate.searchProcessInstances({
    filter: { bpmnProcessId: "orders" },
    size: 2,
    searchAfter: first.sortValues,
  });
  assert.deepEqual(second.items.map((i) => i.state), ["ACTIVE"]);
  const keys = [...first.items, ...second.items].map((i) => i.key);
  assert.equal(new Set(keys).size, 3);
  const waiting = await operate.getProcessInstance(keys[2]);
  assert.equal(waiting.state, "ACTIVE");
  assert.equal(waiting.bpmnProcessId, "orders");
});

test("flow nodes, variables and incidents of an instance", async () => {
  const { items } = await operate.searchProcessInstances({ filter: { state: "CANCELED" } });
  const declined = items[0].key;
  const nodes = await operate.searchFlownodeInstances({ filter: { processInstanceKey: declined } });
  const charge = nodes.items.find((n) => n.flowNodeId === "charge");
  assert.equal(charge.incident, true);
  assert.equal((await operate.getFlownodeInstance(charge.key)).flowNodeId, "charge");
  const incidents = await operate.searchIncidents({ filter: { processInstanceKey: declined } });
  assert.equal(Number(incidents.total), 1);
  assert.equal(incidents.items[0].message, "card declined");
  assert.equal((await operate.getIncident(incidents.items[0].key)).state, "ACTIVE");
  // Every active incident, across instances, as an operator would look for them.
  const active = await operate.searchIncidents({ filter: { state: "ACTIVE" } });
  assert.equal(Number(active.total), 1);
  assert.equal(active.items[0].processInstanceKey, declined);
  const variables = await operate.getVariablesforProcess(declined);
  const orderId = variables.items.find((v) => v.name === "orderId");
  assert.equal(orderId.value, '"o-2"');
});

test("variables are searched across instances, as a support engineer finds an order", async () => {
  const found = await operate.searchVariables({ filter: { name: "orderId", value: '"o-3"' } });
  assert.equal(Number(found.total), 1);
  const [variable] = found.items;
  const instance = await operate.getProcessInstance(variable.processInstanceKey);
  assert.equal(instance.state, "ACTIVE");
  assert.equal((await operate.getVariables(variable.key)).value, '"o-3"');
  // Every order's id, a page at a time, in key order.
  const first = await operate.searchVariables({ filter: { name: "orderId" }, size: 2 });
  assert.equal(Number(first.total), 3);
  const second = await operate.searchVariables({
    filter: { name: "orderId" },
    size: 2,
    searchAfter: first.sortValues,
  });
  const values = [...first.items, ...second.items].map((v) => v.value);
  assert.deepEqual(values, ['"o-1"', '"o-2"', '"o-3"']);
});

test("an ended instance is deleted, an active one is not", async () => {
  const { items } = await operate.searchProcessInstances({ filter: { bpmnProcessId: "orders" } });
  const done = items.find((i) => i.state === "COMPLETED");
  const active = items.find((i) => i.state === "ACTIVE");
  const refused = await operate.deleteProcessInstance(active.key);
  assert.equal(refused.status, 400, JSON.stringify(refused));
  const deleted = await operate.deleteProcessInstance(done.key);
  assert.equal(Number(deleted.deleted), 1, JSON.stringify(deleted));
  await assert.rejects(operate.getProcessInstance(done.key), (err) => err.statusCode === 404);
});
