// startWorkflowTask built with the SDK starts another workflow, which runs on its
// own, and completes with its id at once.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { inlineTask, startWorkflowTask, workflow } from "@io-orkes/conductor-javascript";

import { taskByRef, unique, usePodium, waitForWorkflow } from "../lib/fixture.mjs";

describe("start workflow", () => {
  const ctx = usePodium();

  test("a start workflow task starts a workflow and does not wait for it", async () => {
    const child = unique("js_started_wf");
    const square = inlineTask("sq", "$.n * $.n");
    square.inputParameters.n = "${workflow.input.n}";
    await ctx.metadata.registerWorkflowDef(
      { ...workflow(child, [square]), outputParameters: { square: "${sq.output.result}" } },
      true,
    );
    const launcher = unique("js_launcher_wf");
    await ctx.metadata.registerWorkflowDef(
      {
        ...workflow(launcher, [startWorkflowTask("start", child, { n: 6 }, 1, "corr-js")]),
        outputParameters: { started: "${start.output.workflowId}" },
      },
      true,
    );
    const id = await ctx.executor.startWorkflowByName(launcher, {});
    const done = await waitForWorkflow(ctx.executor, id, "COMPLETED");
    assert.equal(taskByRef(done, "start").taskType, "START_WORKFLOW");
    const run = await waitForWorkflow(ctx.executor, done.output.started, "COMPLETED");
    assert.deepEqual(run.output, { square: 36 });
    assert.equal(run.correlationId, "corr-js");
    assert.equal(run.parentWorkflowId, undefined);
  });
});
