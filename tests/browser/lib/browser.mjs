// What the browser tests share: Debian's Chromium through playwright-core, the test
// OpenID Connect provider (tests/peers/oidc) on a free port, and screenshots.

import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

import { freePort } from "../../sdk/js/lib/podium.mjs";

const here = dirname(fileURLToPath(import.meta.url));

/** Chromium: $PODIUM_CHROMIUM, else Debian's. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.PODIUM_CHROMIUM || "/usr/bin/chromium",
    // The tests run as root in CI, where Chromium's sandbox cannot start.
    args: ["--no-sandbox"],
  });
}

/** Where screenshots go: $PODIUM_SCREENSHOT_DIR, else tests/browser/screenshots. */
export function screenshotPath(name) {
  const dir = resolve(process.env.PODIUM_SCREENSHOT_DIR || join(here, "..", "screenshots"));
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name}.png`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the test provider on a free port; `stop()` ends it. */
export async function startProvider() {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const child = spawn("node", ["server.mjs"], {
    cwd: join(here, "..", "..", "peers", "oidc"),
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

/** A token of the server's first admin application. */
export async function adminToken(server) {
  const res = await fetch(`${server.url}/api/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ keyId: server.keyId, keySecret: server.keySecret }),
  });
  if (!res.ok) throw new Error(`admin token: ${res.status}`);
  return (await res.json()).token;
}

/** Calls the API with a token; the response. */
export function api(server, token, method, path, body) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { "x-authorization": token, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
