// Signals and variables through the SDK's WorkflowExecutor: signal (with return
// strategies) and signalAsync complete a workflow's waiting tasks, down into a
// sub-workflow's YIELD tasks; updateVariables sets variables of a running workflow.
// The SDK sends a signal's output as {"taskOutput": {...}}; the body is merged into
// the task's output as sent.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { inlineTask, subWorkflowTask, workflow } from "@io-orkes/conductor-javascript";

import { unique, usePodium, waitForWorkflow } from "../lib/fixture.mjs";

const yieldTask = (ref) => ({ name: ref, taskReferenceName: ref, type: "YIELD", inputParameters: {} });

describe("signals and variables", () => {
  const ctx = usePodium();

  test("signals complete the waiting tasks and variables reach the run", async () => {
    const inner = unique("js_yield_wf");
    await ctx.metadata.registerWorkflowDef(
      { ...workflow(inner, [yieldTask("first"), yieldTask("second")]), outputParameters: { second: "${second.output.taskOutput.ok}" } },
      true,
    );
    const outer = unique("js_signal_wf");
    const hold = { name: "hold", taskReferenceName: "hold", type: "WAIT", inputParameters: {} };
    const done = inlineTask("done", "$.v");
    done.inputParameters.v = "${workflow.variables.approved}";
    await ctx.metadata.registerWorkflowDef(
      {
        ...workflow(outer, [hold, subWorkflowTask("inner", inner, 1), done]),
        outputParameters: { approved: "${done.output.result}", inner: "${inner.output.second}" },
      },
      true,
    );
    const id = await ctx.executor.startWorkflowByName(outer, {});

    const run = await ctx.executor.signal(id, "COMPLETED", { note: "go" }, "BLOCKING_TASK");
    assert.equal(run.responseType, "BLOCKING_TASK");
    assert.equal(run.referenceTaskName, "first");
    assert.equal(run.targetWorkflowId, id);
    assert.notEqual(run.workflowId, id);

    const updated = await ctx.executor.updateVariables(id, { approved: "yes" });
    assert.equal(updated.variables.approved, "yes");

    await ctx.executor.signalAsync(id, "COMPLETED", { step: 1 });
    const last = await ctx.executor.signal(id, "COMPLETED", { ok: true });
    assert.equal(last.responseType, "TARGET_WORKFLOW");
    const finished = await waitForWorkflow(ctx.executor, id, "COMPLETED");
    assert.deepEqual(finished.output, { approved: "yes", inner: true });
  });

  test("updateState sets variables and completes a task by reference", async () => {
    const name = unique("js_state_wf");
    const hold = { name: "hold", taskReferenceName: "wait_ref", type: "WAIT", inputParameters: {} };
    await ctx.metadata.registerWorkflowDef(
      { ...workflow(name, [hold]), outputParameters: { from: "${workflow.variables.fromState}" } },
      true,
    );
    const id = await ctx.executor.startWorkflowByName(name, {});
    const run = await ctx.executor.updateState(
      id,
      { taskReferenceName: "wait_ref", taskResult: { status: "COMPLETED", outputData: { stateUpdate: true } }, variables: { fromState: "updated" } },
      "request-1",
    );
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.variables.fromState, "updated");
    assert.deepEqual(run.output, { from: "updated" });
  });
});
