// Podium's sign-in pages in a real browser: a password sign-in, Copy Token, sign-out,
// a sign-in form posted by another site, and the round trip through the OpenID
// Connect provider. Screenshots of the pages are written for review.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";

import { freePort, startPodium } from "../../sdk/js/lib/podium.mjs";
import {
  adminToken,
  api,
  launchChromium,
  newPage,
  screenshotPath,
  seriousViolations,
  startProvider,
} from "../lib/browser.mjs";

const PASSWORD = "plum kettle harbour 9";
let provider;
let server;
let browser;
let admin;

before(async () => {
  provider = await startProvider();
  server = await startPodium({
    envForPort: (port) => ({
      PODIUM_OIDC_ISSUER_URL: provider.issuer,
      PODIUM_OIDC_AUDIENCE: "podium-api",
      PODIUM_OIDC_CLIENT_ID: "podium-web",
      PODIUM_OIDC_CLIENT_SECRET: "web-secret",
      PODIUM_OIDC_REDIRECT_ROOT_URL: `http://127.0.0.1:${port}`,
      PODIUM_OIDC_SCOPES: "openid profile groups",
      PODIUM_OIDC_DISPLAY_NAME: "Test IdP",
    }),
  });
  admin = await adminToken(server);
  const created = await api(server, admin, "PUT", "/api/users/carol", {
    name: "Carol Example",
    roles: ["USER_READ_ONLY"],
    password: PASSWORD,
  });
  assert.equal(created.status, 200, await created.text());
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  provider?.stop();
});

test("a person signs in with a password, copies a token and signs out", async () => {
  const { context, page, errors } = await newPage(browser);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  await page.goto(`${server.url}/login`);
  await page.screenshot({ path: screenshotPath("login") });
  assert.deepEqual(await seriousViolations(page), [], "the login page");
  await page.getByLabel("User name").fill("carol");
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /Invalid user name or password/);

  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${server.url}/`);
  assert.match(await page.locator("header").innerText(), /Signed in as Carol Example \(carol\)/);
  const cookies = await context.cookies(server.url);
  const session = cookies.find((c) => c.name === "podium_session");
  assert.ok(session, JSON.stringify(cookies));
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Lax");
  assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read the session");

  await page.getByRole("button", { name: "Copy Token" }).click();
  await page.getByRole("status").filter({ hasText: "Copied" }).waitFor();
  await page.screenshot({ path: screenshotPath("signed-in") });
  const token = await page.evaluate(() => navigator.clipboard.readText());
  const me = await api(server, token, "GET", "/api/token/userInfo");
  assert.equal(me.status, 200);
  assert.equal((await me.json()).id, "carol");
  assert.deepEqual(errors, [], "no script or CSP error on the pages");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${server.url}/login`);
  const after = await api(server, token, "GET", "/api/token/userInfo");
  assert.equal(after.status, 401, "the copied token ends with the session");
  await context.close();
});

test("another site cannot sign a browser in to an account of its choosing", async () => {
  // The attacker's page, on another origin, posts its own credentials to Podium.
  const evilPort = await freePort();
  const evil = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<form id="f" method="post" action="${server.url}/login">
      <input name="username" value="carol"><input name="password" value="${PASSWORD}">
      </form><script>document.getElementById("f").submit()</script>`);
  });
  await new Promise((r) => evil.listen(evilPort, "127.0.0.1", r));
  const { context, page } = await newPage(browser);
  const response = await page.goto(`http://127.0.0.1:${evilPort}/`);
  await page.waitForURL(`${server.url}/login`);
  assert.ok(response);
  assert.match(await page.locator("main").innerText(), /must be sent from Podium's own sign-in page/);
  const cookies = await context.cookies(server.url);
  assert.equal(cookies.find((c) => c.name === "podium_session"), undefined);
  await context.close();
  await new Promise((r) => evil.close(r));
});

test("a person signs in through the identity provider", async () => {
  const { context, page, errors } = await newPage(browser);
  await page.goto(`${server.url}/login`);
  await page.getByRole("link", { name: "Sign in with Test IdP" }).click();
  await page.waitForURL((url) => url.origin === provider.issuer);
  await page.locator("input[name=login]").fill("alice");
  await page.locator("input[name=password]").fill("anything");
  await page.locator("button[type=submit]").click();
  // The provider asks for consent once.
  await page.locator("button[type=submit]").click();
  await page.waitForURL(`${server.url}/`);
  assert.match(await page.locator("header").innerText(), /Signed in as Alice Admin \(alice\)/);
  await page.screenshot({ path: screenshotPath("signed-in-oidc") });
  const cookies = await context.cookies(server.url);
  assert.ok(cookies.find((c) => c.name === "podium_session"));
  assert.equal(cookies.find((c) => c.name === "podium_oidc"), undefined, "the pending sign-in is gone");
  assert.deepEqual(errors, []);
  await context.close();
});
