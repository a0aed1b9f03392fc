// 5 workflows × 5 sequential SIMPLE tasks, executed end to end by TaskManager workers:
// a smaller version of the SDK's own E2EFiveTaskWorkflow integration test. It proves the
// batch-poll / update-v2 loop, including the SDK's task chaining from update-v2 answers.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TaskManager, TaskRunner, simpleTask } from "@io-orkes/conductor-javascript";

import { quietLogger, unique, usePodium, waitForWorkflow } from "../lib/fixture.mjs";

const TASK_COUNT = 5;
const WORKFLOW_COUNT = 5;

describe("E2E: 5 workflows × 5 tasks with TaskManager", () => {
  const ctx = usePodium();

  test("every workflow completes with every task's output, through update-v2", { timeout: 60_000 }, async () => {
    const names = Array.from({ length: TASK_COUNT }, (_, i) => unique(`js_e2e_task_${i + 1}`));
    const workflowName = unique("js_e2e_wf");
    const executionCounts = Object.fromEntries(names.map((n) => [n, 0]));
    const seen = new Set();
    const duplicates = [];
    const updateFailures = [];
    const logger = quietLogger();

    // Measure the server's answer, not what an earlier test in this process detected.
    TaskRunner.updateV2Available = null;

    const manager = new TaskManager(
      ctx.client,
      names.map((taskDefName, i) => ({
        taskDefName,
        concurrency: 5,
        pollInterval: 100,
        execute: async (task) => {
          executionCounts[taskDefName]++;
          if (seen.has(task.taskId)) duplicates.push(task.taskId);
          seen.add(task.taskId);
          return {
            status: "COMPLETED",
            outputData: {
              taskNumber: i + 1,
              message: `Processed by task_${i + 1}`,
              workflowId: task.workflowInstanceId,
              batchIndex: task.inputData?.batchIndex,
            },
          };
        },
      })),
      {
        logger,
        eventListeners: [
          { onTaskUpdateFailure: (e) => updateFailures.push(`${e.taskType}: ${e.cause?.message}`) },
        ],
      },
    );
    manager.startPolling();
    try {
      // SIMPLE tasks without registered task definitions: the server uses defaults.
      await ctx.executor.registerWorkflow(true, {
        name: workflowName,
        version: 1,
        ownerEmail: "test@example.com",
        tasks: names.map((name, i) => simpleTask(`task_${i + 1}_ref`, name, { batchIndex: "${workflow.input.batchIndex}" })),
        inputParameters: ["batchIndex"],
        outputParameters: Object.fromEntries(
          names.map((_, i) => [`task_${i + 1}_output`, `\${task_${i + 1}_ref.output}`]),
        ),
        timeoutSeconds: 120,
      });

      const ids = [];
      for (let w = 0; w < WORKFLOW_COUNT; w++) {
        ids.push(await ctx.executor.startWorkflow({ name: workflowName, version: 1, input: { batchIndex: w } }));
      }
      const results = await Promise.all(ids.map((id) => waitForWorkflow(ctx.executor, id, undefined, 45_000)));

      results.forEach((wf, w) => {
        assert.equal(wf.status, "COMPLETED", `workflow ${w}: ${wf.reasonForIncompletion}`);
        assert.equal(wf.tasks.length, TASK_COUNT);
        wf.tasks.forEach((task, t) => {
          assert.equal(task.referenceTaskName, `task_${t + 1}_ref`);
          assert.equal(task.status, "COMPLETED");
          assert.deepEqual(task.outputData, {
            taskNumber: t + 1,
            message: `Processed by task_${t + 1}`,
            workflowId: wf.workflowId,
            batchIndex: w,
          });
          assert.equal(task.pollCount, 1, "each task was handed out once");
          assert.equal(task.retryCount, 0);
        });
        for (let t = 0; t < TASK_COUNT; t++) {
          assert.deepEqual(wf.output[`task_${t + 1}_output`], wf.tasks[t].outputData);
        }
      });

      for (const name of names) {
        assert.equal(executionCounts[name], WORKFLOW_COUNT, `${name} ran once per workflow`);
      }
      assert.deepEqual(duplicates, [], "no task was executed twice");
      assert.deepEqual(updateFailures, []);
      assert.deepEqual(logger.errors, []);
      // The runner only records `true` after an update-v2 call succeeded; a 404/405 would
      // have made it fall back to POST /api/tasks and record `false`.
      assert.equal(TaskRunner.updateV2Available, true, "the SDK used /api/tasks/update-v2");
    } finally {
      await manager.stopPolling();
    }
  });
});
