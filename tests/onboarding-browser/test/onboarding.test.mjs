// Opens the onboarding page of the real `backbone` binary (BACKBONE_BIN, default
// target/debug/backbone) in headless Chromium and checks what a visitor sees: the banner,
// the store buttons for their platform, the link into the app with the link's secret
// fragment, and the app selection. Screenshots go to target/test-logs/onboarding-*.png.
//
// The browser is Debian's /usr/bin/chromium (CHROMIUM_BIN overrides), driven by
// playwright-core; none is downloaded. Without it the test fails.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const BACKBONE_BIN = process.env.BACKBONE_BIN ?? join(ROOT, "target/debug/backbone");
const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const SCREENSHOTS = join(ROOT, "target/test-logs");
const CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];
const IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148";
const ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
const DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
const START_TIMEOUT_MS = 30_000;

// Images as data: URLs, so that the page needs nothing from outside this machine.
const svg = (body, width, height) =>
    "data:image/svg+xml;base64," +
    Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg>`).toString("base64");
const BANNER = svg(
    `<circle cx="40" cy="40" r="30" fill="#17428D"/><circle cx="40" cy="40" r="14" fill="#FFFFFF"/>` +
        `<text x="86" y="54" font-family="Arial, sans-serif" font-size="40" font-weight="700" fill="#17428D">Demo Wallet</text>`,
    360,
    80,
);
const ICON = svg(`<rect width="96" height="96" rx="20" fill="#17428D"/><circle cx="48" cy="48" r="22" fill="#FFFFFF"/>`, 96, 96);

const CONFIG = `
[app_onboarding]

[[app_onboarding.apps]]
id = "demowallet"
display_name = "Demo Wallet"
description = "Mit der Demo Wallet behalten Sie Ihre Daten bei sich und teilen nur, was Sie teilen möchten."
icon_url = "${ICON}"
banner_url = "${BANNER}"
color_scheme = { background = "#F5F7FB", primary = "#17428D", secondary = "#DCE4F5", on_primary = "#FFFFFF", on_secondary = "#1A1B20" }
apple_app_store = { app_link = "https://apps.apple.com/app/id0000000001", no_link_text = "Bald im App Store" }
google_play_store = { app_link = "https://play.google.com/store/apps/details?id=eu.demo.wallet", no_link_text = "Bald bei Google Play" }

[[app_onboarding.apps]]
id = "partnerapp"
display_name = "Partner App"
icon_url = "${ICON}"
color_scheme = { background = "#FFFFFF", primary = "#0B6E4F", secondary = "#E2F3EC", on_primary = "#FFFFFF", on_secondary = "#10231C" }
apple_app_store = { no_link_text = "Bald im App Store" }
google_play_store = { app_link = "https://play.google.com/store/apps/details?id=eu.partner", no_link_text = "Bald bei Google Play" }
`;

let server;
let browser;
let base;
let dataDir;

function freePort() {
    return new Promise((resolvePort, reject) => {
        const probe = createServer();
        probe.once("error", reject);
        probe.listen(0, "127.0.0.1", () => {
            const { port } = probe.address();
            probe.close(() => resolvePort(port));
        });
    });
}

async function startBackbone() {
    assert.ok(existsSync(BACKBONE_BIN), `${BACKBONE_BIN} is missing: run cargo build first`);
    dataDir = mkdtempSync(join(tmpdir(), "backbone-onboarding-"));
    const configFile = join(dataDir, "backbone.toml");
    writeFileSync(configFile, CONFIG);
    const [consumerPort, adminPort] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${consumerPort}`;
    let log = "";
    server = spawn(BACKBONE_BIN, ["--config", configFile, "serve"], {
        env: {
            PATH: process.env.PATH,
            BACKBONE_DATA_DIR: dataDir,
            BACKBONE_CONSUMER_API__LISTEN: `127.0.0.1:${consumerPort}`,
            BACKBONE_ADMIN_API__LISTEN: `127.0.0.1:${adminPort}`,
            BACKBONE_LOG__LEVEL: "warn",
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout.on("data", (chunk) => (log += chunk));
    server.stderr.on("data", (chunk) => (log += chunk));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
        if (server.exitCode !== null) throw new Error(`backbone exited with ${server.exitCode}:\n${log}`);
        try {
            if ((await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) })).ok) return;
        } catch {
            // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`backbone did not answer /health within ${START_TIMEOUT_MS} ms:\n${log}`);
}

