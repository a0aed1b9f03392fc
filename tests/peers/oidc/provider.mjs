// Starts the test OpenID Connect provider (server.mjs) on a free loopback port for a
// Node.js test suite, and stops it (also when the suite's process exits).

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
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

/** Starts the provider; resolves to `{ issuer, stop }` once it answers. */
export async function startProvider() {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const child = spawn("node", ["server.mjs"], {
    cwd: here,
    env: { ...process.env, OIDC_PORT: String(port) },
    stdio: "ignore",
  });
  const stop = () => {
    child.kill("SIGKILL");
  };
  process.on("exit", stop);
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(`${issuer}/.well-known/openid-configuration`);
      if (res.ok) return { issuer, stop };
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  stop();
  throw new Error(`the OIDC provider did not start at ${issuer}`);
}
