// Dynamic tasks built with the SDK's builders: dynamicTask runs the task its input
// names, and dynamicForkTask with its join starts the branches it lists, each with
// the input the workflow gives it, and joins their outputs.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { dynamicForkTask, dynamicTask, inlineTask, joinTask, workflow } from "@io-orkes/conductor-javascript";

import { taskByRef, unique, usePodium, waitForWorkflow } from "../lib/fixture.mjs";

describe("dynamic tasks and forks", () => {
  const ctx = usePodium();

  test("a dynamic task and a dynamic fork run what their input chooses", async () => {
    const name = unique("js_dynamic_wf");
    const pick = dynamicTask("pick", "${workflow.input.kind}");
    pick.inputParameters.queryExpression = ".n * 10";
    pick.inputParameters.n = 4;
    const fan = dynamicForkTask(
      "fan",
      [inlineTask("double", "$.n * 2"), inlineTask("triple", "$.n * 3")],
      "${workflow.input.inputs}",
    );
    const def = {
      ...workflow(name, [pick, fan, joinTask("fan_join")]),
      outputParameters: { picked: "${pick.output.result}", joined: "${fan_join.output}" },
    };
    await ctx.metadata.registerWorkflowDef(def, true);

    const id = await ctx.executor.startWorkflowByName(name, {
      kind: "JSON_JQ_TRANSFORM",
      inputs: { double: { n: 21 }, triple: { n: 5 } },
    });
    const done = await waitForWorkflow(ctx.executor, id, "COMPLETED");
    assert.equal(done.output.picked, 40);
    assert.equal(done.output.joined.double.result, 42);
    assert.equal(done.output.joined.triple.result, 15);
    assert.equal(taskByRef(done, "pick").taskType, "JSON_JQ_TRANSFORM");
    assert.deepEqual(taskByRef(done, "fan").inputData.forkedTasks, ["double", "triple"]);
  });

  test("a dynamic fork whose input is not a map fails with Conductor's reason", async () => {
    const name = unique("js_dynamic_bad_wf");
    const fan = dynamicForkTask("fan", [inlineTask("double", "$.n * 2")], "${workflow.input.inputs}");
    await ctx.metadata.registerWorkflowDef(workflow(name, [fan, joinTask("fan_join")]), true);
    const id = await ctx.executor.startWorkflowByName(name, { inputs: "nope" });
    const failed = await waitForWorkflow(ctx.executor, id, "FAILED");
    assert.match(taskByRef(failed, "fan").reasonForIncompletion, /is not a map/);
  });
});
