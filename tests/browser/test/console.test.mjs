// The web console in a real browser: the door (no session, no page), the home page's
// counts and latest failures as the API shows them to the person signed in, text
// from workflows shown as text, the security headers, and accessibility.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startPodium } from "../../sdk/js/lib/podium.mjs";
import {
  adminToken,
  api,
  launchChromium,
  newPage,
  screenshotPath,
  seriousViolations,
} from "../lib/browser.mjs";

const PASSWORD = "quiet lantern meadow 4";
const HOSTILE = "<script>window.pwned = 1</script><b>bold</b>";
let server;
let browser;
let admin;

async function ok(response) {
  const text = await response.text();
  assert.ok(response.ok, `${response.status} ${text}`);
  return text;
}

before(async () => {
  server = await startPodium();
  admin = await adminToken(server);
  await ok(
    await api(server, admin, "PUT", "/api/users/dora", {
      name: "Dora Reader",
      roles: ["USER_READ_ONLY"],
      password: PASSWORD,
    }),
  );
  await ok(
    await api(server, admin, "POST", "/api/metadata/workflow", {
      name: "console_hold",
      version: 1,
      tasks: [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }],
    }),
  );
  await ok(await api(server, admin, "POST", "/api/workflow/console_hold", {}));
  const ended = await ok(await api(server, admin, "POST", "/api/workflow/console_hold", {}));
  const reason = encodeURIComponent(HOSTILE);
  await ok(await api(server, admin, "DELETE", `/api/workflow/${ended}?reason=${reason}`));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(page) {
  await page.goto(`${server.url}/login`);
  await page.getByLabel("User name").fill("dora");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${server.url}/`);
}

test("without a session the console sends a person to sign in", async () => {
  const { context, page } = await newPage(browser);
  const response = await page.goto(`${server.url}/`);
  assert.equal(new URL(page.url()).pathname, "/login");
  assert.equal(response.status(), 200);
  await context.close();
});

test("the home page counts what the person may read and shows text as text", async () => {
  const { context, page, errors } = await newPage(browser);
  await signIn(page);
  const response = await page.reload();
  const csp = response.headers()["content-security-policy"];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(response.headers()["x-content-type-options"], "nosniff");
  assert.ok(response.headers()["referrer-policy"]);

  assert.equal(await page.locator("#count-running").innerText(), "1");
  assert.equal(await page.locator("#count-failed").innerText(), "1");
  assert.equal(await page.locator("#count-completed").innerText(), "0");
  const row = page.locator("table tbody tr");
  assert.equal(await row.count(), 1);
  assert.match(await row.innerText(), /console_hold v1/);
  assert.match(await row.innerText(), /TERMINATED/);
  // What the workflow said is shown as text: no script ran, no element was made.
  assert.ok((await row.innerText()).includes(HOSTILE), await row.innerText());
  assert.equal(await page.locator("table b").count(), 0);
  assert.equal(await page.evaluate(() => globalThis.pwned), undefined);

  const nav = page.getByRole("navigation", { name: "Main" });
  assert.equal(await nav.getByRole("link", { name: "Home" }).getAttribute("aria-current"), "page");
  await page.screenshot({ path: screenshotPath("console-home"), fullPage: true });
  assert.deepEqual(await seriousViolations(page), []);
  assert.deepEqual(errors, [], "no script or CSP error on the page");
  await context.close();
});
