#!/usr/bin/env node
// The Restate side of S8 (docs/benchmarks.md), one round: starts a Restate server
// (the npm package's prebuilt binary) with its data under --data-dir, starts the Node
// service of restate-service.mjs and registers it, then
//   1. latency: --warmup workflows, then --latency workflows one at a time on the
//      otherwise idle server, each timed from the call to its result;
//   2. throughput: --in-flight callers each calling the workflow again as soon as its
//      call returns, --settle seconds, then --seconds measured;
// stops both processes and removes the data. Workflows are started and awaited through
// the ingress (`POST /s8_flow/{key}/run`, which answers once the workflow has finished).
// The CPU time of the server process and of the service process (from /proc) over the
// measured stretch is divided by the workflows completed in it; this process (the
// load) is reported apart.
//
// Prints one JSON line on stdout (what crates/server/benches/server/peers.rs reads)
// and a summary on stderr.
//
// Usage: node benches/peers/run.mjs [--data-dir=DIR] [--seconds=6] [--settle=1]
//          [--in-flight=400] [--warmup=100] [--latency=200]
//          [--partitions=N]   (Restate's default, 24, unless given)

import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { createRequire } from "node:module";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function options(argv) {
  const values = {
    "data-dir": null,
    seconds: "6",
    settle: "1",
    "in-flight": "400",
    warmup: "100",
    latency: "200",
    partitions: "",
  };
  for (const arg of argv) {
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!match || !(match[1] in values)) {
      throw new Error(`unknown argument ${arg}`);
    }
    values[match[1]] = match[2];
  }
  return {
    dataDir: values["data-dir"],
    seconds: Number(values.seconds),
    settle: Number(values.settle),
    inFlight: Number(values["in-flight"]),
    warmup: Number(values.warmup),
    latency: Number(values.latency),
    partitions: values.partitions,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port on 127.0.0.1 that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

/** One HTTP request; resolves to { status, body }, rejects after `timeoutMs`. */
function request(method, url, body, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

const ticks = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** CPU seconds (user + system, all threads) process `pid` has used so far. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

/** The restate-server binary of the platform package npm installed. */
function serverBinary() {
  const name = `@restatedev/restate-server-${os.platform()}-${os.arch()}`;
  try {
    return require.resolve(`${name}/bin/restate-server`);
  } catch {
    throw new Error(
      `no prebuilt Restate server for ${os.platform()}-${os.arch()} (${name} is not installed; run \`npm ci\` in ${here})`,
    );
  }
}

/** The settings that decide when Restate acknowledges a write, from its effective config. */
function durabilitySettings(binary, args) {
  const dump = execFileSync(binary, [...args, "--dump-config"], { encoding: "utf8" });
  const wanted = {
    "": ["default-replication", "default-num-partitions"],
    bifrost: ["default-provider"],
    "bifrost.local": ["rocksdb-disable-wal", "rocksdb-disable-wal-fsync"],
    "log-server": ["rocksdb-disable-wal-fsync"],
  };
  const found = [];
  let section = "";
  for (const line of dump.split("\n")) {
    const header = /^\[(.+)\]$/.exec(line.trim());
    if (header) {
      section = header[1];
      continue;
    }
    const kv = /^([a-z0-9-]+) = (.*)$/.exec(line.trim());
    if (kv && wanted[section]?.includes(kv[1])) {
      found.push(`${section ? `${section}.` : ""}${kv[1]}=${kv[2].replaceAll('"', "")}`);
    }
  }
  return found.join(", ");
}

/** Polls `url` until it answers 200, for up to `seconds`. */
async function waitFor(url, seconds, what) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      if ((await request("GET", url)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${seconds} s (${url})`);
    await sleep(50);
  }
}

/** Waits for `child` to exit, killing it after `seconds`. */
async function stop(child, seconds) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), seconds * 1000);
  await exited;
  clearTimeout(timer);
}

async function main() {
  const opts = options(process.argv.slice(2));
  const binary = serverBinary();
  const version = execFileSync(binary, ["--version"], { encoding: "utf8" }).trim();
  const parent = opts.dataDir ?? os.tmpdir();
  fs.mkdirSync(parent, { recursive: true });
  const dir = fs.mkdtempSync(path.join(parent, "restate-"));
  const children = [];
  const cleanup = async () => {
    for (const child of children.reverse()) await stop(child, 20);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => cleanup().then(() => process.exit(130)));
  }
  try {
    const [ingressPort, adminPort, fabricPort] = [await freePort(), await freePort(), await freePort()];
    fs.writeFileSync(
      path.join(dir, "restate.toml"),
      [
        "disable-telemetry = true",
        "[ingress]",
        `bind-port = ${ingressPort}`,
        "[admin]",
        `bind-port = ${adminPort}`,
        "disable-web-ui = true",
        "",
      ].join("\n"),
    );
    // Restate's defaults otherwise, as its docs run it (development profile).
    const args = [
      "--config-file", path.join(dir, "restate.toml"),
      "--base-dir", path.join(dir, "data"),
      "--node-name", "s8",
      "--cluster-name", "s8",
      "--bind-ip", "127.0.0.1",
      "--bind-port", String(fabricPort),
      "--listen-mode", "tcp",
      "--log-filter", "warn",
      "--no-logo",
      ...(opts.partitions ? ["--default-num-partitions", opts.partitions] : []),
    ];
    const settings = durabilitySettings(binary, args);
    const log = fs.openSync(path.join(dir, "restate.log"), "a");
    const server = spawn(binary, args, { stdio: ["ignore", log, log] });
    children.push(server);
    const admin = `http://127.0.0.1:${adminPort}`;
    const ingress = `http://127.0.0.1:${ingressPort}`;
    await waitFor(`${admin}/health`, 60, "the Restate admin API");
    await waitFor(`${ingress}/restate/health`, 60, "the Restate ingress");

    const service = spawn(process.execPath, [path.join(here, "restate-service.mjs")], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, RESTATE_LOGGING: "WARN" },
    });
    children.push(service);
    const servicePort = await new Promise((resolve, reject) => {
      let seen = "";
      service.stdout.on("data", (chunk) => {
        seen += chunk;
        const match = /listening (\d+)/.exec(seen);
        if (match) resolve(Number(match[1]));
      });
      service.once("exit", (code) => reject(new Error(`the service exited (${code})`)));
    });
    const registered = await request("POST", `${admin}/deployments`, {
      uri: `http://127.0.0.1:${servicePort}`,
    });
    if (registered.status >= 300) {
      throw new Error(`registering the service failed: ${registered.status} ${registered.body}`);
    }

    let next = 0;
    const call = async () => {
      const n = next++;
      return (await request("POST", `${ingress}/s8_flow/wf-${n}/run`, { n })).status;
    };
    // The ingress learns the new deployment asynchronously.
    const deadline = Date.now() + 30_000;
    while ((await call()) !== 200) {
      if (Date.now() > deadline) throw new Error("the ingress never ran s8_flow");
      await sleep(50);
    }

    // 1. Latency, one workflow at a time.
    for (let i = 0; i < opts.warmup; i++) {
      if ((await call()) !== 200) throw new Error("a warm-up workflow failed");
    }
    const latencies = [];
    for (let i = 0; i < opts.latency; i++) {
      const started = performance.now();
      const status = await call();
      latencies.push(performance.now() - started);
      if (status !== 200) throw new Error(`a workflow failed: ${status}`);
    }

    // 2. Throughput, --in-flight workflows kept in flight.
    let running = true;
    let measuring = false;
    let completed = 0;
    let failed = 0;
    const callers = Array.from({ length: opts.inFlight }, async () => {
      while (running) {
        const status = await call();
        if (status !== 200) failed++;
        else if (measuring) completed++;
      }
    });
    await sleep(opts.settle * 1000);
    const before = [cpuSeconds(server.pid), cpuSeconds(service.pid)];
    const loadBefore = process.cpuUsage();
    const started = performance.now();
    measuring = true;
    await sleep(opts.seconds * 1000);
    measuring = false;
    const elapsed = (performance.now() - started) / 1000;
    const after = [cpuSeconds(server.pid), cpuSeconds(service.pid)];
    const load = process.cpuUsage(loadBefore);
    running = false;
    await Promise.all(callers);
    if (failed > 0) throw new Error(`${failed} workflows failed under load`);

    const perWorkflow = (i) => ((after[i] - before[i]) * 1e6) / Math.max(completed, 1);
    const result = {
      side: "restate",
      version,
      settings,
      workflows_per_second: completed / elapsed,
      server_cpu_us_per_workflow: perWorkflow(0),
      service_cpu_us_per_workflow: perWorkflow(1),
      load_cpu_us_per_workflow: (load.user + load.system) / Math.max(completed, 1),
      latencies_ms: latencies,
    };
    const sorted = [...latencies].sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
    console.error(
      `restate (${version}): ${result.workflows_per_second.toFixed(0)} wf/s, cpu per workflow ` +
        `${result.server_cpu_us_per_workflow.toFixed(0)} us server + ` +
        `${result.service_cpu_us_per_workflow.toFixed(0)} us service ` +
        `(load ${result.load_cpu_us_per_workflow.toFixed(0)} us); latency p50 ` +
        `${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms (${settings})`,
    );
    console.log(JSON.stringify(result));
  } finally {
    await cleanup();
    agent.destroy();
  }
}

main().catch((err) => {
  console.error(`run.mjs: ${err.message}`);
  console.log(JSON.stringify({ side: "restate", error: err.message }));
  process.exit(1);
});
