// TaskClient and the client's TaskResource: polling, updates, logs, queue sizes and
// poll data, driven by hand (no TaskManager).

import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { simpleTask, taskDefinition, waitTaskDuration, workflow } from "@io-orkes/conductor-javascript";

import { eventually, taskByRef, unique, usePodium, waitForWorkflow } from "../lib/fixture.mjs";

describe("tasks (TaskClient, TaskResource)", () => {
  const ctx = usePodium();

  const TYPE = unique("js_tasks_type");
  const WF = unique("js_tasks_wf");
  const WORKER = "js-sdk-test-worker";

  // The client's legacy resource API is the SDK's only direct poll; it warns on each call.
  let taskResource;
  before(async () => {
    const warn = console.warn;
    taskResource = new Proxy(ctx.client.taskResource, {
      get(target, prop) {
        const fn = target[prop];
        if (typeof fn !== "function") return fn;
        return async (...args) => {
          console.warn = () => {};
          try {
            return await fn(...args);
          } finally {
            console.warn = warn;
          }
        };
      },
    });
    await ctx.metadata.registerTask(taskDefinition({ name: TYPE, retryCount: 0, responseTimeoutSeconds: 60 }));
    await ctx.executor.registerWorkflow(true, {
      ...workflow(WF, [
        simpleTask("work", TYPE, { i: "${workflow.input.i}" }),
        waitTaskDuration("pause", "1s"),
      ]),
      outputParameters: { result: "${work.output.result}" },
    });
  });

  async function start(i) {
    return ctx.executor.startWorkflow({ name: WF, version: 1, input: { i } });
  }

  test("queue sizes, batch poll, get task, poll data", async () => {
    const ids = [await start(1), await start(2), await start(3)];
    const sizes = await ctx.tasks.getQueueSizeForTask([TYPE]);
    assert.deepEqual(sizes, { [TYPE]: 3 });

    const polled = await taskResource.batchPoll(TYPE, WORKER, undefined, 2, 500);
    assert.equal(polled.length, 2);
    for (const task of polled) {
      assert.equal(task.taskType, TYPE);
      assert.equal(task.referenceTaskName, "work");
      assert.equal(task.status, "IN_PROGRESS");
      assert.equal(task.workerId, WORKER);
      assert.equal(task.pollCount, 1);
      assert.ok(ids.includes(task.workflowInstanceId));
      assert.deepEqual(task.inputData, { i: ids.indexOf(task.workflowInstanceId) + 1 });
    }
    assert.deepEqual(await ctx.tasks.getQueueSizeForTask([TYPE]), { [TYPE]: 1 });

    const fetched = await ctx.tasks.getTask(polled[0].taskId);
    assert.equal(fetched.taskId, polled[0].taskId);
    assert.equal(fetched.status, "IN_PROGRESS");
    assert.equal(fetched.workerId, WORKER);
    assert.ok(fetched.startTime > 0);

    const pollData = await ctx.tasks.getTaskPollData(TYPE);
    assert.ok(Array.isArray(pollData));
    const mine = pollData.find((p) => p.workerId === WORKER);
    assert.ok(mine, `poll data names ${WORKER}: ${JSON.stringify(pollData)}`);
    assert.equal(mine.queueName, TYPE);
    assert.ok(mine.lastPollTime > Date.now() - 60_000);

    // The third task, then nothing left.
    const rest = await taskResource.batchPoll(TYPE, WORKER, undefined, 5, 100);
    assert.equal(rest.length, 1);
    assert.deepEqual(await taskResource.batchPoll(TYPE, WORKER, undefined, 5, 100), []);
    assert.deepEqual(await ctx.tasks.getQueueSizeForTask([TYPE]), { [TYPE]: 0 });

    for (const task of [...polled, ...rest]) {
      await ctx.executor.terminate(task.workflowInstanceId, "cleanup");
    }
  });

  test("update a polled task with a TaskResult (POST /api/tasks)", async () => {
    const id = await start(10);
    const [task] = await taskResource.batchPoll(TYPE, WORKER, undefined, 1, 500);
    assert.equal(task.workflowInstanceId, id);

    const answer = await taskResource.updateTask1({
      workflowInstanceId: id,
      taskId: task.taskId,
      status: "COMPLETED",
      outputData: { result: "done-10" },
      workerId: WORKER,
      logs: [{ log: "from the result", taskId: task.taskId, createdTime: Date.now() }],
    });
    assert.equal(answer, task.taskId);

    const updated = await ctx.tasks.getTask(task.taskId);
    assert.equal(updated.status, "COMPLETED");
    assert.deepEqual(updated.outputData, { result: "done-10" });
    const logs = await ctx.tasks.getTaskLogs(task.taskId);
    assert.deepEqual(logs.map((l) => l.log), ["from the result"]);

    const wf = await waitForWorkflow(ctx.executor, id, "COMPLETED");
    assert.deepEqual(wf.output, { result: "done-10" });
  });

  test("an IN_PROGRESS update puts the task back in the queue for the next poll", async () => {
    const id = await start(11);
    const [task] = await taskResource.batchPoll(TYPE, WORKER, undefined, 1, 500);
    assert.equal(task.workflowInstanceId, id);
    await ctx.executor.updateTask(task.taskId, id, "IN_PROGRESS", { step: 1 });
    const requeued = await eventually(
      async () => (await taskResource.batchPoll(TYPE, WORKER, undefined, 1, 200))[0],
      { what: "the task to be polled again" },
    );
    assert.equal(requeued.taskId, task.taskId);
    assert.equal(requeued.pollCount, 2);
    assert.deepEqual(requeued.outputData, { step: 1 });
    await ctx.executor.updateTask(task.taskId, id, "COMPLETED", { result: "done-11" });
    const wf = await waitForWorkflow(ctx.executor, id, "COMPLETED");
    assert.deepEqual(wf.output, { result: "done-11" });
  });

  test("task logs: a plain string, quotes and newlines kept", async () => {
    const id = await start(12);
    const wf = await ctx.executor.getWorkflow(id, true);
    const taskId = taskByRef(wf, "work").taskId;
    const lines = ["plain line", 'with "quotes" and \\ backslash', "two\nlines", "ünïcödé ✓"];
    for (const line of lines) {
      await ctx.tasks.addTaskLog(taskId, line);
    }
    const logs = await ctx.tasks.getTaskLogs(taskId);
    assert.deepEqual(logs.map((l) => l.log), lines);
    for (const log of logs) {
      assert.equal(log.taskId, taskId);
      assert.equal(typeof log.createdTime, "number");
    }
    await ctx.executor.terminate(id, "cleanup");
  });

  test("update by reference name: TaskClient.updateTaskResult and WorkflowExecutor.updateTaskByRefName", async () => {
    const id = await start(13);
    // TaskClient wraps the output as {"outputData": ...}; the server stores what arrives.
    const first = await ctx.tasks.updateTaskResult(id, "work", "IN_PROGRESS", { progress: 50 });
    const wf = await ctx.executor.getWorkflow(id, true);
    const task = taskByRef(wf, "work");
    assert.equal(first, task.taskId, "the answer is the task id as text");
    assert.deepEqual(task.outputData, { outputData: { progress: 50 } });

    // WorkflowExecutor.updateTaskByRefName sends the output map itself.
    const second = await ctx.executor.updateTaskByRefName("work", id, "COMPLETED", { result: "by-ref" });
    assert.equal(second, task.taskId);
    const done = await waitForWorkflow(ctx.executor, id, "COMPLETED");
    assert.equal(done.output.result, "by-ref");
    assert.equal(taskByRef(done, "work").status, "COMPLETED");
  });

  test("updateTaskSync answers the workflow", async () => {
    const id = await start(14);
    const wf = await ctx.tasks.updateTaskSync(id, "work", "COMPLETED", { result: "sync" });
    assert.equal(wf.workflowId, id);
    const work = taskByRef(wf, "work");
    assert.equal(work.status, "COMPLETED");
    assert.deepEqual(work.outputData, { result: "sync" });
    assert.ok(taskByRef(wf, "pause"), "the answer already shows the next task");
    const done = await waitForWorkflow(ctx.executor, id, "COMPLETED");
    assert.equal(done.output.result, "sync");
  });

  test("errors: unknown task id", async () => {
    await assert.rejects(ctx.tasks.getTask("00000000-0000-0000-0000-000000000000"), /Failed to get task/);
  });
});
