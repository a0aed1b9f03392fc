// A workflow built with the SDK's builders (simple, HTTP, SET_VARIABLE, fork/join, WAIT,
// SUB_WORKFLOW, SWITCH, TERMINATE), registered through the SDK and run by TaskManager
// workers with concurrency > 1. The HTTP task calls a small local HTTP server.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ConductorWorkflow,
  TaskManager,
  forkTask,
  forkTaskJoin,
  httpTask,
  joinTask,
  setVariableTask,
  simpleTask,
  subWorkflowTask,
  switchTask,
  taskDefinition,
  terminateTask,
  waitTaskDuration,
  workflow,
} from "@io-orkes/conductor-javascript";

import { startEchoServer } from "../lib/http-echo.mjs";
import {
  containsDiff,
  quietLogger,
  taskByRef,
  unique,
  usePodium,
  waitForWorkflow,
  wire,
} from "../lib/fixture.mjs";

describe("builders and TaskManager workers", () => {
  const ctx = usePodium();

  const UPPER = unique("js_upper");
  const ADD = unique("js_add");
  const CHILD = unique("js_child_wf");
  const MAIN = unique("js_main_wf");
  const FORKS = unique("js_forks_wf");

  let echo;
  let manager;
  const logger = quietLogger();
  const executions = { [UPPER]: 0, [ADD]: 0 };
  const inFlight = { [UPPER]: 0, [ADD]: 0 };
  const maxInFlight = { [UPPER]: 0, [ADD]: 0 };
  const listenerErrors = [];

  function countingWorker(taskDefName, concurrency, compute) {
    return {
      taskDefName,
      concurrency,
      execute: async (task) => {
        executions[taskDefName]++;
        inFlight[taskDefName]++;
        maxInFlight[taskDefName] = Math.max(maxInFlight[taskDefName], inFlight[taskDefName]);
        try {
          // Long enough for parallel branches to overlap.
          await new Promise((r) => setTimeout(r, 150));
          return { status: "COMPLETED", outputData: compute(task.inputData ?? {}) };
        } finally {
          inFlight[taskDefName]--;
        }
      },
    };
  }

  let childDef;
  let mainWf;
  let forksDef;

  before(async () => {
    echo = await startEchoServer();

    await ctx.metadata.registerTasks([
      taskDefinition({ name: UPPER, retryCount: 0, timeoutSeconds: 60, responseTimeoutSeconds: 20 }),
      taskDefinition({ name: ADD, retryCount: 0, timeoutSeconds: 60, responseTimeoutSeconds: 20 }),
    ]);

    childDef = {
      ...workflow(CHILD, [simpleTask("child_add_ref", ADD, { a: "${workflow.input.a}", b: "${workflow.input.b}" })]),
      inputParameters: ["a", "b"],
      outputParameters: { childSum: "${child_add_ref.output.sum}" },
      ownerEmail: "sdk@example.com",
    };
    await ctx.executor.registerWorkflow(true, childDef);

    mainWf = new ConductorWorkflow(ctx.executor, MAIN, 1, "kitchen sink built with the SDK builders")
      .ownerEmail("sdk@example.com")
      .inputParameters(["name", "kind", "b"])
      .add(setVariableTask("init_vars", { greeting: "hello ${workflow.input.name}", kind: "${workflow.input.kind}" }))
      .add(simpleTask("upper_ref", UPPER, { text: "${workflow.input.name}" }))
      .add(
        httpTask("http_ref", {
          uri: `${echo.url}/echo?name=\${workflow.input.name}`,
          method: "POST",
          body: { upper: "${upper_ref.output.upper}", n: 42 },
          contentType: "application/json",
          accept: "application/json",
        }),
      )
      .fork([
        [simpleTask("add_ref", ADD, { a: 1, b: "${workflow.input.b}" }), waitTaskDuration("wait_ref", "1s")],
        [{ ...subWorkflowTask("sub_ref", CHILD, 1), inputParameters: { a: 10, b: 20 } }],
        [simpleTask("upper2_ref", UPPER, { text: "branch" })],
      ])
      .add(
        switchTask(
          "route_ref",
          "${workflow.input.kind}",
          {
            A: [simpleTask("case_a_ref", UPPER, { text: "case a" })],
            B: [terminateTask("term_ref", "FAILED", "kind B is refused")],
          },
          [setVariableTask("default_vars", { route: "default" })],
        ),
      )
      .add(setVariableTask("final_vars", { done: true }))
      .outputParameters({
        upper: "${upper_ref.output.upper}",
        greeting: "${workflow.variables.greeting}",
        httpStatus: "${http_ref.output.response.statusCode}",
        httpReceived: "${http_ref.output.response.body.received}",
        httpQueryName: "${http_ref.output.response.body.query.name}",
        sum: "${add_ref.output.sum}",
        childSum: "${sub_ref.output.childSum}",
        branch: "${upper2_ref.output.upper}",
        caseA: "${case_a_ref.output.upper}",
        route: "${workflow.variables.route}",
        done: "${workflow.variables.done}",
      });
    await mainWf.register(true);

    forksDef = {
      ...workflow(FORKS, [
        // forkTask puts all its tasks in ONE branch; joinTask names what to wait for.
        forkTask("one_branch_fork", [simpleTask("fk_add_ref", ADD, { a: 1, b: 2 })]),
        joinTask("one_branch_join", ["fk_add_ref"]),
        // forkTaskJoin's JOIN has an empty joinOn (an SDK quirk): it waits for nothing.
        ...forkTaskJoin("fj", [simpleTask("fj_upper_ref", UPPER, { text: "fj" })]),
        simpleTask("after_ref", ADD, { a: "${fk_add_ref.output.sum}", b: 10 }),
      ]),
      outputParameters: { forked: "${fk_add_ref.output.sum}", after: "${after_ref.output.sum}" },
    };
    await ctx.executor.registerWorkflow(true, forksDef);

    manager = new TaskManager(
      ctx.client,
      [
        countingWorker(UPPER, 3, (input) => ({ upper: String(input.text).toUpperCase() })),
        countingWorker(ADD, 2, (input) => ({ sum: Number(input.a) + Number(input.b) })),
      ],
      {
        logger,
        options: { pollInterval: 100, concurrency: 2 },
        eventListeners: [
          {
            onPollFailure: (e) => listenerErrors.push(`poll ${e.taskType}: ${e.cause?.message}`),
            onTaskUpdateFailure: (e) => listenerErrors.push(`update ${e.taskType}: ${e.cause?.message}`),
            onTaskExecutionFailure: (e) => listenerErrors.push(`execute ${e.taskType}: ${e.cause?.message}`),
          },
        ],
      },
    );
    manager.startPolling();
  });

  after(async () => {
    await manager?.stopPolling();
    await echo?.close();
  });

  describe("definitions built with the SDK builders", () => {
    test("the registered workflow definitions round-trip", async () => {
      const main = await ctx.metadata.getWorkflowDef(MAIN, 1);
      assert.deepEqual(containsDiff(main, wire(mainWf.toWorkflowDef())), []);
      const child = await ctx.metadata.getWorkflowDef(CHILD, 1);
      assert.deepEqual(containsDiff(child, wire(childDef)), []);
      const forks = await ctx.metadata.getWorkflowDef(FORKS, 1);
      assert.deepEqual(containsDiff(forks, wire(forksDef)), []);
    });
  });

  describe("running the kitchen-sink workflow with TaskManager workers", () => {
    let runs;
    before(async () => {
      // Three runs in parallel, one per switch branch.
      const ids = await Promise.all([
        mainWf.startWorkflow({ name: "podium", kind: "A", b: 41 }, "corr-A"),
        mainWf.startWorkflow({ name: "bee", kind: "B", b: 1 }, "corr-B"),
        mainWf.startWorkflow({ name: "zed", kind: "Z", b: 2 }, "corr-Z"),
      ]);
      const [a, b, z] = await Promise.all(ids.map((id) => waitForWorkflow(ctx.executor, id, undefined, 45_000)));
      runs = { a, b, z };
    });

    test("case A completes with every output", () => {
      const wf = runs.a;
      assert.equal(wf.status, "COMPLETED", wf.reasonForIncompletion);
      assert.equal(wf.correlationId, "corr-A");
      assert.deepEqual(
        { ...wf.output, route: wf.output.route ?? null },
        {
          upper: "PODIUM",
          greeting: "hello podium",
          httpStatus: 200,
          httpReceived: { upper: "PODIUM", n: 42 },
          httpQueryName: "podium",
          sum: 42,
          childSum: 30,
          branch: "BRANCH",
          caseA: "CASE A",
          route: null,
          done: true,
        },
      );
      assert.deepEqual(
        { greeting: wf.variables.greeting, kind: wf.variables.kind, done: wf.variables.done },
        { greeting: "hello podium", kind: "A", done: true },
      );
      const unfinished = wf.tasks.filter((t) => t.status !== "COMPLETED").map((t) => `${t.referenceTaskName}:${t.status}`);
      assert.deepEqual(unfinished, [], "every task of a completed run is COMPLETED");
      for (const ref of ["init_vars", "upper_ref", "http_ref", "add_ref", "wait_ref", "sub_ref", "upper2_ref", "route_ref", "case_a_ref", "final_vars"]) {
        assert.ok(taskByRef(wf, ref), `task ${ref} ran`);
      }
      assert.equal(taskByRef(wf, "default_vars"), undefined, "the default case did not run");
      assert.equal(taskByRef(wf, "term_ref"), undefined, "case B did not run");
      assert.equal(taskByRef(wf, "http_ref").taskType, "HTTP");
      assert.equal(taskByRef(wf, "route_ref").taskType, "SWITCH");
      assert.equal(taskByRef(wf, "wait_ref").taskType, "WAIT");
    });

    test("case A: the JOIN collects the branch outputs", () => {
      const join = taskByRef(runs.a, "__join_1");
      assert.ok(join, "the join ran");
      assert.equal(join.taskType, "JOIN");
      assert.equal(join.outputData.upper2_ref?.upper, "BRANCH");
      assert.equal(join.outputData.sub_ref?.childSum, 30);
    });

    test("case A: the WAIT task waited for its duration", () => {
      const wait = taskByRef(runs.a, "wait_ref");
      assert.equal(wait.status, "COMPLETED");
      assert.ok(wait.endTime - wait.startTime >= 900, `waited ${wait.endTime - wait.startTime} ms`);
    });

    test("case A: the sub-workflow ran as a child of the run", async () => {
      const sub = taskByRef(runs.a, "sub_ref");
      assert.equal(sub.taskType, "SUB_WORKFLOW");
      const childId = sub.subWorkflowId ?? sub.outputData?.subWorkflowId;
      assert.ok(childId, "the SUB_WORKFLOW task names its child");
      const child = await ctx.executor.getWorkflow(childId, true);
      assert.equal(child.status, "COMPLETED");
      assert.equal(child.workflowName ?? child.workflowType, CHILD);
      assert.equal(child.parentWorkflowId, runs.a.workflowId);
      assert.deepEqual(child.input, { a: 10, b: 20 });
      assert.deepEqual(child.output, { childSum: 30 });
    });

    test("case A: the HTTP task made the request the definition describes", () => {
      const calls = echo.requests.filter((r) => r.query.name === "podium");
      assert.equal(calls.length, 1, "exactly one call for run A");
      assert.equal(calls[0].method, "POST");
      assert.equal(calls[0].path, "/echo");
      assert.match(calls[0].headers["content-type"] ?? "", /^application\/json/);
      assert.deepEqual(calls[0].received, { upper: "PODIUM", n: 42 });
      const http = taskByRef(runs.a, "http_ref");
      assert.equal(http.outputData.response.statusCode, 200);
    });

    test("case B ends FAILED through the TERMINATE task", () => {
      const wf = runs.b;
      assert.equal(wf.status, "FAILED");
      assert.equal(wf.reasonForIncompletion, "kind B is refused");
      const term = taskByRef(wf, "term_ref");
      assert.equal(term.taskType, "TERMINATE");
      assert.equal(term.status, "COMPLETED");
      assert.equal(taskByRef(wf, "final_vars"), undefined, "nothing runs after TERMINATE");
    });

    test("an unmatched case takes the default branch", () => {
      const wf = runs.z;
      assert.equal(wf.status, "COMPLETED", wf.reasonForIncompletion);
      assert.equal(wf.output.route, "default");
      assert.equal(wf.output.sum, 3);
      assert.equal(taskByRef(wf, "default_vars").status, "COMPLETED");
      assert.equal(taskByRef(wf, "case_a_ref"), undefined);
    });

    test("the workers ran every task once, in parallel, without errors", () => {
      // Per run: UPPER runs upper_ref and upper2_ref (+ case_a_ref for A); ADD runs add_ref and the child's task.
      assert.equal(executions[UPPER], 7);
      assert.equal(executions[ADD], 6);
      assert.ok(maxInFlight[UPPER] > 1, `UPPER ran up to ${maxInFlight[UPPER]} tasks at once`);
      assert.deepEqual(listenerErrors, []);
      assert.deepEqual(logger.errors, []);
    });
  });

  describe("fork helpers", () => {
    test("forkTask + joinTask and forkTaskJoin run to completion", async () => {
      const id = await ctx.executor.startWorkflow({ name: FORKS, version: 1, input: {} });
      const wf = await waitForWorkflow(ctx.executor, id, undefined, 30_000);
      assert.equal(wf.status, "COMPLETED", wf.reasonForIncompletion);
      assert.deepEqual(wf.output, { forked: 3, after: 13 });
      assert.equal(taskByRef(wf, "one_branch_join").status, "COMPLETED");
      assert.deepEqual(taskByRef(wf, "one_branch_join").outputData, { fk_add_ref: { sum: 3 } });
      assert.equal(taskByRef(wf, "fj_upper_ref").status, "COMPLETED");
      assert.equal(taskByRef(wf, "fj_join_ref").status, "COMPLETED");
    });
  });
});