async function stopBackbone() {
    if (!server || server.exitCode !== null) return;
    const exited = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    const timer = setTimeout(() => server.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
}

before(async () => {
    assert.ok(existsSync(CHROMIUM_BIN), `${CHROMIUM_BIN} is missing: apt-get install -y chromium`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await startBackbone();
    browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: CHROMIUM_FLAGS });
});

after(async () => {
    await browser?.close();
    await stopBackbone();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A page as a phone or desktop browser with `userAgent` sees it. */
async function open(path, userAgent, viewport) {
    const context = await browser.newContext({ userAgent, viewport, deviceScaleFactor: 2 });
    const page = await context.newPage();
    const response = await page.goto(`${base}${path}`);
    assert.equal(response.status(), 200);
    // Every image is a data: URL and must have loaded.
    const broken = await page.$$eval("img", (images) => images.filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.alt));
    assert.deepEqual(broken, [], "images that did not load");
    return { page, context };
}

test("an iPhone sees the App Store button and a link into the app with the secret", async () => {
    const { page, context } = await open("/r/RLTabcdefghijklmnopq?app=demowallet#secretpart", IPHONE, { width: 390, height: 844 });
    assert.equal(await page.title(), "Demo Wallet");
    const stores = await page.locator(".store .store-name").allTextContents();
    assert.deepEqual(stores, ["App Store"]);
    assert.equal(await page.locator("a.store").getAttribute("href"), "https://apps.apple.com/app/id0000000001");
    // The script put the whole link, fragment included, behind the app's scheme.
    const openLink = await page.locator("#open-app").getAttribute("href");
    assert.equal(openLink, `demowallet://${base.slice("http://".length)}/r/RLTabcdefghijklmnopq?app=demowallet#secretpart`);
    // The colours of the configuration are applied.
    const background = await page.locator("#open-app").evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.equal(background, "rgb(23, 66, 141)");
    await page.screenshot({ path: join(SCREENSHOTS, "onboarding-iphone.png"), fullPage: true });
    await context.close();
});

test("an Android phone sees Google Play only, a desktop browser both stores", async () => {
    let { page, context } = await open("/r/RLTabcdefghijklmnopq?app=demowallet", ANDROID, { width: 412, height: 915 });
    assert.deepEqual(await page.locator(".store .store-name").allTextContents(), ["Google Play"]);
    await context.close();
    ({ page, context } = await open("/r/RLTabcdefghijklmnopq?app=demowallet", DESKTOP, { width: 1280, height: 800 }));
    assert.deepEqual(await page.locator(".store .store-name").allTextContents(), ["App Store", "Google Play"]);
    // The page stays a centred column on wide screens.
    const width = await page.locator("main").evaluate((e) => e.getBoundingClientRect().width);
    assert.ok(width <= 430, `main is ${width}px wide`);
    await page.screenshot({ path: join(SCREENSHOTS, "onboarding-desktop.png"), fullPage: true });
    await context.close();
});

test("a store without a link is greyed out with its text", async () => {
    const { page, context } = await open("/r/RLTabcdefghijklmnopq?app=partnerapp", DESKTOP, { width: 430, height: 800 });
    const missing = page.locator(".store.missing");
    assert.equal(await missing.count(), 1);
    assert.equal(await missing.getAttribute("title"), "Bald im App Store");
    assert.ok(Number(await missing.evaluate((e) => getComputedStyle(e).opacity)) < 0.5);
    assert.match(await page.locator(".no-link").textContent(), /Bald im App Store/);
    await page.screenshot({ path: join(SCREENSHOTS, "onboarding-missing-store.png"), fullPage: true });
    await context.close();
});

test("a link without an app offers the selection, keeping the fragment", async () => {
    const { page, context } = await open("/r/RLTabcdefghijklmnopq#secretpart", IPHONE, { width: 390, height: 844 });
    const choices = page.locator("a.app-choice");
    assert.deepEqual(await choices.locator(".app-name").allTextContents(), ["Demo Wallet installieren", "Partner App installieren"]);
    await page.screenshot({ path: join(SCREENSHOTS, "onboarding-selection.png"), fullPage: true });
    await choices.first().click();
    await page.waitForURL(/app=demowallet/);
    assert.equal(new URL(page.url()).hash, "#secretpart");
    assert.equal(await page.title(), "Demo Wallet");
    await context.close();
});
