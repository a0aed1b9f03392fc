// What the browser tests share: Debian's Chromium through playwright-core, the test
// OpenID Connect provider (tests/peers/oidc), screenshots, and API calls.

import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export { startProvider } from "../../peers/oidc/provider.mjs";
export { adminToken, api } from "../../sdk/js/lib/podium.mjs";

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

/** A fresh browser context that reaches loopback addresses only and collects the
 * page's script errors (a CSP violation among them; failed loads, such as a 401
 * page or the provider's web fonts, are not script errors). */
export async function newPage(browser) {
  const context = await browser.newContext();
  await context.route("**/*", (route) => {
    const host = new URL(route.request().url()).hostname;
    return host === "127.0.0.1" || host === "[::1]" ? route.continue() : route.abort();
  });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      errors.push(message.text());
    }
  });
  page.on("pageerror", (err) => errors.push(String(err)));
  return { context, page, errors };
}

/** The serious and critical accessibility violations axe-core finds on the page
 * (run through the browser's debugging protocol, which the page's CSP does not
 * govern), as "rule: what, where" lines. */
export async function seriousViolations(page) {
  const source = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const violations = await page.evaluate(async () => (await globalThis.axe.run(document)).violations);
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}
