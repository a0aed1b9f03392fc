// The console's applications pages in a real browser: an administrator creates an
// application, gives it a role, creates a key and reads its secret once, adds a
// permission, pauses the key and sees its next API call refused, and deletes the
// key after confirming. Screenshots of the pages are written for review.

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

const PASSWORD = "copper harbour kite 8";
let server;
let browser;
let admin;

before(async () => {
  server = await startPodium();
  admin = await adminToken(server);
  const created = await api(server, admin, "PUT", "/api/users/ada", {
    name: "Ada Admin",
    roles: ["ADMIN"],
    password: PASSWORD,
  });
  assert.equal(created.status, 200, await created.text());
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("an administrator creates an application, its key and a permission, and pauses the key", async () => {
  const { context, page, errors } = await newPage(browser);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  await page.goto(`${server.url}/login`);
  await page.getByLabel("User name").fill("ada");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${server.url}/`);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Applications" }).click();
  await page.getByLabel("New application's name").fill("billing");
  await page.getByRole("button", { name: "Create application" }).click();
  await page.getByRole("heading", { level: 1, name: "billing" }).waitFor();
  const appId = new URL(page.url()).pathname.split("/").pop();

  await page.getByRole("button", { name: "Give the role WORKER" }).click();
  await page.getByRole("button", { name: "Remove the role WORKER" }).waitFor();

  await page.getByRole("button", { name: "Create access key" }).click();
  await page.getByRole("heading", { name: "Access key created" }).waitFor();
  assert.match(await page.getByRole("alert").innerText(), /will not be shown again/);
  const keyId = await page.locator("#key-id").innerText();
  const secret = await page.getByLabel("Key secret").inputValue();
  await page.getByRole("button", { name: "Copy secret" }).click();
  await page.getByRole("status").filter({ hasText: "Copied" }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await page.screenshot({ path: screenshotPath("console-key-created") });

  const minted = await fetch(`${server.url}/api/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ keyId, keySecret: secret }),
  });
  assert.equal(minted.status, 200);
  const { token } = await minted.json();
  const call = async () => (await api(server, token, "GET", "/api/token/userInfo")).status;
  assert.equal(await call(), 200);

  await page.getByRole("link", { name: "Back to the application" }).click();
  assert.ok(!(await page.content()).includes(secret), "the secret is not shown again");

  await page.getByLabel("Type", { exact: true }).selectOption("WORKFLOW_DEF");
  await page.getByLabel("Name", { exact: true }).last().fill("payments");
  await page.getByLabel("READ", { exact: true }).check();
  await page.getByLabel("EXECUTE", { exact: true }).check();
  await page.getByRole("button", { name: "+ Add permission" }).click();
  await page.getByRole("cell", { name: "payments", exact: true }).waitFor();
  const holders = await (await api(server, admin, "GET", "/api/auth/authorization/WORKFLOW_DEF/payments")).json();
  assert.ok(JSON.stringify(holders.EXECUTE).includes(`app:${appId}`), JSON.stringify(holders));

  await page.getByRole("button", { name: `Pause key ${keyId}` }).click();
  await page.getByRole("button", { name: `Resume key ${keyId}` }).waitFor();
  assert.equal(await call(), 401, "a paused key's token is refused at once");
  await page.screenshot({ path: screenshotPath("console-application"), fullPage: true });
  assert.deepEqual(await seriousViolations(page), []);

  await page.getByRole("link", { name: `Delete key ${keyId}` }).click();
  await page.getByRole("button", { name: "Delete key" }).click();
  await page.getByText("No access keys.").waitFor();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Applications" }).click();
  await page.getByRole("link", { name: "billing" }).waitFor();
  await page.screenshot({ path: screenshotPath("console-applications") });
  assert.deepEqual(await seriousViolations(page), []);
  assert.deepEqual(errors, [], "no script or CSP error on the pages");
  await context.close();
});
