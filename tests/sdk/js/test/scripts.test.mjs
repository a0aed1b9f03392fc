// Scripts and transforms built with the SDK's builders: inlineTask (JavaScript, with
// the SDK's "javascript" default and "graaljs"), switchTask with a JavaScript
// expression, jsonJqTask, and loops (newLoopTask, doWhileTask), registered and run
// through the SDK.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  doWhileTask,
  inlineTask,
  jsonJqTask,
  newLoopTask,
  switchTask,
  workflow,
} from "@io-orkes/conductor-javascript";

import { taskByRef, unique, usePodium, waitForWorkflow } from "../lib/fixture.mjs";

describe("scripts and transforms", () => {
  const ctx = usePodium();

  test("inline scripts, a JavaScript switch and a jq transform run in order", async () => {
    const name = unique("js_scripts_wf");
    const total = inlineTask("total", "(function () { return $.items.reduce((a, b) => a + b, 0); })();", "graaljs");
    total.inputParameters.items = "${workflow.input.items}";
    const big = inlineTask("big", "'big: ' + $.total");
    big.inputParameters.total = "${total.output.result}";
    const small = inlineTask("small", "'small'");
    // The builder makes a value-param switch; a JavaScript one names its script.
    const route = {
      ...switchTask("route", "unused", { big: [big] }, [small]),
      evaluatorType: "javascript",
      expression: "$.total > 10 ? 'big' : 'small'",
      inputParameters: { total: "${total.output.result}" },
    };
    const evens = jsonJqTask("evens", "[.items[] | select(. % 2 == 0)]");
    evens.inputParameters.items = "${workflow.input.items}";
    const def = {
      ...workflow(name, [total, route, evens]),
      outputParameters: {
        total: "${total.output.result}",
        label: "${big.output.result}",
        evens: "${evens.output.result}",
      },
    };
    await ctx.metadata.registerWorkflowDef(def, true);

    const id = await ctx.executor.startWorkflowByName(name, { items: [3, 4, 5, 6] });
    const done = await waitForWorkflow(ctx.executor, id, "COMPLETED");
    assert.deepEqual(done.output, { total: 18, label: "big: 18", evens: [4, 6] });
    assert.equal(taskByRef(done, "route").outputData.selectedCase, "big");
    assert.deepEqual(taskByRef(done, "evens").outputData.resultList, [[4, 6]]);
    assert.equal(taskByRef(done, "small"), undefined);
  });

  test("a counted loop and a loop on an inner output run their iterations", async () => {
    const name = unique("js_loops_wf");
    // newLoopTask's condition reads the loop's own input: `$.value`.
    const square = inlineTask("square", "$.i * $.i");
    square.inputParameters.i = "${counted.output.iteration}";
    const grow = inlineTask("grow", "($.last || 1) * 3");
    grow.inputParameters.last = "${grow.output.result}";
    const def = {
      ...workflow(name, [
        newLoopTask("counted", 3, [square]),
        doWhileTask("until", "$.grow['result'] < 20", [grow]),
      ]),
      outputParameters: {
        squares: "${counted.output}",
        grown: "${grow.output.result}",
        rounds: "${until.output.iteration}",
      },
    };
    await ctx.metadata.registerWorkflowDef(def, true);

    const id = await ctx.executor.startWorkflowByName(name, {});
    const done = await waitForWorkflow(ctx.executor, id, "COMPLETED");
    assert.equal(done.output.squares.iteration, 3);
    assert.deepEqual(
      [1, 2, 3].map((n) => done.output.squares[String(n)].square.result),
      [1, 4, 9],
    );
    // 3, 9, 27: the third round ends the loop.
    assert.equal(done.output.grown, 27);
    assert.equal(done.output.rounds, 3);
    assert.deepEqual(
      done.tasks.filter((t) => t.referenceTaskName.startsWith("square")).map((t) => t.referenceTaskName),
      ["square__1", "square__2", "square__3"],
    );
  });

  test("a script that throws fails its workflow with the script's error", async () => {
    const name = unique("js_scripts_fail_wf");
    await ctx.metadata.registerWorkflowDef(workflow(name, [inlineTask("boom", "undefinedThing.field")]), true);
    const id = await ctx.executor.startWorkflowByName(name, {});
    const failed = await waitForWorkflow(ctx.executor, id, "FAILED");
    const task = taskByRef(failed, "boom");
    assert.equal(task.status, "FAILED_WITH_TERMINAL_ERROR");
    assert.match(task.reasonForIncompletion, /^Error evaluating the script `/);
  });
});
