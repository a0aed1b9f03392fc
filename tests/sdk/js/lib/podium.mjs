// Starts a real Podium server for one test file and always stops it.
//
// The server gets a free port on 127.0.0.1 and a fresh data directory; the test file
// talks to it only through the official SDK. `startPodium()` resolves once
// `GET /health` answers `{"healthy": true}`; `stop()` sends SIGTERM and, if the process
// has not exited within the grace period, SIGKILL.
//
// The store is the embedded SQLite in the data directory, or, when
// PODIUM_SDK_DATABASE_URL names a PostgreSQL server (scripts/test starts a throwaway
// one), a new empty database on it for each server (made and dropped with psql),
// passed as PODIUM_DATABASE_URL.

import { randomBytes } from "node:crypto";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** The server binary: $PODIUM_BIN, else target/debug/podium of the repository. */
export function podiumBin() {
  return resolve(process.env.PODIUM_BIN || join(here, "..", "..", "..", "..", "target", "debug", "podium"));
}

/** A port nobody listens on right now (the kernel picks it). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs one SQL statement with psql (no ~/.psqlrc); rejects when it fails. */
function psql(url, sql) {
  return new Promise((resolvePsql, reject) => {
    execFile(
      "psql",
      ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
      { timeout: 60_000 },
      (err, _stdout, stderr) => {
        if (err?.code === "ENOENT") {
          reject(new Error("psql is not installed (PODIUM_SDK_DATABASE_URL needs it)"));
        } else if (err) {
          reject(new Error(`psql failed (${sql}): ${String(stderr).trim() || err.message}`));
        } else {
          resolvePsql();
        }
      },
    );
  });
}

let databases = 0;

/**
 * A new, empty database on the PostgreSQL server `serverUrl` names (whose own database
 * is only used to connect): its name and its URL.
 */
