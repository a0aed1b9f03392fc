// Per-file fixture: one Podium server, one SDK client and the SDK's clients on it,
// plus small helpers the tests share.

import { after, before } from "node:test";
import { randomUUID } from "node:crypto";
import {
  MetadataClient,
  TaskClient,
  WorkflowExecutor,
  orkesConductorClient,
} from "@io-orkes/conductor-javascript";

import { isolateSdkEnvironment, startPodium } from "./podium.mjs";

/**
 * Registers `before`/`after` hooks in the calling suite and returns an object
 * that is filled in by `before`: `server`, `client`, `metadata`, `executor`, `tasks`.
 *
 * Call it inside the file's single top-level `describe`: Node 20 does not await
 * file-level `before` hooks one after another, so hooks there could run before the
 * server is up.
 */
export function usePodium() {
  const ctx = {};
  before(async () => {
    isolateSdkEnvironment();
    ctx.server = await startPodium();
    // The run's admin key: the SDK mints a token and sends it with every call.
    ctx.client = await orkesConductorClient({
      serverUrl: ctx.server.url,
      keyId: ctx.server.keyId,
      keySecret: ctx.server.keySecret,
    });
    ctx.metadata = new MetadataClient(ctx.client);
    ctx.executor = new WorkflowExecutor(ctx.client);
    ctx.tasks = new TaskClient(ctx.client);
  });
  after(async () => {
    ctx.client?.stopBackgroundRefresh?.();
    if (ctx.server) {
      await ctx.server.stop();
    }
  });
  return ctx;
}

/** A name no other test (or earlier run) uses. */
export function unique(prefix) {
  return `${prefix}_${randomUUID().slice(0, 8)}`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fn` until it returns a truthy value, then returns that value. Fails with the
 * last value seen (described by `describe`) when `timeoutMs` passes.
 */
export async function eventually(fn, { timeoutMs = 20_000, intervalMs = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastError;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      lastError = undefined;
      if (last) return last;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${what}` +
      (lastError ? `; last error: ${lastError.message}` : `; last value: ${JSON.stringify(last)?.slice(0, 2000)}`),
  );
}

const TERMINAL = new Set(["COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"]);

/** Waits until the workflow reaches one of `statuses` (default: any terminal status). */
export async function waitForWorkflow(executor, workflowId, statuses = [...TERMINAL], timeoutMs = 30_000) {
  const wanted = new Set(Array.isArray(statuses) ? statuses : [statuses]);
  let last;
  try {
    return await eventually(
      async () => {
        last = await executor.getWorkflow(workflowId, true);
        return wanted.has(last.status) ? last : undefined;
      },
      { timeoutMs, what: `workflow ${workflowId} to reach ${[...wanted].join("|")}` },
    );
  } catch (err) {
    const tasks = (last?.tasks ?? []).map((t) => `${t.referenceTaskName}:${t.taskType}:${t.status}`).join(", ");
    err.message += `\nlast status: ${last?.status} reason: ${last?.reasonForIncompletion} tasks: [${tasks}]`;
    throw err;
  }
}

/** The task of a workflow with this reference name (the last attempt). */
export function taskByRef(workflow, ref) {
  const matching = (workflow.tasks ?? []).filter((t) => t.referenceTaskName === ref);
  return matching[matching.length - 1];
}

/**
 * Checks that `actual` contains everything in `expected`: objects recursively (extra
 * keys in `actual` are allowed, as a server fills in defaults), arrays element by
 * element with equal length, other values strictly equal. Returns a list of
 * differences as "path: expected X, got Y".
 */
export function containsDiff(actual, expected, path = "$") {
  if (expected === null || typeof expected !== "object") {
    return Object.is(actual, expected) ? [] : [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${JSON.stringify(actual)}`];
    if (actual.length !== expected.length) {
      return [`${path}: expected ${expected.length} elements, got ${actual.length}: ${JSON.stringify(actual).slice(0, 500)}`];
    }
    return expected.flatMap((e, i) => containsDiff(actual[i], e, `${path}[${i}]`));
  }
  if (actual === null || typeof actual !== "object" || Array.isArray(actual)) {
    return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
  }
  return Object.keys(expected).flatMap((k) => containsDiff(actual[k], expected[k], `${path}.${k}`));
}

/** What the SDK puts on the wire for a value (undefined fields dropped). */
export const wire = (value) => JSON.parse(JSON.stringify(value));

/** A logger for TaskManager that keeps errors (for diagnostics) and drops the rest. */
export function quietLogger() {
  const errors = [];
  return {
    errors,
    info() {},
    debug() {},
    warn() {},
    error(...args) {
      errors.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(" "));
    },
  };
}
