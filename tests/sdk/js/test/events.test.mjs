// Event handlers through the SDK's EventClient, as its integration test walks
// them (a list added at once, read by name, switched off, by event, tags,
// removed), and an EVENT task whose event completes another workflow's WAIT.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventClient, MetadataClient, WorkflowExecutor } from "@io-orkes/conductor-javascript";

import { unique, usePodium } from "../lib/fixture.mjs";

describe("event handlers", () => {
  const ctx = usePodium();

  test("handlers are added, read, changed, tagged and removed", async () => {
    const events = new EventClient(ctx.client);
    const event = unique("jsSdkTest:event");
    const handler = (name) => ({
      name,
      event,
      active: true,
      condition: "true",
      evaluatorType: "javascript",
      description: "from the JS SDK",
      actions: [{ action: "complete_task", complete_task: { workflowId: "${target}", taskRefName: "wait" } }],
      tags: [{ key: "team", value: "js" }],
    });
    const [a, b] = [unique("jsSdkTest:a"), unique("jsSdkTest:b")];
    await events.addEventHandlers([handler(a), handler(b)]);
    const one = await events.getEventHandlerByName(a);
    assert.equal(one.event, event);
    assert.equal(one.condition, "true");
    assert.equal(one.evaluatorType, "javascript");
    assert.match(one.createdBy, /app:/);
    assert.equal(one.actions[0].action, "complete_task");
    assert.ok(one.tags.some((t) => t.key === "team" && t.value === "js"));
    const names = (list) => list.map((h) => h.name).sort();
    assert.deepEqual(names(await events.getEventHandlersForEvent(event, false)), [a, b].sort());

    await events.updateEventHandler({ ...handler(b), active: false, description: "off" });
    const off = await events.getEventHandlerByName(b);
    assert.equal(off.active, false);
    assert.equal(off.description, "off");
    assert.deepEqual(names(await events.getEventHandlersForEvent(event, true)), [a]);

    await events.putTagForEventHandler(a, [{ key: "x", value: "1" }, { key: "y", value: "2" }]);
    await events.deleteTagForEventHandler(a, { key: "x", value: "1" });
    const tags = await events.getTagsForEventHandler(a);
    assert.ok(tags.some((t) => t.key === "y") && !tags.some((t) => t.key === "x"));

    await events.removeEventHandler(a);
    await events.removeEventHandler(b);
    assert.ok(!(await events.getAllEventHandlers()).some((h) => h.name === a));
    await assert.rejects(events.getEventHandlerByName(a));
    await assert.rejects(events.removeEventHandler(a));
    await assert.rejects(events.updateEventHandler(handler(a)));
    await assert.rejects(events.addEventHandlers([{ name: "", event: "", active: true, actions: [] }]));
  });

  test("an EVENT task's event completes another workflow's WAIT", async () => {
    const events = new EventClient(ctx.client);
    const metadata = new MetadataClient(ctx.client);
    const executor = new WorkflowExecutor(ctx.client);
    const [waiter, publisher] = [unique("js_waiter"), unique("js_publisher")];
    await metadata.registerWorkflowDef(
      { name: waiter, version: 1, tasks: [{ name: "wait", taskReferenceName: "wait", type: "WAIT" }] },
      true,
    );
    await metadata.registerWorkflowDef(
      {
        name: publisher,
        version: 1,
        tasks: [{
          name: "announce", taskReferenceName: "announce", type: "EVENT", sink: "conductor",
          inputParameters: { target: "${workflow.input.target}" },
        }],
      },
      true,
    );
    const name = unique("jsSdkTest:signal");
    await events.addEventHandler({
      name,
      event: `conductor:${publisher}:announce`,
      active: true,
      actions: [{
        action: "complete_task",
        complete_task: { workflowId: "${target}", taskRefName: "wait", output: { from: "${workflowInstanceId}" } },
      }],
    });
    const target = await executor.startWorkflow({ name: waiter, version: 1, input: {} });
    const source = await executor.startWorkflow({ name: publisher, version: 1, input: { target } });
    let status;
    for (let i = 0; i < 200 && status?.status !== "COMPLETED"; i++) {
      status = await executor.getWorkflow(target, true);
      if (status.status !== "COMPLETED") await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(status.status, "COMPLETED");
    assert.equal(status.tasks[0].outputData.from, source);
    await events.removeEventHandler(name);
  });

  test("an event from outside starts a workflow, and the message and action are on record", async () => {
    const events = new EventClient(ctx.client);
    const flow = unique("jsSdkTest_from_outside");
    await ctx.metadata.registerWorkflowDef(
      {
        name: flow,
        version: 1,
        tasks: [{ name: "wait", taskReferenceName: "wait", type: "WAIT" }],
        timeoutSeconds: 0,
      },
      true,
    );
    const event = unique("jsSdkTest_incoming");
    const name = unique("jsSdkTest_listener");
    await events.addEventHandler({
      name,
      event,
      active: true,
      actions: [{ action: "start_workflow", start_workflow: { name: flow, input: { note: "${note}" } } }],
    });
    await assert.rejects(events.handleIncomingEvent({}));
    await events.handleIncomingEvent({ event, note: "from outside" });
    let executions = [];
    for (let i = 0; i < 100 && executions.length === 0; i++) {
      executions = await events.getEventExecutions(name, 0);
      if (executions.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(executions.length, 1);
    assert.equal(executions[0].action, "start_workflow");
    assert.equal(executions[0].status, "COMPLETED");
    const started = await ctx.executor.getWorkflow(executions[0].output.workflowId, false);
    assert.equal(started.input.note, "from outside");
    const messages = await events.getEventMessages(event);
    assert.equal(messages[0].fullPayload.note, "from outside");
    const stats = await events.getAllActiveEventHandlers();
    const mine = stats.results.find((h) => h.name === name);
    assert.equal(mine.numberOfActions, 1);
    await events.removeEventHandler(name);
  });
});
