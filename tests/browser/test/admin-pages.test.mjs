// The console's administration pages in a real browser: users, a user, groups,
// definitions with a drawn diagram, the audit trail with its chain verified, and
// "why allowed?". Each is checked for serious accessibility violations and
// screenshotted for review.

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

const PASSWORD = "amber fjord lantern 6";
let server;
let browser;

async function ok(response) {
  const text = await response.text();
  assert.ok(response.ok, `${response.status} ${text}`);
  return text;
}

before(async () => {
  server = await startPodium();
  const admin = await adminToken(server);
  await ok(await api(server, admin, "PUT", "/api/users/ada", { name: "Ada Admin", roles: ["ADMIN"], password: PASSWORD }));
  await ok(
    await api(server, admin, "POST", "/api/metadata/workflow", {
      name: "orders",
      version: 1,
      tasks: [
        {
          name: "split",
          taskReferenceName: "split",
          type: "FORK_JOIN",
          forkTasks: [
            [{ name: "charge", taskReferenceName: "charge", type: "WAIT" }],
            [{ name: "pack", taskReferenceName: "pack", type: "WAIT" }],
          ],
        },
        { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["charge", "pack"] },
        {
          name: "again",
          taskReferenceName: "again",
          type: "DO_WHILE",
          loopCondition: "$.again['iteration'] < 2",
          loopOver: [{ name: "tick", taskReferenceName: "tick", type: "NOOP" }],
        },
      ],
    }),
  );
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("an administrator's pages are usable and accessible", async () => {
  const { context, page, errors } = await newPage(browser);
  await page.goto(`${server.url}/login`);
  await page.getByLabel("User name").fill("ada");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${server.url}/`);

  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Users and groups" }).click();
  await page.getByLabel("User id").fill("bea");
  await page.getByLabel("Name", { exact: true }).fill("Bea Builder");
  await page.getByLabel("OPERATOR", { exact: true }).check();
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByRole("heading", { name: /Bea Builder/ }).waitFor();
  await page.screenshot({ path: screenshotPath("console-user"), fullPage: true });
  assert.deepEqual(await seriousViolations(page), [], "user page");
  await page.getByRole("link", { name: "Users", exact: true }).click();
  await page.screenshot({ path: screenshotPath("console-users"), fullPage: true });
  assert.deepEqual(await seriousViolations(page), [], "users page");

  await page.goto(`${server.url}/groups`);
  await page.getByLabel("Group id").fill("ops");
  await page.getByRole("button", { name: "Create group" }).click();
  await page.getByLabel("Add the user with id").fill("bea");
  await page.getByRole("button", { name: "Add member" }).click();
  await page.getByRole("link", { name: "bea" }).waitFor();
  assert.deepEqual(await seriousViolations(page), [], "group page");

  await nav.getByRole("link", { name: "Definitions" }).click();
  await page.getByRole("link", { name: "orders version 1" }).click();
  await page.locator("svg.diagram").waitFor();
  assert.equal(await page.locator("svg.diagram g.node").count(), 6);
  assert.equal(await page.locator("svg.diagram rect.loop").count(), 1);
  await page.screenshot({ path: screenshotPath("console-definition"), fullPage: true });
  assert.deepEqual(await seriousViolations(page), [], "definition page");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
  await page.getByRole("button", { name: "Verify the chain" }).click();
  await page.locator("#verdict", { hasText: "The chain is whole" }).waitFor();
  await page.screenshot({ path: screenshotPath("console-audit"), fullPage: true });
  assert.deepEqual(await seriousViolations(page), [], "audit page");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Why allowed?" }).click();
  await page.getByLabel("Who (empty: you)").fill("bea");
  await page.getByLabel("May do").selectOption("EXECUTE");
  await page.getByLabel("On a").selectOption("WORKFLOW_DEF");
  await page.getByLabel("Named").fill("orders");
  await page.getByRole("button", { name: "Explain" }).click();
  await page.locator("#explanation").waitFor();
  assert.match(await page.locator("#explanation").innerText(), /bea may execute/);
  assert.deepEqual(await seriousViolations(page), [], "explain page");
  assert.deepEqual(errors, [], "no script or CSP error on the pages");
  await context.close();
});
