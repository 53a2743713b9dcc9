// Drives the Admin UI of the real `backbone` binary (BACKBONE_BIN, default target/debug/backbone)
// in headless Chromium, as an operator would: log in (a wrong key first), create a tier with a
// quota, create a client and read its secret, find an identity created through the published
// client library (tests/interop's helpers) by filter and change its tier, create and delete an
// announcement, log out. One browser context runs the steps in order (they share the session).
// Screenshots go to target/test-logs/admin-ui-*.png; the identities page's weight on a first
// load to target/test-logs/admin-ui-page-weight.json.
//
// The browser is Debian's /usr/bin/chromium (CHROMIUM_BIN overrides), driven by playwright-core;
// none is downloaded. Without it the test fails.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

import { BackboneServer } from "../../interop/lib/backbone.mjs";
import { MemoryLoggerFactory, createAccount, createDatabaseConnection, createTransport, hasIdentity } from "../../interop/lib/client.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const BACKBONE_BIN = process.env.BACKBONE_BIN ?? join(ROOT, "target/debug/backbone");
const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const LOGS = join(ROOT, "target/test-logs");
const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const API_KEY = "admin-ui-browser-test-key-0123456789";
const TIER = "Gold Tier";
const CLIENT_ID = "ui-test-client";

let server;
let browser;
let context;
let page;
let admin;
let identityAddress;
let connection;
const browserErrors = [];

before(async () => {
    assert.ok(existsSync(CHROMIUM_BIN), `${CHROMIUM_BIN} is missing: apt-get install -y chromium`);
    assert.ok(existsSync(BACKBONE_BIN), `${BACKBONE_BIN} is missing: run cargo build first`);
    mkdirSync(LOGS, { recursive: true });
    server = new BackboneServer({ bin: BACKBONE_BIN, database: "sqlite", logDir: LOGS });
    server.configName = "admin-ui-browser";
    server.extraEnv = { BACKBONE_ADMIN_API__API_KEY: API_KEY, BACKBONE_LOG__LEVEL: "warn" };
    await server.setup();
    await server.start();
    admin = `http://127.0.0.1:${server.adminPort}`;
    browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: CHROMIUM_FLAGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    // A CSP violation, a script error or a failed asset shows up here (pages answered with an
    // error status on purpose, such as the refused login, are no such failure).
    page.on("console", (message) => /Content Security Policy|Refused to/.test(message.text()) && browserErrors.push(message.text()));
    page.on("pageerror", (error) => browserErrors.push(String(error)));
    page.on("response", (response) => {
        if (response.request().resourceType() !== "document" && response.status() >= 400) browserErrors.push(`${response.status()} ${response.url()}`);
    });
    page.on("requestfailed", (request) => browserErrors.push(`failed: ${request.url()}`));
});

after(async () => {
    await browser?.close();
    await server?.dispose();
    await connection?.close().catch(() => undefined);
});

const shot = (name) => page.screenshot({ path: join(LOGS, `admin-ui-${name}.png`), fullPage: true });
const nav = (name) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });

test("a wrong API key is refused; the right one, typed with the keyboard, opens the dashboard", async () => {
    await page.goto(`${admin}/`);
    assert.match(new URL(page.url()).pathname, /^\/ui\/login$/);
    await page.getByLabel("API key").fill("not-the-key");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").filter({ hasText: "This API key is not valid." }).waitFor();
    assert.equal(await page.getByRole("navigation", { name: "Main" }).count(), 0, "no data page without the key");
    await shot("login-refused");

    // The field has the focus; typing and Enter submit the form.
    await page.keyboard.type(API_KEY);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
    for (const name of ["Dashboard", "Identities", "Tiers", "Clients", "Announcements"]) {
        assert.equal(await nav(name).count(), 1, `navigation link ${name}`);
    }
    const cookie = (await context.cookies()).find((c) => c.name === "bbui_session");
    assert.ok(cookie.httpOnly, "the session cookie is HttpOnly");
    assert.equal(cookie.sameSite, "Strict");
    assert.ok(cookie.expires > 0, "the session cookie expires");
    assert.equal(await page.locator("svg[role=img]").count() >= 3, true, "the dashboard draws its charts");
    await shot("dashboard-empty");
});

