// Schedules through the SDK's SchedulerClient, as its own integration test walks
// them: created paused with a `0/5` cron, resumed, runs found by search, paused,
// deleted, and a preview of a cron expression.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SchedulerClient, inlineTask, workflow } from "@io-orkes/conductor-javascript";

import { eventually, unique, usePodium } from "../lib/fixture.mjs";

describe("schedules", () => {
  const ctx = usePodium();

  test("a schedule is saved paused, resumed, runs, is paused and deleted", async () => {
    const scheduler = new SchedulerClient(ctx.client);
    const wfName = unique("js_sched_wf");
    const hello = inlineTask("hello", "'hello ' + $.who");
    hello.inputParameters.who = "${workflow.input.who}";
    await ctx.metadata.registerWorkflowDef(workflow(wfName, [hello]), true);
    const name = unique("js_sched");
    await scheduler.saveSchedule({
      name,
      cronExpression: "0/1 * * ? * *",
      paused: true,
      startWorkflowRequest: { name: wfName, version: 1, input: { who: "js" } },
    });
    assert.equal((await scheduler.getSchedule(name)).paused, true);
    await scheduler.resumeSchedule(name);
    assert.ok(!(await scheduler.getSchedule(name)).paused);
    const found = await eventually(
      async () => {
        const page = await scheduler.search(0, 15, "startTime:DESC", "", `scheduleName IN (${name})`);
        return page.results?.length ? page : undefined;
      },
      { what: "a recorded run" },
    );
    assert.ok(found.totalHits > 0);
    const run = found.results[0];
    assert.equal(run.state, "EXECUTED");
    const started = await ctx.executor.getWorkflow(run.workflowId, false);
    assert.equal(started.input._startedByScheduler, name);
    await scheduler.pauseSchedule(name, "done");
    const paused = await scheduler.getSchedule(name);
    assert.equal(paused.paused, true);
    assert.equal(paused.pausedReason, "done");
    const listed = await scheduler.getAllSchedules(wfName);
    assert.deepEqual(listed.map((s) => s.name), [name]);
    await scheduler.deleteSchedule(name);
    assert.deepEqual(await scheduler.getAllSchedules(wfName), []);
    await assert.rejects(scheduler.getSchedule(name));
    const times = await scheduler.getNextFewSchedules("0 0 * ? * *");
    assert.ok(times.length > 0 && times.every((t) => Number.isInteger(t)));
  });
});
