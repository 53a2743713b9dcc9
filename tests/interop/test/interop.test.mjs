// Client interop suite: drives the real Backbone binary with the published
// enmeshed client library (@nmshd/transport 7.0.0). Steps run in order and
// share state (account A is created in step a and used by c-f).

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";

import { PasswordGenerator } from "@nmshd/transport";

import { BackboneServer } from "../lib/backbone.mjs";
import {
    MemoryLoggerFactory,
    PLATFORM_CLIENT_ID,
    PLATFORM_CLIENT_SECRET,
    authenticatedClient,
    createAccount,
    createDatabaseConnection,
    createTransport,
    describeError,
    hasIdentity
} from "../lib/client.mjs";
import { WireProxy, formatExchange, isFailure } from "../lib/wire-proxy.mjs";

/** An error whose message already says everything (no "library threw" prefix). */
class HarnessError extends Error {}

const ADDRESS_PREFIX = "did:e:localhost:dids:";
const useProxy = process.env.INTEROP_PROXY !== "0";
const STEP_TIMEOUT_MS = 120_000;

const server = BackboneServer.fromEnv();
const loggerFactory = new MemoryLoggerFactory();
let proxy;
let transport;
let connection;
const accounts = { A: undefined, B: undefined };

before(async () => {
    let port;
    if (useProxy) {
        fs.mkdirSync(server.logDir, { recursive: true });
        proxy = new WireProxy({ logFile: path.join(server.logDir, `wire-${server.database}.log`) });
        port = await proxy.listen();
    }
    await server.allocatePorts({ exclude: port ? [port] : [] });
    if (proxy) proxy.targetPort = server.consumerPort;
    else port = server.consumerPort;
    // host must be "localhost": the client derives the identity address from the baseUrl's hostname
    const baseUrl = `http://localhost:${port}`;
    transport = await createTransport({ baseUrl, loggerFactory });
    connection = createDatabaseConnection();
    console.log(`interop: database=${server.database} bin=${server.bin} baseUrl=${baseUrl}${useProxy ? ` -> ${server.consumerUrl}` : ""}`);

    await server.setup();
    await server.start();
}, { timeout: 240_000 });

after(async () => {
    await server.dispose();
    await proxy?.close();
    await connection?.close().catch(() => undefined);
    if (proxy) console.log(`interop: full HTTP log in ${proxy.logFile}; server log in ${server.logFile}`);
});

/**
 * A test step: failures are rethrown with the library's error details, the
 * HTTP exchanges of this step that failed, and the tails of the library and
 * server logs.
 */
function step(name, fn) {
    test(name, { timeout: STEP_TIMEOUT_MS }, async (t) => {
        const mark = proxy?.mark(name) ?? 0;
        try {
            await fn(t, mark);
        } catch (e) {
            throw enrich(e, mark);
        }
    });
}

function enrich(e, mark) {
    const out = [];
    out.push(e instanceof assert.AssertionError || e instanceof HarnessError ? e.message : `library threw: ${describeError(e)}`);
    if (proxy) {
        const ex = proxy.since(mark);
        const failed = ex.filter(isFailure);
        if (failed.length) {
            out.push(`failing HTTP exchanges in this step (${failed.length} of ${ex.length}):`);
            for (const f of failed.slice(-5)) out.push(formatExchange(f).trimEnd());
        } else if (ex.length) {
            out.push(`no failing HTTP exchange in this step; last exchanges:`);
            for (const f of ex.slice(-3)) out.push(formatExchange(f).trimEnd());
        } else {
            out.push("no HTTP exchange reached the server in this step");
        }
    }
    out.push(`--- library log (tail) ---\n${loggerFactory.tail(8)}`);
    if (!server.child) out.push(`--- server is not running; server log (tail) ---\n${server.logTail(25)}`);
    const err = new Error(out.join("\n"), { cause: e });
    return err;
}

function exchangesSince(mark, method, pathPrefix) {
    return (proxy?.since(mark) ?? []).filter((x) => x.method === method && x.path.startsWith(pathPrefix));
}

function requireAccount(t, name) {
    const acc = accounts[name];
    if (!acc) {
        t.skip(`account ${name} was not created (see step a/b)`);
        return undefined;
    }
    return acc;
}

