// What the browser tests share: Debian's Chromium through playwright-core, the test
// OpenID Connect provider (tests/peers/oidc), screenshots, and API calls.

import { mkdirSync } from "node:fs";
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