test("an operator creates a tier and gives it a quota; a duplicate name is refused in the page", async () => {
    await nav("Tiers").click();
    await page.getByLabel("Name", { exact: true }).fill(TIER);
    await page.getByRole("button", { name: "Create tier" }).click();
    await page.getByRole("heading", { name: TIER, level: 1 }).waitFor();
    await page.getByLabel("Metric").selectOption({ label: "Number of Sent Messages" });
    await page.getByLabel("Max", { exact: true }).fill("100");
    await page.getByLabel("Period").selectOption("Month");
    await page.getByRole("button", { name: "Add quota" }).click();
    await page.getByRole("status").filter({ hasText: "Quota added." }).waitFor();
    const row = page.getByRole("row").filter({ hasText: "Number of Sent Messages" });
    assert.match(await row.innerText(), /100\s+Month/);
    await shot("tier");

    await nav("Tiers").click();
    assert.equal(await page.getByRole("row").filter({ hasText: TIER }).count(), 1);
    await page.getByLabel("Name", { exact: true }).fill(TIER);
    await page.getByRole("button", { name: "Create tier" }).click();
    const error = page.getByRole("alert");
    await error.waitFor();
    assert.doesNotMatch(await error.innerText(), /[{}]/, "an error message, not JSON");
    await shot("tiers");
});

test("an operator creates a client and reads its secret once", async () => {
    await nav("Clients").click();
    await page.getByLabel("Client ID").fill(CLIENT_ID);
    await page.getByLabel("Display name").fill("UI Test Client");
    await page.getByLabel("Default tier").selectOption({ label: TIER });
    await page.getByLabel("Max identities").fill("10");
    await page.getByRole("button", { name: "Create client" }).click();
    await page.getByRole("heading", { name: CLIENT_ID }).waitFor();
    const secret = await page.getByRole("textbox", { name: "Client secret" }).inputValue();
    assert.match(secret, /^[A-Za-z0-9]{30}$/);
    assert.ok(await page.getByRole("button", { name: "Copy" }).isVisible());
    await shot("client");
    await page.reload();
    assert.equal(await page.getByRole("textbox", { name: "Client secret" }).count(), 0, "the secret is shown only once");
    await nav("Clients").click();
    assert.match(await page.getByRole("row").filter({ hasText: CLIENT_ID }).innerText(), /UI Test Client\s+Gold Tier\s+0\s+10/);
    await shot("clients");
});

test("an identity created with the client library is found by filter and moved to another tier", async () => {
    const loggerFactory = new MemoryLoggerFactory();
    // The host must be "localhost": the library derives the address from it (DID domain).
    const transport = await createTransport({ baseUrl: `http://localhost:${server.consumerPort}`, loggerFactory });
    connection = createDatabaseConnection();
    const { account, initError } = await createAccount(transport, connection, "admin-ui");
    assert.ok(hasIdentity(account), `the library created no identity: ${initError}\n${loggerFactory.tail()}`);
    identityAddress = account.identity.address.toString();

    await nav("Identities").click();
    await page.getByLabel("Address contains").fill(identityAddress.slice(-12));
    await page.getByRole("button", { name: "Apply filters" }).click();
    const rows = page.locator("table.identities tbody tr");
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().innerText(), /Basic/);
    await shot("identities");
    await measureIdentitiesPage(page.url());
    // Sorting is the server's: the header link asks for another order and keeps the filter.
    await page.getByRole("link", { name: "Number of devices" }).click();
    assert.equal(await page.getByRole("columnheader", { name: "Number of devices ▲" }).getAttribute("aria-sort"), "ascending");
    assert.equal(await rows.count(), 1);

    await page.getByRole("link", { name: identityAddress }).click();
    await page.getByRole("heading", { name: "Devices" }).waitFor();
    await page.getByLabel("Tier", { exact: true }).selectOption({ label: TIER });
    await page.getByRole("button", { name: "Change tier" }).click();
    await page.getByRole("status").filter({ hasText: "Tier changed." }).waitFor();
    // The tier's quota now applies to the identity, with its usage.
    assert.match(await page.getByRole("row").filter({ hasText: "Number of Sent Messages" }).innerText(), /Tier\s+Number of Sent Messages\s+100\s+0\s+Month/);
    await shot("identity");

    // The dashboard counts the identity: in its tier and on today's column.
    await nav("Dashboard").click();
    const byTier = page.getByRole("region", { name: "Identities by tier" });
    await byTier.getByText("Numbers").click();
    assert.match(await byTier.getByRole("row").filter({ hasText: TIER }).innerText(), /Gold Tier\s+1/);
    assert.match(await page.getByText(/in the last 30 days/).first().innerText(), /^1 in the last 30 days/);
    await shot("dashboard");
    await page.emulateMedia({ colorScheme: "dark" });
    await shot("dashboard-dark");
    await page.emulateMedia({ colorScheme: "light" });
});

