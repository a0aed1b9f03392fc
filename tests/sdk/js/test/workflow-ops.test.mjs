// WorkflowExecutor: starting, reading, pausing, terminating, restarting, retrying,
// rerunning, skipping, searching, executing synchronously and deleting workflows.
// No workers here: the tests complete tasks themselves through the SDK.

import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  ConductorWorkflow,
  setVariableTask,
  simpleTask,
  taskDefinition,
  workflow,
} from "@io-orkes/conductor-javascript";

import { eventually, taskByRef, unique, usePodium, waitForWorkflow } from "../lib/fixture.mjs";

describe("workflow operations (WorkflowExecutor)", () => {
  const ctx = usePodium();

  const FIRST = unique("js_ops_first");
  const SECOND = unique("js_ops_second");
  const WF = unique("js_ops_wf");
  const EXEC_WF = unique("js_ops_exec_wf");

  before(async () => {
    // No retries, so a FAILED task fails the workflow at once.
    await ctx.metadata.registerTasks([
      taskDefinition({ name: FIRST, retryCount: 0 }),
      taskDefinition({ name: SECOND, retryCount: 0 }),
    ]);
    await ctx.executor.registerWorkflow(true, {
      ...workflow(WF, [
        simpleTask("first", FIRST, { n: "${workflow.input.n}" }),
        simpleTask("second", SECOND, { prev: "${first.output.v}" }),
      ]),
      inputParameters: ["n"],
      outputParameters: { first: "${first.output.v}", second: "${second.output.v}" },
    });
  });

  /** Completes (or fails) the pending task with this reference through WorkflowExecutor.updateTask. */
  async function finishTask(workflowId, ref, output, status = "COMPLETED") {
    const task = await eventually(
      async () => {
        const wf = await ctx.executor.getWorkflow(workflowId, true);
        return (wf.tasks ?? []).find(
          (t) => t.referenceTaskName === ref && (t.status === "SCHEDULED" || t.status === "IN_PROGRESS"),
        );
      },
      { what: `a pending task ${ref} in ${workflowId}` },
    );
    const answer = await ctx.executor.updateTask(task.taskId, workflowId, status, output);
    assert.equal(answer, task.taskId, "POST /api/tasks answers the task id as text");
    return task;
  }

  async function runToCompletion(workflowId, n) {
    await finishTask(workflowId, "first", { v: `first-${n}` });
    await finishTask(workflowId, "second", { v: `second-${n}` });
    return waitForWorkflow(ctx.executor, workflowId, "COMPLETED");
  }

  describe("start and read", () => {
    test("startWorkflowByName with version, correlation id and priority", async () => {
      const id = await ctx.executor.startWorkflowByName(WF, { n: 1 }, 1, "corr-by-name", 5);
      assert.equal(typeof id, "string");
      assert.match(id, /^[0-9a-f-]{36}$/i);

      const wf = await ctx.executor.getWorkflow(id, true);
      assert.equal(wf.workflowId, id);
      assert.equal(wf.status, "RUNNING");
      assert.equal(wf.workflowName, WF);
      assert.equal(wf.workflowVersion, 1);
      assert.deepEqual(wf.input, { n: 1 });
      assert.equal(wf.correlationId, "corr-by-name");
      assert.equal(wf.priority, 5);
      assert.equal(wf.tasks.length, 1);
      assert.equal(wf.tasks[0].referenceTaskName, "first");
      assert.equal(wf.tasks[0].taskType, FIRST);
      assert.equal(wf.tasks[0].status, "SCHEDULED");
      assert.deepEqual(wf.tasks[0].inputData, { n: 1 });
      assert.equal(wf.tasks[0].workflowInstanceId, id);
    });

    test("startWorkflow with a StartWorkflowRequest; getExecution and getWorkflowStatus", async () => {
      const id = await ctx.executor.startWorkflow({
        name: WF,
        version: 1,
        input: { n: 2 },
        correlationId: "corr-request",
        priority: 7,
      });
      const execution = await ctx.executor.getExecution(id);
      assert.equal(execution.workflowId, id);
      assert.equal(execution.priority, 7);
      assert.equal(execution.correlationId, "corr-request");
      assert.equal(execution.tasks.length, 1);

      const withoutTasks = await ctx.executor.getWorkflow(id, false);
      assert.equal(withoutTasks.workflowId, id);
      assert.deepEqual(withoutTasks.tasks ?? [], [], "includeTasks=false leaves the tasks out");

      const status = await ctx.executor.getWorkflowStatus(id, true, true);
      assert.equal(status.workflowId, id);
      assert.equal(status.status, "RUNNING");
      assert.equal(status.correlationId, "corr-request");

      const done = await runToCompletion(id, 2);
      assert.deepEqual(done.output, { first: "first-2", second: "second-2" });
      const finalStatus = await ctx.executor.getWorkflowStatus(id, true, false);
      assert.equal(finalStatus.status, "COMPLETED");
      assert.deepEqual(finalStatus.output, { first: "first-2", second: "second-2" });
    });

    test("startWorkflowByName without a version runs the latest version", async () => {
      const name = unique("js_ops_versions");
      await ctx.metadata.registerWorkflowDef(workflow(name, [setVariableTask("v", { version: 1 })]), true);
      await ctx.metadata.registerWorkflowDef(
        { ...workflow(name, [setVariableTask("v", { version: 2 })]), version: 2 },
        true,
      );
      const id = await ctx.executor.startWorkflowByName(name, {});
      const wf = await waitForWorkflow(ctx.executor, id, "COMPLETED");
      assert.equal(wf.workflowVersion, 2);
      assert.equal(wf.variables.version, 2);
    });

    test("errors: unknown workflow definition and unknown workflow id", async () => {
      await assert.rejects(
        ctx.executor.startWorkflow({ name: unique("js_ops_nodef"), version: 1, input: {} }),
        /^.*Failed to start workflow/,
      );
      const missing = randomUUID();
      await assert.rejects(ctx.executor.getWorkflow(missing, true), (err) => {
        assert.equal(err.name, "[Conductor SDK Error]");
        assert.match(err.message, new RegExp(`^Failed to get workflow: .*${missing}`));
        return true;
      });
    });
  });

  describe("control", () => {
    test("pause holds the workflow; resume continues it", async () => {
      const id = await ctx.executor.startWorkflowByName(WF, { n: 3 }, 1);
      await ctx.executor.pause(id);
      assert.equal((await ctx.executor.getWorkflow(id, false)).status, "PAUSED");

      // A paused workflow accepts task results but schedules nothing new.
      await finishTask(id, "first", { v: "first-3" });
      await new Promise((r) => setTimeout(r, 300));
      const paused = await ctx.executor.getWorkflow(id, true);
      assert.equal(paused.status, "PAUSED");
      assert.equal(taskByRef(paused, "first").status, "COMPLETED");
      assert.equal(taskByRef(paused, "second"), undefined, "nothing is scheduled while paused");

      await ctx.executor.resume(id);
      const resumed = await eventually(
        async () => {
          const wf = await ctx.executor.getWorkflow(id, true);
          return wf.status === "RUNNING" && taskByRef(wf, "second") ? wf : undefined;
        },
        { what: "the resumed workflow to schedule 'second'" },
      );
      assert.equal(taskByRef(resumed, "second").status, "SCHEDULED");
      assert.deepEqual(taskByRef(resumed, "second").inputData, { prev: "first-3" });
      await finishTask(id, "second", { v: "second-3" });
      const done = await waitForWorkflow(ctx.executor, id, "COMPLETED");
      assert.deepEqual(done.output, { first: "first-3", second: "second-3" });

      // Resuming a workflow that is not paused is an error.
      await assert.rejects(ctx.executor.resume(id), /Failed to resume workflow/);
    });

    test("terminate, then restart the same workflow from the beginning", async () => {
      const id = await ctx.executor.startWorkflowByName(WF, { n: 4 }, 1, "corr-restart");
      await ctx.executor.terminate(id, "stopped by the test");
      const terminated = await ctx.executor.getWorkflow(id, true);
      assert.equal(terminated.status, "TERMINATED");
      assert.equal(terminated.reasonForIncompletion, "stopped by the test");
      assert.equal(taskByRef(terminated, "first").status, "CANCELED");

      await ctx.executor.restart(id, false);
      const restarted = await ctx.executor.getWorkflow(id, true);
      assert.equal(restarted.workflowId, id, "restart keeps the workflow id");
      assert.equal(restarted.status, "RUNNING");
      assert.equal(restarted.correlationId, "corr-restart");
      assert.deepEqual(restarted.input, { n: 4 });
      assert.deepEqual(
        restarted.tasks.map((t) => `${t.referenceTaskName}:${t.status}`),
        ["first:SCHEDULED"],
        "restart starts over with fresh tasks",
      );
      assert.notEqual(restarted.tasks[0].taskId, taskByRef(terminated, "first").taskId);

      const done = await runToCompletion(id, 4);
      assert.deepEqual(done.output, { first: "first-4", second: "second-4" });

      // Terminating a completed workflow is refused; restarting a running one too.
      await assert.rejects(ctx.executor.terminate(id, "too late"), /Failed to terminate workflow/);
      const running = await ctx.executor.startWorkflowByName(WF, { n: 44 }, 1);
      await assert.rejects(ctx.executor.restart(running, false), /Failed to restart workflow/);
      await ctx.executor.terminate(running, "cleanup");
    });

    test("retry a failed workflow from the failed task", async () => {
      const id = await ctx.executor.startWorkflowByName(WF, { n: 5 }, 1);
      await finishTask(id, "first", { v: "first-5" });
      const failedTask = await finishTask(id, "second", { error: "boom" }, "FAILED");
      const failed = await waitForWorkflow(ctx.executor, id, "FAILED");
      assert.equal(taskByRef(failed, "second").status, "FAILED");

      await ctx.executor.retry(id, false);
      const retried = await ctx.executor.getWorkflow(id, true);
      assert.equal(retried.status, "RUNNING");
      const seconds = retried.tasks.filter((t) => t.referenceTaskName === "second");
      assert.deepEqual(
        seconds.map((t) => t.status),
        ["FAILED", "SCHEDULED"],
        "the failed attempt stays, a new attempt is scheduled",
      );
      assert.equal(seconds[1].retriedTaskId, failedTask.taskId);
      assert.equal(seconds[1].retryCount, 1);
      assert.equal(taskByRef(retried, "first").status, "COMPLETED", "completed tasks are kept");

      await finishTask(id, "second", { v: "second-5" });
      const done = await waitForWorkflow(ctx.executor, id, "COMPLETED");
      assert.deepEqual(done.output, { first: "first-5", second: "second-5" });

      // Retrying a workflow that did not fail is an error.
      await assert.rejects(ctx.executor.retry(id, false), /Failed to retry workflow/);
    });

    test("rerun with new input, and rerun from a task", async () => {
      const id = await ctx.executor.startWorkflowByName(WF, { n: 6 }, 1);
      await runToCompletion(id, 6);

      const rerunId = await ctx.executor.reRun(id, { workflowInput: { n: 66 } });
      assert.equal(rerunId, id, "rerun answers the (same) workflow id as text");
      const rerun = await ctx.executor.getWorkflow(id, true);
      assert.equal(rerun.status, "RUNNING");
      assert.deepEqual(rerun.input, { n: 66 });
      assert.deepEqual(rerun.tasks.map((t) => `${t.referenceTaskName}:${t.status}`), ["first:SCHEDULED"]);
      assert.deepEqual(rerun.tasks[0].inputData, { n: 66 });
      const done = await runToCompletion(id, 66);
      assert.deepEqual(done.output, { first: "first-66", second: "second-66" });

      const secondId = taskByRef(done, "second").taskId;
      await ctx.executor.reRun(id, { reRunFromTaskId: secondId });
      const fromTask = await ctx.executor.getWorkflow(id, true);
      assert.equal(fromTask.status, "RUNNING");
      assert.equal(taskByRef(fromTask, "first").status, "COMPLETED", "tasks before the rerun task are kept");
      assert.equal(taskByRef(fromTask, "second").status, "SCHEDULED");
      await finishTask(id, "second", { v: "second-again" });
      const again = await waitForWorkflow(ctx.executor, id, "COMPLETED");
      assert.deepEqual(again.output, { first: "first-66", second: "second-again" });
    });

    test("skip a task that has not been reached yet", async () => {
      const id = await ctx.executor.startWorkflowByName(WF, { n: 7 }, 1);
      await ctx.executor.skipTasksFromWorkflow(id, "second", { taskOutput: { v: "skipped" } });
      const afterSkip = await ctx.executor.getWorkflow(id, true);
      assert.equal(taskByRef(afterSkip, "second")?.status, "SKIPPED");

      await finishTask(id, "first", { v: "first-7" });
      const done = await waitForWorkflow(ctx.executor, id, "COMPLETED");
      const skipped = done.tasks.filter((t) => t.referenceTaskName === "second");
      assert.deepEqual(skipped.map((t) => t.status), ["SKIPPED"], "the skipped task is never scheduled");
      assert.deepEqual(skipped[0].outputData, { v: "skipped" });
      assert.deepEqual(done.output, { first: "first-7", second: "skipped" });

      // Skipping in a workflow that is not running is an error.
      await assert.rejects(ctx.executor.skipTasksFromWorkflow(id, "second", {}), /Failed to skip task/);
    });

    test("delete a workflow", async () => {
      const id = await ctx.executor.startWorkflowByName(WF, { n: 8 }, 1);
      await ctx.executor.terminate(id, "to be deleted");
      await ctx.executor.deleteWorkflow(id, true);
      await assert.rejects(ctx.executor.getWorkflow(id, false), /Failed to get workflow/);
    });
  });

  describe("search", () => {
    test("search by workflow type and correlation id", async () => {
      const corr = unique("corr_search");
      const ids = [
        await ctx.executor.startWorkflowByName(WF, { n: 9 }, 1, corr),
        await ctx.executor.startWorkflowByName(WF, { n: 10 }, 1, corr),
      ];
      await ctx.executor.terminate(ids[1], "done searching");
      const query = `workflowType = '${WF}' AND correlationId = '${corr}'`;
      const found = await eventually(
        async () => {
          const res = await ctx.executor.search(0, 10, query, "*");
          return res.totalHits === 2 ? res : undefined;
        },
        { what: `search '${query}' to find 2 workflows` },
      );
      assert.deepEqual(found.results.map((r) => r.workflowId).sort(), [...ids].sort());
      const byId = Object.fromEntries(found.results.map((r) => [r.workflowId, r]));
      assert.equal(byId[ids[0]].status, "RUNNING");
      assert.equal(byId[ids[1]].status, "TERMINATED");
      for (const summary of found.results) {
        assert.equal(summary.workflowType, WF);
        assert.equal(summary.version, 1);
        assert.equal(summary.correlationId, corr);
        assert.equal(typeof summary.startTime, "string", "WorkflowSummary times are strings");
      }

      const running = await ctx.executor.search(0, 10, `${query} AND status IN (RUNNING)`, "*");
      assert.deepEqual(running.results.map((r) => r.workflowId), [ids[0]]);

      const paged = await ctx.executor.search(1, 1, query, "*", "startTime:ASC");
      assert.equal(paged.totalHits, 2);
      assert.deepEqual(paged.results.map((r) => r.workflowId), [ids[1]], "page 2 of size 1, oldest first");
      await ctx.executor.terminate(ids[0], "done searching");
    });
  });

  describe("synchronous execution", () => {
    before(async () => {
      await ctx.executor.registerWorkflow(true, {
        ...workflow(EXEC_WF, [setVariableTask("vars", { doubled: "${workflow.input.x}" })]),
        inputParameters: ["x"],
        outputParameters: { x: "${workflow.input.x}", doubled: "${workflow.variables.doubled}" },
      });
    });

    test("executeWorkflow waits for the workflow and answers the run", async () => {
      const requestId = randomUUID();
      const run = await ctx.executor.executeWorkflow(
        { name: EXEC_WF, version: 1, input: { x: 5 }, correlationId: "corr-exec" },
        EXEC_WF,
        1,
        requestId,
      );
      assert.equal(run.status, "COMPLETED");
      assert.match(run.workflowId, /^[0-9a-f-]{36}$/i);
      assert.deepEqual(run.output, { x: 5, doubled: 5 });
      assert.equal(run.correlationId, "corr-exec");
      const wf = await ctx.executor.getWorkflow(run.workflowId, true);
      assert.equal(wf.status, "COMPLETED");
    });

    test("ConductorWorkflow.execute() after register()", async () => {
      const wf = new ConductorWorkflow(ctx.executor, unique("js_ops_cw_exec"))
        .add(setVariableTask("vars", { seen: "${workflow.input.seen}" }))
        .outputParameters({ seen: "${workflow.variables.seen}" });
      await wf.register(true);
      const run = await wf.execute({ seen: "yes" });
      assert.equal(run.status, "COMPLETED");
      assert.deepEqual(run.output, { seen: "yes" });
    });

    test("executeWorkflow returns a still-running workflow when the wait ends first", async () => {
      const started = Date.now();
      const run = await ctx.executor.executeWorkflow(
        { name: WF, version: 1, input: { n: 11 } },
        WF,
        1,
        randomUUID(),
        "",
        1,
        "SYNCHRONOUS",
        "TARGET_WORKFLOW",
      );
      assert.equal(run.status, "RUNNING");
      assert.ok(Date.now() - started < 10_000, "waitForSeconds=1 is honoured");
      const id = run.workflowId ?? run.targetWorkflowId;
      assert.ok(id);
      await ctx.executor.terminate(id, "cleanup");
    });
  });
});