/** Creates an account; keeps a half-initialised one for later steps and reports init errors clearly. */
async function createAndCheck(name, mark) {
    const { account, initError } = await createAccount(transport, connection, name);
    if (hasIdentity(account)) accounts[name] = account;
    if (initError) {
        const created = exchangesSince(mark, "POST", "/api/v2/Identities").find((x) => x.status >= 200 && x.status < 300);
        const what = hasIdentity(account)
            ? `identity ${account.identity.address} was created on the server, but AccountController.init() failed afterwards`
            : created
              ? "POST /api/v2/Identities succeeded but the library could not finish creating the account"
              : "identity creation failed";
        let msg = `${what}: ${describeError(initError)}`;
        if (initError.code === "error.transport.accountControllerInitialSyncFailed") {
            msg +=
                "\n(note: the library replaces the real error by accountControllerInitialSyncFailed; it comes from the closing datawallet sync " +
                "(GET /api/v2/Datawallet, GET/POST /api/v2/Datawallet/Modifications, only with datawalletEnabled) - see the failing exchange below)";
        }
        throw new HarnessError(msg, { cause: initError });
    }
    const address = account.identity.address.toString();
    assert.ok(address.startsWith(ADDRESS_PREFIX), `address '${address}' does not start with '${ADDRESS_PREFIX}'`);
    return account;
}

step("a: create account A (POST Challenges, POST Identities, token, datawallet version-upgrade sync run)", async (t, mark) => {
    const A = await createAndCheck("A", mark);
    t.diagnostic(`A = ${A.identity.address} device ${A.activeDevice.id}`);
});

step("b: create account B; addresses differ and are did:e:localhost:dids:", async (t, mark) => {
    const B = await createAndCheck("B", mark);
    t.diagnostic(`B = ${B.identity.address} device ${B.activeDevice.id}`);
    const A = accounts.A;
    if (!A) {
        t.diagnostic("A was not created; cannot compare addresses");
        return;
    }
    assert.notEqual(A.identity.address.toString(), B.identity.address.toString(), "A and B got the same address");
    assert.notEqual(A.activeDevice.id.toString(), B.activeDevice.id.toString(), "A and B got the same device id");
});

step("c: after a server restart with clock +3600 s the expired JWT is rejected (401) and the client re-authenticates", async (t) => {
    const A = requireAccount(t, "A");
    if (!A) return;

    // make sure A holds a cached token issued by the current server instance
    const before = await A.deviceAuthClient.getCurrentDevice();
    assert.equal(before.value.id, A.activeDevice.id.toString(), "GET /api/v2/Devices/Self returned another device id");
    const cachedToken = A.authenticator.token;
    assert.ok(cachedToken, "the library holds no cached token after an authenticated call");

    await server.restart({ clockOffsetSeconds: 3600 });

    const mark = proxy?.mark("c: after restart with clock offset 3600") ?? 0;
    const logMark = loggerFactory.total;
    const clientStillTrustsToken = !A.authenticator.isExpired();
    const after = await A.deviceAuthClient.getCurrentDevice();
    assert.equal(after.value.id, A.activeDevice.id.toString(), "GET /api/v2/Devices/Self returned another device id");
    assert.notEqual(A.authenticator.token, cachedToken, "the client did not obtain a new token");

    if (proxy && clientStillTrustsToken) {
        const selfCalls = exchangesSince(mark, "GET", "/api/v2/Devices/Self");
        const tokenCalls = exchangesSince(mark, "POST", "/connect/token");
        assert.equal(selfCalls[0]?.status, 401, `expected the first GET /api/v2/Devices/Self with the old token to be rejected with 401, got ${selfCalls[0]?.status}`);
        assert.equal(tokenCalls.at(-1)?.status, 200, `expected POST /connect/token to answer 200, got ${tokenCalls.at(-1)?.status}`);
        assert.equal(selfCalls.at(-1)?.status, 200, "the retried GET /api/v2/Devices/Self did not succeed");
    } else if (clientStillTrustsToken) {
        const saw401 = loggerFactory.since(logMark).some((l) => l.includes("401 Authorization Error"));
        assert.ok(saw401, "the library never got a 401 for the token issued before the restart");
    } else {
        t.diagnostic("the client already considered its token expired (restart took long), so no 401 was needed; re-auth still checked");
    }
});