/** The bytes a browser with an empty cache transfers to show the identities page. */
async function measureIdentitiesPage(url) {
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await fresh.addCookies(await context.cookies());
    const probe = await fresh.newPage();
    await probe.goto(url, { waitUntil: "load" });
    const weight = await probe.evaluate(() => {
        const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
        return {
            requests: entries.length,
            transferredBytes: entries.reduce((sum, e) => sum + e.transferSize, 0),
            bodyBytes: entries.reduce((sum, e) => sum + e.encodedBodySize, 0),
            files: entries.map((e) => ({ name: new URL(e.name).pathname, transferredBytes: e.transferSize })),
        };
    });
    await fresh.close();
    writeFileSync(join(LOGS, "admin-ui-page-weight.json"), JSON.stringify(weight, null, 2));
    console.log(`# identities page, first load: ${weight.transferredBytes} bytes transferred in ${weight.requests} requests`);
    assert.ok(weight.transferredBytes > 0 && weight.transferredBytes < 100_000, `page weight ${weight.transferredBytes}`);
}

test("an operator creates an announcement and deletes it after confirming", async () => {
    await nav("Announcements").click();
    await page.getByRole("link", { name: "New announcement" }).click();
    await page.getByLabel("Severity").selectOption("High");
    await page.getByLabel("Title (English)").fill("Maintenance tonight");
    await page.getByLabel("Body (English)").fill("The Backbone is down from 22:00 to 23:00 UTC.");
    await page.getByLabel("Title (German)").fill("Wartung heute Nacht");
    await page.getByLabel("Body (German)").fill("Das Backbone ist von 22:00 bis 23:00 UTC nicht erreichbar.");
    await page.getByLabel("Action name (English)").first().fill("Details");
    await page.getByLabel("Link").first().fill("https://example.com/maintenance");
    await page.getByRole("button", { name: "Create announcement" }).click();
    await page.getByRole("heading", { name: "Maintenance tonight", level: 1 }).waitFor();
    assert.equal(await page.getByRole("row").filter({ hasText: "Wartung heute Nacht" }).count(), 1);
    await shot("announcement");

    await nav("Announcements").click();
    assert.equal(await page.getByRole("row").filter({ hasText: "Maintenance tonight" }).count(), 1);
    await shot("announcements");
    await page.getByRole("link", { name: "Maintenance tonight" }).click();
    await page.getByRole("button", { name: "Delete announcement" }).click();
    await page.getByRole("heading", { name: "Delete announcement" }).waitFor();
    await page.getByRole("button", { name: "Delete announcement" }).click();
    await page.getByRole("status").filter({ hasText: "Announcement deleted." }).waitFor();
    await page.getByText("There are no announcements yet.").waitFor();
});

test("the console fits a narrow window", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const name of ["Dashboard", "Identities", "Clients"]) {
        await nav(name).click();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${name} is ${overflow}px wider than the window`);
    }
    await nav("Dashboard").click();
    await shot("narrow");
    await page.setViewportSize({ width: 1280, height: 800 });
});

test("log out ends the session; pages lead to the login again", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("button", { name: "Log in" }).waitFor();
    await page.goto(`${admin}/ui/tiers`);
    assert.equal(new URL(page.url()).pathname, "/ui/login");
    await shot("logged-out");
    assert.deepEqual(browserErrors, [], "errors in the browser console (CSP violations, failed assets)");
});
