// MetadataClient and WorkflowExecutor.registerWorkflow: task and workflow definitions.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ConductorWorkflow,
  setVariableTask,
  simpleTask,
  taskDefinition,
  workflow,
} from "@io-orkes/conductor-javascript";

import { containsDiff, unique, usePodium, wire } from "../lib/fixture.mjs";

describe("metadata (MetadataClient)", () => {
  const ctx = usePodium();

  describe("task definitions", () => {
    test("register (taskDefinition builder), get, update, list and unregister", async () => {
      const name = unique("js_meta_task");
      const def = taskDefinition({
        name,
        description: "first",
        retryCount: 2,
        timeoutSeconds: 120,
        responseTimeoutSeconds: 30,
        retryLogic: "LINEAR_BACKOFF",
        retryDelaySeconds: 5,
        inputKeys: ["a", "b"],
        outputKeys: ["c"],
        inputTemplate: { a: 1 },
        ownerEmail: "sdk@example.com",
      });
      await ctx.metadata.registerTask(def);

      const got = await ctx.metadata.getTask(name);
      assert.deepEqual(containsDiff(got, wire(def)), [], "getTask returns what was registered");

      await ctx.metadata.updateTask({ ...def, description: "second", retryCount: 5 });
      const updated = await ctx.metadata.getTask(name);
      assert.equal(updated.description, "second");
      assert.equal(updated.retryCount, 5);
      assert.equal(updated.timeoutSeconds, 120);

      const all = await ctx.metadata.getAllTaskDefs();
      assert.ok(Array.isArray(all));
      assert.ok(all.some((d) => d.name === name), "getAllTaskDefs lists the new definition");

      await ctx.metadata.unregisterTask(name);
      await assert.rejects(ctx.metadata.getTask(name), /Failed to get task/);
    });

    test("registerTasks registers several definitions in one call", async () => {
      const a = unique("js_meta_batch_a");
      const b = unique("js_meta_batch_b");
      await ctx.metadata.registerTasks([
        taskDefinition({ name: a, retryCount: 1 }),
        taskDefinition({ name: b, retryCount: 0 }),
      ]);
      assert.equal((await ctx.metadata.getTask(a)).retryCount, 1);
      assert.equal((await ctx.metadata.getTask(b)).retryCount, 0);
    });

    test("a bare {name} definition gets Conductor's defaults", async () => {
      const name = unique("js_meta_bare");
      await ctx.metadata.registerTask({ name });
      const got = await ctx.metadata.getTask(name);
      assert.equal(got.name, name);
      assert.equal(got.retryCount, 3);
      assert.equal(got.timeoutPolicy, "TIME_OUT_WF");
      assert.equal(got.retryLogic, "FIXED");
      assert.equal(got.retryDelaySeconds, 60);
      assert.equal(got.responseTimeoutSeconds, 3600);
    });

    test("unknown task definitions are errors", async () => {
      const name = unique("js_meta_missing");
      await assert.rejects(ctx.metadata.getTask(name), (err) => {
        assert.equal(err.name, "[Conductor SDK Error]");
        assert.match(err.message, new RegExp(`^Failed to get task '${name}': .*${name}`));
        return true;
      });
      await assert.rejects(ctx.metadata.unregisterTask(name), /Failed to unregister task/);
    });
  });

  describe("workflow definitions", () => {
    test("register, overwrite, version, list and unregister", async () => {
      const name = unique("js_meta_wf");
      const v1 = {
        ...workflow(name, [
          simpleTask("first_ref", unique("js_meta_simple"), { x: "${workflow.input.x}" }),
          setVariableTask("vars_ref", { seen: "${first_ref.output.y}" }),
        ]),
        description: "v1",
        ownerEmail: "sdk@example.com",
        inputParameters: ["x"],
        outputParameters: { y: "${first_ref.output.y}" },
      };
      await ctx.metadata.registerWorkflowDef(v1, false);
      const got = await ctx.metadata.getWorkflowDef(name, 1);
      assert.deepEqual(containsDiff(got, wire(v1)), [], "getWorkflowDef returns what was registered");

      // The same name and version again without overwrite is a conflict...
      await assert.rejects(ctx.metadata.registerWorkflowDef({ ...v1, description: "dup" }, false), /Failed to register/);
      assert.equal((await ctx.metadata.getWorkflowDef(name, 1)).description, "v1");
      // ...and with overwrite it replaces the definition.
      await ctx.metadata.registerWorkflowDef({ ...v1, description: "v1 again" }, true);
      assert.equal((await ctx.metadata.getWorkflowDef(name, 1)).description, "v1 again");

      await ctx.metadata.registerWorkflowDef({ ...v1, version: 2, description: "v2" });
      const latest = await ctx.metadata.getWorkflowDef(name);
      assert.equal(latest.version, 2, "no version means the latest");
      assert.equal(latest.description, "v2");

      const all = await ctx.metadata.getAllWorkflowDefs();
      const versions = all.filter((d) => d.name === name).map((d) => d.version).sort();
      assert.deepEqual(versions, [1, 2]);

      await ctx.metadata.unregisterWorkflow(name, 2);
      assert.equal((await ctx.metadata.getWorkflowDef(name)).version, 1);
      await assert.rejects(ctx.metadata.getWorkflowDef(name, 2), /Failed to get workflow definition/);
      await assert.rejects(ctx.metadata.unregisterWorkflow(name, 2), /Failed to unregister workflow/);
    });

    test("ConductorWorkflow.register() round-trips the builder's definition", async () => {
      const name = unique("js_meta_builder");
      const wf = new ConductorWorkflow(ctx.executor, name, 3, "built with ConductorWorkflow")
        .ownerEmail("sdk@example.com")
        .timeoutPolicy("ALERT_ONLY")
        .timeoutSeconds(300)
        .inputParameters(["who"])
        .variables({ counter: 0 })
        .add(simpleTask("hello_ref", unique("js_meta_hello"), { who: "${workflow.input.who}" }))
        .fork([
          [simpleTask("left_ref", unique("js_meta_left"), {})],
          [setVariableTask("right_ref", { side: "right" })],
        ])
        .outputParameters({ greeting: "${hello_ref.output.greeting}" });
      await wf.register(true);

      const got = await ctx.metadata.getWorkflowDef(name, 3);
      assert.deepEqual(containsDiff(got, wire(wf.toWorkflowDef())), []);
    });

    test("unknown workflow definitions are errors", async () => {
      const name = unique("js_meta_nowf");
      await assert.rejects(ctx.metadata.getWorkflowDef(name, 1), (err) => {
        assert.match(err.message, new RegExp(`^Failed to get workflow definition '${name}': .*${name}`));
        return true;
      });
      await assert.rejects(ctx.metadata.unregisterWorkflow(name, 1), /Failed to unregister workflow/);
    });
  });
});