step("d: A reads its identity (IdentityController + GET /api/v2/Identities/Self)", async (t) => {
    const A = requireAccount(t, "A");
    if (!A) return;
    const address = A.identity.address.toString();
    assert.ok(address.startsWith(ADDRESS_PREFIX));
    assert.ok(A.identity.publicKey, "IdentityController has no public key");

    const result = await authenticatedClient(A).get("/api/v2/Identities/Self");
    const self = result.value; // throws the RequestError if the call failed
    t.diagnostic(`GET /api/v2/Identities/Self -> ${JSON.stringify(self)}`);
    assert.equal(self.address, address, "GET /api/v2/Identities/Self returned another address");
    if (self.publicKey !== undefined) {
        assert.equal(publicKeyBytes(self.publicKey), publicKeyBytes(A.identity.publicKey.toBase64()), "GET /api/v2/Identities/Self returned another public key");
    }

    const device = (await A.deviceAuthClient.getCurrentDevice()).value;
    assert.equal(device.id, A.activeDevice.id.toString());
    assert.equal(device.username, (await A.activeDevice.getCredentials()).username);
});

step("e: A changes its device password; old password rejected, new password authenticates", async (t, mark) => {
    const A = requireAccount(t, "A");
    if (!A) return;
    const oldCredentials = await A.activeDevice.getCredentials();
    const newPassword = await PasswordGenerator.createStrongPassword(45, 50);

    await A.activeDevice.changePassword(newPassword);
    if (proxy) {
        // the library ignores the result of this call, so check the wire
        const put = exchangesSince(mark, "PUT", "/api/v2/Devices/Self/Password").at(-1);
        assert.ok(put, "the library did not call PUT /api/v2/Devices/Self/Password");
        assert.ok(put.status >= 200 && put.status < 300, `PUT /api/v2/Devices/Self/Password answered ${put.status}: ${put.resBody}`);
    }
    assert.equal((await A.activeDevice.getCredentials()).password, newPassword, "the library did not store the new password");

    const authClient = A.authenticator.authClient;
    const withOld = await authClient.authenticate({
        grantType: "password",
        clientId: PLATFORM_CLIENT_ID,
        clientSecret: PLATFORM_CLIENT_SECRET,
        username: oldCredentials.username,
        password: oldCredentials.password
    });
    assert.ok(withOld.isError, "POST /connect/token still accepts the old password");

    // force a fresh token, obtained with the new password
    const markAuth = proxy?.mark("e: fresh token with new password") ?? 0;
    A.authenticator.clear();
    await A.authenticator.getToken();
    const device = (await A.deviceAuthClient.getCurrentDevice()).value;
    assert.equal(device.id, A.activeDevice.id.toString());
    if (proxy) {
        const tokenCall = exchangesSince(markAuth, "POST", "/connect/token").at(-1);
        assert.equal(tokenCall?.status, 200, "POST /connect/token with the new password did not answer 200");
    }
});

step("f: A adds a second device (POST /api/v2/Devices); device list shows 2", async (t) => {
    const A = requireAccount(t, "A");
    if (!A) return;
    const device2 = await A.devices.sendDevice({ name: "Device2", description: "added by interop test" });
    t.diagnostic(`new device ${device2.id} username ${device2.username}`);
    assert.ok(device2.id.toString().startsWith("DVC"), `unexpected device id '${device2.id}'`);
    assert.notEqual(device2.id.toString(), A.activeDevice.id.toString());
    assert.equal(device2.createdByDevice.toString(), A.activeDevice.id.toString(), "createdByDevice is not the device that created it");

    const devices = await A.devices.list();
    assert.equal(devices.length, 2, `devices.list() returned ${devices.length} devices`);
    assert.deepEqual(devices.map((d) => d.id.toString()).sort(), [A.activeDevice.id.toString(), device2.id.toString()].sort());

    // the new device exists on the server: it can log in with its initial password
    const login = await A.authenticator.authClient.authenticate({
        grantType: "password",
        clientId: PLATFORM_CLIENT_ID,
        clientSecret: PLATFORM_CLIENT_SECRET,
        username: device2.username,
        password: device2.initialPassword
    });
    if (login.isError) throw login.error;
});

/** The raw public key inside a base64(JSON{pub, alg}) string, for comparison. */
function publicKeyBytes(b64) {
    try {
        return JSON.parse(Buffer.from(b64, "base64").toString("utf8")).pub;
    } catch {
        return b64;
    }
}