async function createDatabase(serverUrl) {
  databases += 1;
  const name = `podium_sdk_js_${process.pid}_${databases}`;
  await psql(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await psql(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

async function dropDatabase(serverUrl, name) {
  try {
    await psql(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } catch (err) {
    console.error(`could not drop the test database ${name}: ${err.message}`);
  }
}

/**
 * Removes the variables through which the SDK would reach another server or send
 * credentials: the JS SDK lets CONDUCTOR_* environment variables override the
 * configuration object, and worker settings come from CONDUCTOR_WORKER_* and
 * conductor.worker.* variables.
 */
export function isolateSdkEnvironment() {
  for (const key of Object.keys(process.env)) {
    if (/^conductor[._]/i.test(key)) delete process.env[key];
  }
}

const running = new Set();
process.on("exit", () => {
  // Last resort when a test file dies without running its `after` hook.
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

function tail(path, lines = 40) {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Starts the server. Options: `bin`, `startTimeoutMs` (default 30 s),
 * `stopTimeoutMs` (SIGTERM grace before SIGKILL, default 10 s), `env` (extra variables),
 * `envForPort` (a function of the chosen port giving more variables).
 */
export async function startPodium(options = {}) {
  const bin = options.bin ?? podiumBin();
  if (!existsSync(bin)) {
    throw new Error(`Podium binary not found at ${bin} (set PODIUM_BIN)`);
  }
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const root = mkdtempSync(join(tmpdir(), "podium-sdk-js-"));
  const dataDir = join(root, "data");
  const logDir = process.env.PODIUM_SDK_LOG_DIR || root;
  mkdirSync(logDir, { recursive: true });
  const label = basename(process.argv[1] ?? "suite").replace(/\W+/g, "_");
  const logPath = join(logDir, `podium-${label}-${process.pid}.log`);

  // The server refuses unknown PODIUM_* variables (scripts/test exports PODIUM_BIN), and
  // a configuration file or address from the environment could move it elsewhere: pass
  // on only the log settings, then what the test asks for.
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("PODIUM_") || key === "PODIUM_LOG_LEVEL" || key === "PODIUM_LOG_FORMAT") {
      env[key] = value;
    }
  }
  // Security is on, as by default; the first admin application gets a key made for
  // this run, which the suite's SDK client uses.
  const keyId = `js-admin-${randomBytes(6).toString("hex")}`;
  const keySecret = randomBytes(32).toString("hex");
  env.PODIUM_ADMIN_KEY_ID = keyId;
  env.PODIUM_ADMIN_KEY_SECRET = keySecret;
  // HTTP tasks may not reach loopback by default; the suite's echo server runs on
  // 127.0.0.1, so this run allows that address (Podium's own port stays refused).
  env.PODIUM_HTTP_TASK_ALLOW = "127.0.0.1";
  Object.assign(env, options.env);
  env.PODIUM_SHUTDOWN_GRACE_SECONDS ??= "5";
  // The server's HTTP tasks call the test's local HTTP server on 127.0.0.1: never via a proxy.
  for (const key of ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]) {
    delete env[key];
  }
  env.NO_PROXY = env.no_proxy = "127.0.0.1,localhost";

  let lastError;
  const pgServerUrl = process.env.PODIUM_SDK_DATABASE_URL;
  for (let attempt = 1; attempt <= 3; attempt++) {
    // PostgreSQL when the run asks for it: a database of its own for this server (the
    // data directory still holds the server's key files). Like the data directory, it
    // is new for each attempt.
    let database;
    if (pgServerUrl) {
      database = await createDatabase(pgServerUrl);
      env.PODIUM_DATABASE_URL = database.url;
    }
    const port = await freePort();
    // Settings that name the server's own address (an identity provider's way back).
    Object.assign(env, options.envForPort?.(port) ?? {});
    const logFd = openSync(logPath, "a");
    const child = spawn(bin, ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir], {
      env,
      stdio: ["ignore", logFd, logFd],
    });
    closeSync(logFd);
    running.add(child);
    const pidFile = process.env.PODIUM_SDK_PID_DIR
      ? join(process.env.PODIUM_SDK_PID_DIR, `${child.pid}.pid`)
      : undefined;
    if (pidFile) writeFileSync(pidFile, `${child.pid}\n`);

    let exited = null;
    const exitPromise = new Promise((r) => {
      child.on("exit", (code, signal) => {
        exited = { code, signal };
        running.delete(child);
        if (pidFile) rmSync(pidFile, { force: true });
        r(exited);
      });
    });
    child.on("error", (err) => {
      lastError = err;
    });

    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + startTimeoutMs;
    let healthy = false;
    while (Date.now() < deadline && !exited) {
      try {
        const res = await fetch(`${url}/health`);
        if (res.ok && (await res.json()).healthy === true) {
          healthy = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(100);
    }

    const stop = async () => {
      if (!exited) {
        child.kill("SIGTERM");
        let timer;
        const timeout = new Promise((r) => {
          timer = setTimeout(r, stopTimeoutMs, "timeout");
        });
        const outcome = await Promise.race([exitPromise, timeout]);
        clearTimeout(timer);
        if (outcome === "timeout" && !exited) {
          child.kill("SIGKILL");
          await exitPromise;
        }
      }
      if (!process.env.PODIUM_SDK_KEEP_DATA) {
        rmSync(dataDir, { recursive: true, force: true });
        if (database) {
          await dropDatabase(pgServerUrl, database.name);
          database = undefined;
        }
      }
      return exited;
    };

    if (healthy) {
      return {
        url,
        apiUrl: `${url}/api`,
        port,
        dataDir,
        logPath,
        pid: child.pid,
        keyId,
        keySecret,
        database: database?.name,
        stop,
        logTail: (n) => tail(logPath, n),
      };
    }
    const diedEarly = exited !== null;
    await stop();
    lastError = new Error(
      `Podium did not become healthy on ${url} (attempt ${attempt}, exit ${JSON.stringify(exited)}):\n${tail(logPath)}`,
    );
    // A port taken between probing and binding makes the server exit; try another.
    if (!diedEarly) break;
  }
  throw lastError;
}

/** A token of a server's first admin application (`startPodium`'s key). */
export async function adminToken(server) {
  const res = await fetch(`${server.url}/api/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ keyId: server.keyId, keySecret: server.keySecret }),
  });
  if (!res.ok) throw new Error(`admin token: ${res.status}`);
  return (await res.json()).token;
}

/** Calls a server's REST API with a token; the response. */
export function api(server, token, method, path, body) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { "x-authorization": token, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
