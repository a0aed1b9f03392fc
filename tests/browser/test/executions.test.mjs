// The console's secrets and executions pages in a real browser: a secret added in
// the console and used by a workflow shows as *** on the execution page; text from
// a workflow's name, a task's output and a secret's tag is shown as text; an OPERATOR terminates and retries a run; a
// READ-only person sees no action buttons and a form they forge is refused; the
// diagram and timeline are drawn. Screenshots of the pages are written for review.

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

const PASSWORD = "violet ember canal 5";
const SECRET = "tok-55501-secret";
const HOSTILE = "<script>window.pwned = 1</script>";
let server;
let browser;
let admin;
let calls;
let held;

async function ok(response) {
  const text = await response.text();
  assert.ok(response.ok, `${response.status} ${text}`);
  return text;
}

before(async () => {
  server = await startPodium();
  admin = await adminToken(server);
  for (const [id, roles] of [["olga", ["OPERATOR"]], ["rhea", ["USER_READ_ONLY"]]]) {
    await ok(await api(server, admin, "PUT", `/api/users/${id}`, { name: id, roles, password: PASSWORD }));
  }
  for (const id of ["ada"]) {
    await ok(await api(server, admin, "PUT", `/api/users/${id}`, { name: id, roles: ["ADMIN"], password: PASSWORD }));
  }
  await ok(await api(server, admin, "POST", "/api/metadata/taskdefs", [{ name: "call_out", ownerEmail: "a@b.c" }]));
  await ok(
    await api(server, admin, "POST", "/api/metadata/workflow", {
      name: "calls",
      version: 1,
      tasks: [
        {
          name: "call_out",
          taskReferenceName: "call",
          type: "SIMPLE",
          inputParameters: { auth: "Bearer ${workflow.secrets.api-token}" },
        },
        {
          name: "route",
          taskReferenceName: "route",
          type: "SWITCH",
          evaluatorType: "value-param",
          expression: "kind",
          inputParameters: { kind: "${workflow.input.kind}" },
          decisionCases: { fast: [{ name: "quick", taskReferenceName: "quick", type: "NOOP" }] },
          defaultCase: [{ name: "slow", taskReferenceName: "slow", type: "NOOP" }],
        },
      ],
    }),
  );
  await ok(
    await api(server, admin, "POST", "/api/metadata/workflow", {
      name: "held",
      version: 1,
      tasks: [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }],
    }),
  );
  held = await ok(await api(server, admin, "POST", "/api/workflow/held", {}));
  await ok(
    await api(server, admin, "POST", "/api/metadata/workflow", {
      name: HOSTILE,
      version: 1,
      tasks: [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }],
    }),
  );
  await ok(await api(server, admin, "POST", "/api/workflow", { name: HOSTILE, input: {} }));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(page, user) {
  await page.goto(`${server.url}/login`);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${server.url}/`);
}

test("an administrator adds a secret in the console, and a workflow uses it", async () => {
  const { context, page, errors } = await newPage(browser);
  await signIn(page, "ada");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Secrets" }).click();
  await page.getByLabel("Name").first().fill("api-token");
  await page.locator("#secrets-value").fill(SECRET);
  await page.getByRole("button", { name: "Add secret" }).click();
  await page.getByRole("heading", { name: "Secret api-token" }).waitFor();
  assert.ok(!(await page.content()).includes(SECRET), "the value is not shown");
  await page.getByLabel("Tag key").fill("team");
  await page.getByLabel("Tag value").fill(HOSTILE);
  await page.getByRole("button", { name: "Add tag" }).click();
  await page.getByText(`team:${HOSTILE}`).waitFor();
  await page.goto(`${server.url}/secrets`);
  assert.ok((await page.locator("main").innerText()).includes(`team:${HOSTILE}`));
  assert.equal(await page.evaluate(() => globalThis.pwned), undefined);
  await page.screenshot({ path: screenshotPath("console-secrets"), fullPage: true });
  assert.deepEqual(await seriousViolations(page), []);

  calls = await ok(await api(server, admin, "POST", "/api/workflow/calls", { kind: "fast" }));
  const polled = await (await api(server, admin, "GET", "/api/tasks/poll/batch/call_out?count=1&timeout=2000")).json();
  assert.equal(polled[0].inputData.auth, `Bearer ${SECRET}`);
  await ok(
    await api(server, admin, "POST", "/api/tasks", {
      workflowInstanceId: calls,
      taskId: polled[0].taskId,
      status: "COMPLETED",
      outputData: { echo: `used ${SECRET}`, note: HOSTILE },
    }),
  );
  assert.deepEqual(errors, []);
  await context.close();
});

test("an operator finds a run, sees its secret as ***, terminates and retries another", async () => {
  const { context, page, errors } = await newPage(browser);
  await signIn(page, "olga");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Executions" }).click();
  await page.getByLabel("Workflow name").first().fill("calls");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("link", { name: calls }).click();
  await page.locator("#execution-status", { hasText: "COMPLETED" }).waitFor();
  await page.getByText("Input, output and logs of call").click();
  const body = await page.locator("main").innerText();
  assert.ok(body.includes("Bearer ***"), body);
  assert.ok(body.includes(HOSTILE), "a task's output is text");
  assert.equal(await page.evaluate(() => globalThis.pwned), undefined);
  assert.ok(!(await page.content()).includes(SECRET), "the secret is nowhere on the page");
  assert.equal(await page.locator("svg.diagram g.node.status-completed").count(), 3);
  await page.screenshot({ path: screenshotPath("console-execution"), fullPage: true });
  assert.deepEqual(await seriousViolations(page), []);

  await page.goto(`${server.url}/executions/${held}`);
  await page.getByLabel("Reason for terminating").fill("stuck in review");
  await page.getByRole("button", { name: "Terminate" }).click();
  await page.locator("#execution-status", { hasText: "TERMINATED" }).waitFor();
  assert.equal(await page.locator("#execution-reason").innerText(), "stuck in review");
  await page.getByRole("button", { name: "Retry" }).click();
  await page.locator("#execution-status", { hasText: "RUNNING" }).waitFor();
  const run = await (await api(server, admin, "GET", `/api/workflow/${held}`)).json();
  assert.equal(run.status, "RUNNING");
  await page.goto(`${server.url}/executions`);
  assert.ok((await page.locator("main").innerText()).includes(HOSTILE), "a workflow's name is text");
  assert.equal(await page.evaluate(() => globalThis.pwned), undefined);
  await page.screenshot({ path: screenshotPath("console-executions"), fullPage: true });
  assert.deepEqual(await seriousViolations(page), []);
  assert.deepEqual(errors, [], "no script or CSP error on the pages");
  await context.close();
});

test("a READ-only person gets no buttons, a forged form is refused, and signs out", async () => {
  const { context, page, errors } = await newPage(browser);
  await signIn(page, "rhea");
  await page.goto(`${server.url}/executions/${held}`);
  await page.locator("#execution-status").waitFor();
  assert.equal(await page.getByRole("button", { name: "Terminate" }).count(), 0);
  assert.equal(await page.locator("#actions").count(), 0);
  // A form she builds herself, with her own page's token, posted from the page.
  await page.evaluate((id) => {
    const token = document.querySelector("input[name=csrf]").value;
    const form = document.createElement("form");
    form.method = "post";
    form.action = `/executions/${id}/terminate`;
    for (const [name, value] of [["csrf", token], ["reason", "forged"]]) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    }
    document.body.append(form);
    form.submit();
  }, held);
  await page.getByRole("heading", { name: "Not allowed" }).waitFor();
  const run = await (await api(server, admin, "GET", `/api/workflow/${held}`)).json();
  assert.equal(run.status, "RUNNING", "nothing was terminated");
  await page.goto(`${server.url}/`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${server.url}/login`);
  assert.deepEqual(errors, []);
  await context.close();
});
