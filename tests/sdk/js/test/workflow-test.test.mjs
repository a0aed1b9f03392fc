// testWorkflow through the SDK's WorkflowExecutor: a workflow run with its worker
// tasks' outputs mocked, by name (the latest version) or with its definition.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { simpleTask, workflow } from "@io-orkes/conductor-javascript";

import { unique, usePodium } from "../lib/fixture.mjs";

describe("workflow tests", () => {
  const ctx = usePodium();

  test("testWorkflow runs a workflow with mocked worker tasks", async () => {
    const name = unique("js_test_wf");
    const def = {
      ...workflow(name, [simpleTask("simple_ref", "le_simple_task", {})]),
      outputParameters: { message: "${simple_ref.output.message}" },
    };
    await ctx.metadata.registerWorkflowDef(def, true);
    const run = await ctx.executor.testWorkflow({
      name,
      taskRefToMockOutput: { simple_ref: [{ status: "COMPLETED", output: { message: "Mocked message" } }] },
    });
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output, { message: "Mocked message" });

    const inline = await ctx.executor.testWorkflow({
      name: unique("js_test_inline"),
      version: 1,
      workflowDef: { ...def, name: unique("js_test_inline") },
      taskRefToMockOutput: { simple_ref: [{ status: "COMPLETED", output: { message: "inline" } }] },
    });
    assert.equal(inline.status, "COMPLETED");
    assert.deepEqual(inline.output, { message: "inline" });
  });
});
