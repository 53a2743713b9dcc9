// Client interop suite: drives the real Backbone binary with the published
// enmeshed client library (@nmshd/transport 7.0.0). Steps run in order and
// share state (accounts A and B from a/b are used by c-q; the relationship of g
// by h and i; C from k by n; r (quotas) uses accounts of its own; step q deletes A,
// so it comes last, after r). Library recipes for g-o are in lib/flows.mjs.
// INTEROP_DATABASE (sqlite|postgres) and INTEROP_BLOB_STORAGE (local|azure|s3) pick the
// configuration; azure/s3 start an emulator (lib/blob-storage.mjs).

import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";

import { CoreDate } from "@nmshd/core-types";
import { CoreBuffer } from "@nmshd/crypto";
import { AnonymousTokenController, PasswordGenerator, RelationshipStatus, RelationshipTemplateReference, TokenReference } from "@nmshd/transport";

import { BackboneServer } from "../lib/backbone.mjs";
import { BlobStorage } from "../lib/blob-storage.mjs";
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
import {
    SyncTimeoutError,
    describeRelationship,
    ensureActiveRelationship,
    establishRelationship,
    labelOf,
    lastAuditLogEntry,
    onboardNewDevice,
    relationshipTo,
    setLabel,
    syncUntil,
    syncUntilMessage,
    syncUntilRelationship
} from "../lib/flows.mjs";
import { WireProxy, formatExchange, isFailure } from "../lib/wire-proxy.mjs";

/** An error whose message already says everything (no "library threw" prefix). */
class HarnessError extends Error {}

const ADDRESS_PREFIX = "did:e:localhost:dids:";
const useProxy = process.env.INTEROP_PROXY !== "0";
const STEP_TIMEOUT_MS = 120_000;

const server = BackboneServer.fromEnv();
const blobStorage = BlobStorage.fromEnv({ logDir: server.logDir });
server.configName = blobStorage.kind === "local" ? server.database : `${server.database}-${blobStorage.kind}`;
const loggerFactory = new MemoryLoggerFactory();
let proxy;
let baseUrl;
let transport;
let connection;
const accounts = { A: undefined, B: undefined };
/** State handed from step to step (g -> h -> i). */
const shared = { relationshipId: undefined };
/** What the current step is doing (printed when it fails). */
let currentStage;

before(async () => {
    let port;
    if (useProxy) {
        fs.mkdirSync(server.logDir, { recursive: true });
        proxy = new WireProxy({ logFile: path.join(server.logDir, `wire-${server.configName}.log`) });
        port = await proxy.listen();
    }
    // the emulator first, so the server's ports (picked now, bound later) cannot collide with it
    await blobStorage.start();
    server.extraEnv = blobStorage.serverEnv();
    await server.allocatePorts({ exclude: [port, blobStorage.port].filter(Boolean) });
    if (proxy) proxy.targetPort = server.consumerPort;
    else port = server.consumerPort;
    // host must be "localhost": the client derives the identity address from the baseUrl's hostname
    baseUrl = `http://localhost:${port}`;
    transport = await createTransport({ baseUrl, loggerFactory });
    connection = createDatabaseConnection();
    console.log(
        `interop: database=${server.database} blobStorage=${blobStorage.kind} (${blobStorage.describe()}) bin=${server.bin} baseUrl=${baseUrl}${useProxy ? ` -> ${server.consumerUrl}` : ""}`
    );

    await server.setup();
    blobStorage.dataDir = server.dataDir;
    await server.start();
}, { timeout: 240_000 });

after(async () => {
    await server.dispose();
    await blobStorage.stop();
    await proxy?.close();
    await connection?.close().catch(() => undefined);
    if (proxy) console.log(`interop: full HTTP log in ${proxy.logFile}; server log in ${server.logFile}${blobStorage.logFile ? `; emulator log in ${blobStorage.logFile}` : ""}`);
});

/**
 * A test step: failures are rethrown with the library's error details, the
 * HTTP exchanges of this step that failed, and the tails of the library and
 * server logs.
 */
function step(name, fn) {
    test(name, { timeout: STEP_TIMEOUT_MS }, async (t) => {
        const mark = proxy?.mark(name) ?? 0;
        currentStage = undefined;
        try {
            await fn(t, mark);
        } catch (e) {
            throw enrich(e, mark);
        }
    });
}

function enrich(e, mark) {
    const out = [];
    if (currentStage) out.push(`[while: ${currentStage}]`);
    out.push(e instanceof assert.AssertionError || e instanceof HarnessError || e instanceof SyncTimeoutError ? e.message : `library threw: ${describeError(e)}`);
    if (proxy) {
        const ex = proxy.since(mark);
        const failed = ex.filter(isFailure);
        if (failed.length) {
            out.push(`failing HTTP exchanges in this step (${failed.length} of ${ex.length}):`);
            for (const f of failed.slice(-5)) out.push(formatExchange(f, { maxBody: 1000 }).trimEnd());
        } else if (ex.length) {
            out.push(`no failing HTTP exchange in this step; last exchanges:`);
            for (const f of ex.slice(-3)) out.push(formatExchange(f, { maxBody: 1000 }).trimEnd());
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
    setLabel(account, name);
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

// ---------------------------------------------------------------------------
// g-l: relationships, tokens, device onboarding (library controllers only)
// ---------------------------------------------------------------------------

/** Names the current stage of a step (printed when the step fails; also a marker in the wire log). */
function stage(text) {
    currentStage = text;
    proxy?.mark(`  - ${text}`);
}

const syncOpts = () => ({ loggerFactory });

/**
 * Step c leaves the server running with its clock 3600 s ahead. The library computes
 * expiry dates from the client clock (e.g. AnonymousTokenController.createEmptyToken:
 * now + 2 min), which such a server rejects ("'expiresAt' must be in the future"), so
 * g-l run against a server with the real clock (restarted once, data kept).
 */
async function ensureRealClock(t) {
    if (server.clockOffsetSeconds === 0) return;
    stage("restarting the server without clock offset");
    await server.restart({ clockOffsetSeconds: 0 });
    t.diagnostic("server restarted with clock offset 0 (step c had left it at +3600 s)");
}

/** Reasons of a relationship's audit log, e.g. ["Creation", "AcceptanceOfCreation"]. */
function reasons(rel) {
    return rel.auditLog.map((e) => e.reason);
}

/** JSON value of a library content object (JSONWrapper / Serializable). */
function contentValue(content) {
    return JSON.parse(content.serialize());
}

/** The error a promise rejects with (fails if it resolves). */
async function rejection(promise, what) {
    try {
        await promise;
    } catch (e) {
        return e;
    }
    throw new HarnessError(`${what}: expected the library to throw, but it succeeded`);
}

/**
 * Fails when the library rejected external events during this step: it reports them
 * in PUT /api/v2/SyncRuns/{id}/FinalizeExternalEventSync as
 * externalEventResults[].errorCode (the sync itself still "succeeds").
 */
function assertExternalEventsApplied(mark, logMark) {
    const libErrors = loggerFactory.errorsSince(logMark).filter((l) => l.includes("external event"));
    const rejected = proxy
        ? exchangesSince(mark, "PUT", "/api/v2/SyncRuns/").filter((x) => x.path.endsWith("/FinalizeExternalEventSync") && /"errorCode"/.test(x.reqBody ?? ""))
        : [];
    if (!rejected.length && !libErrors.length) return;
    const out = [`the library could not apply some external events (it reported them to the server and carried on):`];
    for (const l of libErrors.slice(-5)) out.push(`  ${l}`);
    for (const x of rejected.slice(-3)) out.push(formatExchange(x, { headers: false, maxBody: 1000 }).trimEnd());
    throw new HarnessError(out.join("\n"));
}

function requireRelationship(t) {
    const A = requireAccount(t, "A");
    const B = A && requireAccount(t, "B");
    if (!A || !B) return undefined;
    if (!shared.relationshipId) {
        t.skip("no relationship between A and B (step g failed)");
        return undefined;
    }
    return { A, B, id: shared.relationshipId };
}

step("g: relationship: A creates a template, B loads it and requests; A syncs, sees Pending, accepts; B syncs until Active", async (t, mark) => {
    await ensureRealClock(t);
    const A = requireAccount(t, "A");
    const B = A && requireAccount(t, "B");
    if (!A || !B) return;
    const logMark = loggerFactory.total;
    const r = await establishRelationship(A, B, { loggerFactory, onStage: stage, tag: "g" });
    shared.relationshipId = r.id;
    t.diagnostic(`template ${r.template.id}, relationship ${r.id}`);

    stage("checking both sides");
    assert.match(r.template.id.toString(), /^RLT[A-Za-z0-9]{17}$/, "template id");
    assert.equal(r.peerTemplate.id.toString(), r.template.id.toString());
    assert.equal(r.peerTemplate.isOwn, false);
    assert.equal(r.peerTemplate.createdBy.toString(), A.identity.address.toString(), "template createdBy (as B sees it)");
    assert.equal(r.peerTemplate.createdByDevice.toString(), A.activeDevice.id.toString(), "template createdByDevice (as B sees it)");
    assert.deepEqual(contentValue(r.peerTemplate.content), { mycontent: "template g" }, "template content as B decrypted it");
    assert.equal(r.peerTemplate.maxNumberOfAllocations, 1, "template maxNumberOfAllocations (as B sees it)");

    assert.match(r.id.toString(), /^REL[A-Za-z0-9]{17}$/, "relationship id");
    assert.equal(r.requested.status, RelationshipStatus.Pending, "status of B's new relationship (POST /api/v2/Relationships result)");
    assert.equal(r.pending.peer.address.toString(), B.identity.address.toString(), "A's pending relationship has B as peer");
    assert.deepEqual(contentValue(r.pending.creationContent), { mycontent: "request g" }, "creation content as A decrypted it");
    assert.equal(r.acceptedByTemplator.status, RelationshipStatus.Active, "status after A accepted (PUT .../Accept result)");

    const relA = await A.relationships.getRelationship(r.id);
    const relB = await B.relationships.getRelationship(r.id);
    assert.equal(relA?.status, RelationshipStatus.Active, `A: ${describeRelationship(relA)}`);
    assert.equal(relB?.status, RelationshipStatus.Active, `B: ${describeRelationship(relB)}`);
    assert.equal(relB.peer.address.toString(), A.identity.address.toString(), "B's relationship has A as peer");
    assert.deepEqual(reasons(relA), ["Creation", "AcceptanceOfCreation"], `A's audit log: ${describeRelationship(relA)}`);
    assert.deepEqual(reasons(relB), ["Creation", "AcceptanceOfCreation"], `B's audit log: ${describeRelationship(relB)}`);
    assert.equal((await A.relationships.getActiveRelationshipToIdentity(B.identity.address))?.id.toString(), r.id.toString());
    assertExternalEventsApplied(mark, logMark);
});

step("h: A terminates, B syncs until Terminated; B requests reactivation, A syncs until it sees it and accepts; B syncs until Active", async (t, mark) => {
    const ctx = requireRelationship(t);
    if (!ctx) return;
    const { A, B, id } = ctx;
    const logMark = loggerFactory.total;

    stage("A terminates");
    const terminated = await A.relationships.terminate(id);
    assert.equal(terminated.status, RelationshipStatus.Terminated, "status after PUT .../Terminate");

    stage("B syncs until Terminated");
    await syncUntilRelationship(B, id, "status Terminated", (r) => r.status === RelationshipStatus.Terminated, syncOpts());

    stage("B requests reactivation");
    const requested = await B.relationships.requestReactivation(id);
    assert.equal(requested.status, RelationshipStatus.Terminated, "status after PUT .../Reactivate");
    assert.equal(lastAuditLogEntry(requested)?.reason, "ReactivationRequested", `B after PUT .../Reactivate: ${describeRelationship(requested)}`);

    stage("A syncs until it sees the reactivation request");
    await syncUntilRelationship(A, id, "reactivation request from B", (r) => lastAuditLogEntry(r)?.reason === "ReactivationRequested", syncOpts());

    stage("A accepts the reactivation");
    const reactivated = await A.relationships.acceptReactivation(id);
    assert.equal(reactivated.status, RelationshipStatus.Active, "status after PUT .../Reactivate/Accept");

    stage("B syncs until Active");
    await syncUntilRelationship(B, id, "status Active again", (r) => r.status === RelationshipStatus.Active, syncOpts());

    stage("checking both sides");
    const relA = await A.relationships.getRelationship(id);
    const relB = await B.relationships.getRelationship(id);
    const expected = ["Creation", "AcceptanceOfCreation", "Termination", "ReactivationRequested", "AcceptanceOfReactivation"];
    assert.deepEqual(reasons(relA), expected, `A: ${describeRelationship(relA)}`);
    assert.deepEqual(reasons(relB), expected, `B: ${describeRelationship(relB)}`);
    assertExternalEventsApplied(mark, logMark);
});

step("i: decomposition: A terminates and decomposes, B syncs until DeletionProposed and decomposes; neither has the relationship; B could connect again (CanCreate)", async (t, mark) => {
    const ctx = requireRelationship(t);
    if (!ctx) return;
    const { A, B, id } = ctx;
    const logMark = loggerFactory.total;

    let relA = await A.relationships.getRelationship(id);
    if (relA?.status === RelationshipStatus.Active) {
        stage("A terminates");
        relA = await A.relationships.terminate(id);
    } else {
        t.diagnostic(`relationship was not Active at the start (step h failed?): ${describeRelationship(relA)}`);
    }
    assert.equal(relA?.status, RelationshipStatus.Terminated, `A: ${describeRelationship(relA)}`);

    stage("B syncs until Terminated");
    await syncUntilRelationship(B, id, "status Terminated", (r) => r.status === RelationshipStatus.Terminated, syncOpts());

    stage("A decomposes");
    await A.relationships.decompose(id);
    await A.cleanupDataOfDecomposedRelationship(relA);
    assert.equal(await A.relationships.getRelationship(id), undefined, "A still has the relationship after decompose()");

    stage("B syncs until DeletionProposed");
    const relB = await syncUntilRelationship(B, id, "status DeletionProposed", (r) => r.status === RelationshipStatus.DeletionProposed, syncOpts());
    assert.equal(lastAuditLogEntry(relB)?.reason, "Decomposition", `B: ${describeRelationship(relB)}`);

    stage("B decomposes");
    await B.relationships.decompose(id);
    await B.cleanupDataOfDecomposedRelationship(relB);

    stage("checking both sides");
    assert.equal(await B.relationships.getRelationship(id), undefined, "B still has the relationship after decompose()");
    assert.equal(await relationshipTo(A, B), undefined, "A still reports a relationship to B");
    assert.equal(await relationshipTo(B, A), undefined, "B still reports a relationship to A");
    shared.relationshipId = undefined;

    // The .NET Backbone sends no external event for the second decomposition (new status
    // ReadyForDeletion: "the peer doesn't know anything about it"). Should one arrive anyway,
    // the library calls GET /api/v2/Relationships/{id}, which must then answer 400
    // error.platform.validation.relationship.relationshipAlreadyDecomposed (the library ignores
    // the event on exactly that code; anything else is a rejected event, see below).
    stage("A syncs after B's decomposition");
    const afterB = proxy?.mark("  - (A's sync after B's decomposition)") ?? 0;
    await A.syncEverything();
    const get = exchangesSince(afterB, "GET", `/api/v2/Relationships/${id}`)[0];
    if (get) t.diagnostic(`A got an event after B's decomposition; GET /api/v2/Relationships/${id} -> ${get.status} ${get.resBody ?? ""}`);
    assert.equal(await A.relationships.getRelationship(id), undefined, "A's sync brought the decomposed relationship back");

    stage("B checks whether it could connect to A again (GET /api/v2/Relationships/CanCreate)");
    const template = await A.relationshipTemplates.sendRelationshipTemplate({ content: { mycontent: "template i" }, expiresAt: CoreDate.utc().add({ minutes: 10 }), maxNumberOfAllocations: 1 });
    const peerTemplate = await B.relationshipTemplates.loadPeerRelationshipTemplateByReference(
        RelationshipTemplateReference.from(template.toRelationshipTemplateReference(baseUrl).truncate())
    );
    const can = await B.relationships.canSendRelationship({ template: peerTemplate, creationContent: { mycontent: "request i" } });
    assert.ok(can.isSuccess, `after both decomposed, B cannot create a new relationship to A: ${can.isError ? `${can.error.code} ${can.error.message}` : ""}`);
    assertExternalEventsApplied(mark, logMark);
});

step("j: tokens: A's token loaded anonymously and by B; password-protected token: right password loads, no / wrong password fails", async (t) => {
    await ensureRealClock(t);
    const A = requireAccount(t, "A");
    if (!A) return;
    const B = accounts.B;
    const anonymous = new AnonymousTokenController(transport.config);
    const expiresAt = CoreDate.utc().add({ minutes: 10 });

    stage("A creates a token (POST /api/v2/Tokens)");
    const content = { content: "interop token j", number: 42, nested: { list: [1, "two"] } };
    const token = await A.tokens.sendToken({ content, expiresAt, ephemeral: false });
    assert.match(token.id.toString(), /^TOK[A-Za-z0-9]{17}$/, "token id");
    const reference = token.toTokenReference(baseUrl).truncate();

    stage("anonymous load (GET /api/v2/Tokens/{id} without Authorization)");
    const loaded = await anonymous.loadPeerTokenByReference(TokenReference.from(reference));
    assert.equal(loaded.id.toString(), token.id.toString());
    assert.deepEqual(contentValue(loaded.content), content, "content of the anonymously loaded token");
    assert.equal(loaded.createdBy.toString(), A.identity.address.toString(), "createdBy");
    assert.equal(loaded.createdByDevice.toString(), A.activeDevice.id.toString(), "createdByDevice");
    assert.equal(loaded.expiresAt.toISOString(), expiresAt.toISOString(), "expiresAt");

    if (B) {
        stage("B loads it authenticated (TokenController.loadPeerTokenByReference)");
        const loadedByB = await B.tokens.loadPeerTokenByReference(TokenReference.from(reference), true);
        assert.deepEqual(contentValue(loadedByB.content), content, "content of the token B loaded");
        assert.equal(loadedByB.createdBy.toString(), A.identity.address.toString());
    }

    stage("A creates a password-protected token");
    const password = "interop-password-j";
    const pwContent = { content: "protected token j" };
    const pwToken = await A.tokens.sendToken({ content: pwContent, expiresAt, ephemeral: false, passwordProtection: { password, passwordType: "pw" } });
    const pwReference = TokenReference.from(pwToken.toTokenReference(baseUrl).truncate());
    assert.ok(pwReference.passwordProtection?.salt, "the reference of a password-protected token carries the salt");

    stage("anonymous load with the password");
    const pwLoaded = await anonymous.loadPeerTokenByReference(pwReference, password);
    assert.deepEqual(contentValue(pwLoaded.content), pwContent, "content of the password-protected token");
    assert.equal(pwLoaded.passwordProtection?.password, password);

    stage("anonymous load without a password (library refuses)");
    const noPassword = await rejection(anonymous.loadPeerTokenByReference(pwReference), "loading a password-protected token without password");
    assert.equal(noPassword.code, "error.transport.noPasswordProvided", `unexpected error: ${describeError(noPassword)}`);

    stage("anonymous load with a wrong password (server must answer 404 error.platform.recordNotFound)");
    const wrong = await rejection(anonymous.loadPeerTokenByReference(pwReference, "wrong-password"), "loading with a wrong password");
    assert.equal(wrong.code, "error.platform.recordNotFound", `unexpected error: ${describeError(wrong)}`);

    stage("anonymous load of the password-protected token with the password left out of the request (server must answer 404)");
    const bare = TokenReference.from({ id: pwToken.id, key: pwToken.secretKey });
    const leaked = await rejection(anonymous.loadPeerTokenByReference(bare), "GET of a password-protected token without ?password");
    assert.equal(leaked.code, "error.platform.recordNotFound", `unexpected error: ${describeError(leaked)}`);

    if (B) {
        stage("B loads the password-protected token with the password");
        const pwByB = await B.tokens.loadPeerTokenByReference(pwReference, true, password);
        assert.deepEqual(contentValue(pwByB.content), pwContent);
    }
});

step("k: device onboarding: new device from a token with the DeviceSharedSecret; same address; after sync it sees the identity's relationship", async (t, mark) => {
    await ensureRealClock(t);
    const logMark = loggerFactory.total;
    // A new device learns the identity's relationships only from the datawallet, so the
    // onboarding identity must have been created with datawalletEnabled.
    let O = accounts.A;
    if (!O || !O.config.datawalletEnabled) {
        stage("creating D, an identity with datawalletEnabled=true (A has it off)");
        t.diagnostic(
            `A ${O ? "was created with datawalletEnabled=false (INTEROP_DATAWALLET=0)" : "does not exist"}: a new device gets the relationships only through the datawallet, ` +
                "so this step onboards a device of D, a fresh identity with datawalletEnabled=true (INTEROP_DATAWALLET=1 makes it use A)"
        );
        const dwTransport = await createTransport({ baseUrl, loggerFactory, datawalletEnabled: true });
        const { account, initError } = await createAccount(dwTransport, connection, "D");
        if (initError) throw new HarnessError(`creating D (datawalletEnabled=true) failed: ${describeError(initError)}`, { cause: initError });
        O = setLabel(account, "D");
        accounts.D = O;
    }
    setLabel(O, O === accounts.A ? "A" : "D");
    t.diagnostic(`onboarding identity ${labelOf(O)} = ${O.identity.address}`);

    stage("creating C and a relationship between C and the onboarding identity");
    const { account: C, initError } = await createAccount(transport, connection, "C");
    if (initError) throw new HarnessError(`creating C failed: ${describeError(initError)}`, { cause: initError });
    setLabel(C, "C");
    accounts.C = C;
    const rel = await establishRelationship(O, C, { loggerFactory, onStage: (s) => stage(`relationship ${labelOf(O)}<->C: ${s}`), tag: "k" });
    await O.syncDatawallet();

    const anonymousTokens = new AnonymousTokenController(transport.config);
    const { device, newDevice } = await onboardNewDevice(O, connection, { anonymousTokens, onStage: stage });
    setLabel(newDevice, `${labelOf(O)}'`);
    t.diagnostic(`new device ${device.id} (username ${device.username}) onboarded`);

    stage("checking the new device's identity and device");
    assert.equal(newDevice.identity.address.toString(), O.identity.address.toString(), "the onboarded device has another identity address");
    assert.equal(newDevice.activeDevice.id.toString(), device.id.toString(), "the onboarded device uses another device id");
    const self = (await newDevice.deviceAuthClient.getCurrentDevice()).value;
    assert.equal(self.id, device.id.toString(), "GET /api/v2/Devices/Self of the new device returned another id");

    stage("new device syncs until it sees the relationship to C");
    const seen = await syncUntil(
        newDevice,
        `Active relationship ${rel.id} to C`,
        async () => {
            const r = await relationshipTo(newDevice, C);
            return r?.status === RelationshipStatus.Active ? r : undefined;
        },
        { loggerFactory, describe: async () => (await newDevice.relationships.getRelationships()).map(describeRelationship).join("; ") || "no relationships" }
    );
    assert.equal(seen.id.toString(), rel.id.toString(), "the new device sees another relationship");

    stage("the onboarding changed the device password: the initial password no longer logs in");
    const login = await newDevice.authenticator.authClient.authenticate({
        grantType: "password",
        clientId: PLATFORM_CLIENT_ID,
        clientSecret: PLATFORM_CLIENT_SECRET,
        username: device.username,
        password: device.initialPassword
    });
    assert.ok(login.isError, "POST /connect/token still accepts the device's initial password after onboarding");

    stage(`old device syncs until it sees the onboarded device (datawallet round trip)`);
    await syncUntil(O, `device ${device.id} onboarded (publicKey set)`, async () => !!(await O.devices.get(device.id))?.publicKey, {
        loggerFactory,
        describe: async () => JSON.stringify((await O.devices.get(device.id))?.toJSON() ?? null)
    });
    assertExternalEventsApplied(mark, logMark);
});

step("l: more tokens: personalized token, delete, empty token filled via UpdateContent", async (t) => {
    await ensureRealClock(t);
    const A = requireAccount(t, "A");
    if (!A) return;
    const B = accounts.B;
    const anonymous = new AnonymousTokenController(transport.config);
    const expiresAt = CoreDate.utc().add({ minutes: 10 });

    if (B) {
        stage("A creates a token for B (forIdentity); B loads it");
        const personal = await A.tokens.sendToken({ content: { content: "for B" }, expiresAt, ephemeral: false, forIdentity: B.identity.address });
        const ref = TokenReference.from(personal.toTokenReference(baseUrl).truncate());
        assert.equal(ref.forIdentityTruncated, B.identity.address.toString().slice(-4));
        const byB = await B.tokens.loadPeerTokenByReference(ref, true);
        assert.deepEqual(contentValue(byB.content), { content: "for B" });
        assert.equal(byB.forIdentity?.toString(), B.identity.address.toString(), "forIdentity as B sees it");

        stage("anonymous load of B's token without the forIdentity hint (server must answer 404)");
        const bare = TokenReference.from({ id: personal.id, key: personal.secretKey });
        const e = await rejection(anonymous.loadPeerTokenByReference(bare), "anonymous GET of a personalized token");
        assert.equal(e.code, "error.platform.recordNotFound", `unexpected error: ${describeError(e)}`);
    }

    stage("A deletes a token (DELETE /api/v2/Tokens/{id}); loading it then fails");
    const token = await A.tokens.sendToken({ content: { content: "to be deleted" }, expiresAt, ephemeral: false });
    const ref = TokenReference.from(token.toTokenReference(baseUrl).truncate());
    await A.tokens.delete(token);
    assert.equal(await A.tokens.getToken(token.id), undefined, "the library still has the deleted token");
    const gone = await rejection(anonymous.loadPeerTokenByReference(ref), "loading a deleted token");
    assert.equal(gone.code, "error.platform.recordNotFound", `unexpected error: ${describeError(gone)}`);

    stage("anonymous empty token (POST /api/v2/Tokens without Authorization)");
    const empty = await anonymous.createEmptyToken();
    const emptyRef = TokenReference.from(empty.toTokenReference(baseUrl).truncate());
    assert.equal(await A.tokens.isEmptyToken(emptyRef), true, "isEmptyToken() of a fresh empty token");
    const emptyLoad = await rejection(anonymous.loadPeerTokenByReference(emptyRef), "loading an empty token");
    assert.equal(emptyLoad.code, "error.transport.tokens.emptyToken", `unexpected error: ${describeError(emptyLoad)}`);

    stage("A fills the empty token (POST /api/v2/Tokens/{id}/UpdateContent)");
    const filled = await A.tokens.updateTokenContent({ id: empty.id, secretKey: empty.secretKey, content: { content: "filled" }, passwordProtection: emptyRef.passwordProtection });
    assert.equal(filled.id.toString(), empty.id.toString());
    assert.equal(await A.tokens.isEmptyToken(emptyRef), false, "isEmptyToken() after UpdateContent");
    const loaded = await anonymous.loadPeerTokenByReference(emptyRef);
    assert.deepEqual(contentValue(loaded.content), { content: "filled" }, "content of the filled token");
    assert.equal(loaded.createdBy.toString(), A.identity.address.toString(), "createdBy of the filled token");
});

/** The raw public key inside a base64(JSON{pub, alg}) string, for comparison. */
function publicKeyBytes(b64) {
    try {
        return JSON.parse(Buffer.from(b64, "base64").toString("utf8")).pub;
    } catch {
        return b64;
    }
}

// ---------------------------------------------------------------------------
// m-o: files and messages (library controllers; blob storage per INTEROP_BLOB_STORAGE)
// ---------------------------------------------------------------------------

/** Plaintext size of the attachment in step m; the upload (ciphertext) is about 4/3 of it, below the 10 MiB limit. */
const ATTACHMENT_BYTES = Number(process.env.INTEROP_ATTACHMENT_BYTES ?? 5 * 1024 * 1024 + 12345);

function sha256(bytes) {
    return crypto.createHash("sha256").update(bytes).digest("hex");
}

/** Creates a fresh account for a step (with its label), failing the step if that does not work. */
async function newAccount(name) {
    const { account, initError } = await createAccount(transport, connection, name);
    if (initError) throw new HarnessError(`creating ${name} failed: ${describeError(initError)}`, { cause: initError });
    setLabel(account, name);
    accounts[name] = account;
    return account;
}

/** The server's view of a message for `account` (GET /api/v2/Messages/{id} through the library's REST client). */
async function serverViewOfMessage(account, id) {
    return (await authenticatedClient(account).get(`/api/v2/Messages/${id}`)).value;
}

step("m: A uploads several MiB (files.sendFile) and sends B a message with it attached; B syncs, reads it, downloads the attachment: same bytes", async (t, mark) => {
    await ensureRealClock(t);
    const A = requireAccount(t, "A");
    const B = A && requireAccount(t, "B");
    if (!A || !B) return;
    const logMark = loggerFactory.total;

    stage("ensuring an Active relationship A<->B (step i decomposed the one of g)");
    const relationshipId = await ensureActiveRelationship(A, B, { loggerFactory, onStage: stage, tag: "m" });
    shared.relationshipAB = relationshipId;

    stage(`A uploads ${ATTACHMENT_BYTES} random bytes (files.sendFile -> POST /api/v2/Files, multipart)`);
    const plain = crypto.randomBytes(ATTACHMENT_BYTES);
    const plainHash = sha256(plain);
    const expiresAt = CoreDate.utc().add({ hours: 1 });
    const file = await A.files.sendFile({
        buffer: new CoreBuffer(new Uint8Array(plain)),
        title: "interop m",
        description: "random bytes",
        filename: "interop-m.bin",
        mimetype: "application/octet-stream",
        filemodified: CoreDate.from("2024-01-02T03:04:05.000Z"),
        expiresAt,
        tags: ["interop", "m"]
    });
    assert.match(file.id.toString(), /^FIL[A-Za-z0-9]{17}$/, "file id");
    shared.fileOfA = file.id.toString();
    assert.equal(file.isOwn, true);
    assert.equal(file.owner.toString(), A.identity.address.toString(), "owner (POST /api/v2/Files result)");
    assert.equal(file.createdBy.toString(), A.identity.address.toString(), "createdBy (POST /api/v2/Files result)");
    assert.equal(file.createdByDevice.toString(), A.activeDevice.id.toString(), "createdByDevice (POST /api/v2/Files result)");
    assert.equal(file.expiresAt.toISOString(), expiresAt.toISOString(), "expiresAt (POST /api/v2/Files result)");
    t.diagnostic(`file ${file.id}, ownershipToken ${file.ownershipToken ? "returned" : "NOT returned"} by POST /api/v2/Files`);
    if (proxy) {
        const post = exchangesSince(mark, "POST", "/api/v2/Files").at(-1);
        t.diagnostic(`POST /api/v2/Files: ${post?.reqBody} -> ${post?.status}`);
    }

    stage(`the blob is in the configured storage (${blobStorage.describe()})`);
    const stat = await blobStorage.stat(file.id.toString());
    assert.ok(stat, `${blobStorage.describe()} holds no blob named ${file.id}`);
    assert.ok(stat.size > ATTACHMENT_BYTES, `the stored blob has ${stat.size} bytes, less than the plaintext (${ATTACHMENT_BYTES}); it should be the ciphertext`);
    const serverLog = fs.readFileSync(server.logFile, "utf8");
    const expectedLine = `file contents are kept in the ${blobStorage.expectedServerLogLine()}`;
    assert.ok(serverLog.includes(expectedLine), `the server log does not say '${expectedLine}'`);

    stage("A sends B a message with the file attached (messages.sendMessage -> POST /api/v2/Messages)");
    const content = { content: "interop message m", number: 13, nested: { list: [1, "two"] } };
    const sent = await A.messages.sendMessage({ recipients: [B.identity.address], content, attachments: [file] });
    assert.match(sent.id.toString(), /^MSG[A-Za-z0-9]{17}$/, "message id");
    assert.deepEqual(sent.attachments.map(String), [file.id.toString()], "attachments of the sent message");

    stage("B syncs until the message arrives (MessageReceived -> GET /api/v2/Messages/{id}, GET /api/v2/Files/{id}/metadata)");
    const received = await syncUntilMessage(B, sent.id, syncOpts());
    assert.equal(received.isOwn, false);
    assert.deepEqual(contentValue(received.content), content, "content as B decrypted it");
    assert.equal(received.createdBy.toString(), A.identity.address.toString(), "createdBy");
    assert.equal(received.createdByDevice.toString(), A.activeDevice.id.toString(), "createdByDevice");
    assert.deepEqual(received.attachments.map(String), [file.id.toString()], "attachments as B sees them");
    assert.deepEqual(received.recipients.map((r) => r.address.toString()), [B.identity.address.toString()], "recipients as B sees them");
    assert.equal(received.recipients[0].relationshipId?.toString(), relationshipId.toString(), "relationshipId of B's recipient entry");

    stage("B has the attachment's metadata (loaded through the message's file reference)");
    const fileB = await B.files.getFile(received.attachments[0]);
    assert.ok(fileB, "B's sync did not load the attachment (files.getFile)");
    const again = await B.files.getOrLoadFileByReference(file.toFileReference(baseUrl));
    assert.equal(again.id.toString(), file.id.toString());
    assert.equal(fileB.isOwn, false);
    assert.equal(fileB.owner.toString(), A.identity.address.toString(), "owner as B sees it");
    assert.equal(fileB.filename, "interop-m.bin");
    assert.equal(fileB.filesize, ATTACHMENT_BYTES, "filesize (encrypted metadata)");
    assert.equal(fileB.mimetype, "application/octet-stream");
    assert.equal(fileB.title, "interop m");
    assert.equal(fileB.cipherHash.hash, file.cipherHash.hash, "cipherHash (GET /api/v2/Files/{id}/metadata)");

    stage("B downloads the content (files.downloadFileContent -> GET /api/v2/Files/{id})");
    const downloaded = await B.files.downloadFileContent(fileB);
    const bytes = Buffer.from(downloaded.buffer);
    assert.equal(bytes.length, ATTACHMENT_BYTES, "size of the downloaded plaintext");
    assert.equal(sha256(bytes), plainHash, "SHA-256 of the downloaded plaintext");
    if (proxy) {
        const get = exchangesSince(mark, "GET", `/api/v2/Files/${file.id}`).filter((x) => x.path === `/api/v2/Files/${file.id}`).at(-1);
        t.diagnostic(`GET /api/v2/Files/${file.id}: ${get?.status} ${get?.resBody} content-length ${get?.resHeaders?.["content-length"]}`);
    }

    stage("A's server view: B's receipt (GET /api/v2/Messages/{id} through the library's REST client)");
    const view = await serverViewOfMessage(A, sent.id);
    const entry = view.recipients?.find((r) => r.address === B.identity.address.toString());
    assert.ok(entry, `A's GET /api/v2/Messages/${sent.id} has no recipient entry for B: ${JSON.stringify(view.recipients)}`);
    assert.ok(entry.receivedAt, "the server did not record that B received the message (receivedAt)");
    assert.equal(entry.receivedByDevice, B.activeDevice.id.toString(), "receivedByDevice");
    assertExternalEventsApplied(mark, logMark);
});

step("n: a message to two recipients (B and C): both receive it; each sees only itself as recipient on the server", async (t, mark) => {
    await ensureRealClock(t);
    const A = requireAccount(t, "A");
    const B = A && requireAccount(t, "B");
    if (!A || !B) return;
    const logMark = loggerFactory.total;
    let C = accounts.C;
    if (!C) {
        stage("creating C (step k did not)");
        C = await newAccount("C");
    }

    stage("ensuring Active relationships A<->B and A<->C");
    const relB = await ensureActiveRelationship(A, B, { loggerFactory, onStage: stage, tag: "n" });
    const relC = await ensureActiveRelationship(A, C, { loggerFactory, onStage: stage, tag: "n" });

    stage("A sends one message to B and C (messages.sendMessage)");
    const content = { content: "interop message n", to: ["B", "C"] };
    const sent = await A.messages.sendMessage({ recipients: [B.identity.address, C.identity.address], content });
    assert.deepEqual(
        sent.recipients.map((r) => r.address.toString()),
        [B.identity.address.toString(), C.identity.address.toString()],
        "recipients of the sent message (A's view)"
    );

    for (const [label, R, relId] of [["B", B, relB], ["C", C, relC]]) {
        stage(`${label} syncs until the message arrives`);
        const got = await syncUntilMessage(R, sent.id, syncOpts());
        assert.deepEqual(contentValue(got.content), content, `content as ${label} decrypted it`);
        assert.equal(got.createdBy.toString(), A.identity.address.toString(), `createdBy as ${label} sees it`);
        // the library keeps only the own entry of a received message, whatever the server sends
        assert.deepEqual(got.recipients.map((r) => r.address.toString()), [R.identity.address.toString()], `recipients in ${label}'s library`);
        assert.equal(got.recipients[0].relationshipId?.toString(), relId.toString(), `relationshipId in ${label}'s library`);

        stage(`${label}'s server view (GET /api/v2/Messages/{id} through the library's REST client)`);
        const view = await serverViewOfMessage(R, sent.id);
        assert.deepEqual(
            view.recipients.map((r) => r.address),
            [R.identity.address.toString()],
            `the server shows ${label} other recipients: ${JSON.stringify(view.recipients.map((r) => r.address))}`
        );
        assert.ok(view.recipients[0].receivedAt, `the server did not record that ${label} received it`);
    }

    stage("A's server view: both recipients, both received");
    const view = await serverViewOfMessage(A, sent.id);
    assert.deepEqual(view.recipients.map((r) => r.address).sort(), [B.identity.address.toString(), C.identity.address.toString()].sort(), "recipients in A's view");
    for (const r of view.recipients) assert.ok(r.receivedAt, `no receivedAt for ${r.address} in A's view`);
    assertExternalEventsApplied(mark, logMark);
});

const LIBRARY_PRECHECK_CODE = "error.transport.messages.hasNeitherActiveNorTerminatedRelationship";

/**
 * `sender` tries to message `recipient` through the library (sendMessage), then sends an
 * otherwise valid POST /api/v2/Messages straight to the server through the library's REST
 * client; the server must refuse it with `serverCode` (400). Returns what the library did.
 */
async function expectMessageRefused(t, sender, recipient, what, serverCode) {
    stage(`${what}: ${labelOf(sender)} -> ${labelOf(recipient)} through the library (messages.sendMessage)`);
    const before = proxy?.mark(`  - (${what}: library call)`) ?? 0;
    const libError = await rejection(
        sender.messages.sendMessage({ recipients: [recipient.identity.address], content: { content: `refused: ${what}` } }),
        `${what}: messages.sendMessage to ${labelOf(recipient)}`
    );
    const posted = exchangesSince(before, "POST", "/api/v2/Messages");
    let library;
    if (proxy && posted.length) {
        library = `sent POST /api/v2/Messages (${posted.at(-1).status}), surfaced ${libError.code}`;
        assert.equal(libError.code, serverCode, `${what}: the library sent the message and surfaced ${describeError(libError)}`);
    } else {
        library = `refused before sending (${libError.code}${proxy ? ", no POST /api/v2/Messages" : ""})`;
        const expected = proxy ? [LIBRARY_PRECHECK_CODE] : [LIBRARY_PRECHECK_CODE, serverCode];
        assert.ok(expected.includes(libError.code), `${what}: unexpected library error ${describeError(libError)}`);
    }
    t.diagnostic(`${what}: library ${library}`);

    stage(`${what}: the same request straight to the server (POST /api/v2/Messages through the library's REST client)`);
    const direct = proxy?.mark(`  - (${what}: direct POST)`) ?? 0;
    const result = await authenticatedClient(sender).post("/api/v2/Messages", {
        recipients: [{ address: recipient.identity.address.toString(), encryptedKey: crypto.randomBytes(80).toString("base64") }],
        body: crypto.randomBytes(200).toString("base64"),
        attachments: []
    });
    assert.ok(result.isError, `${what}: the server accepted the message: ${JSON.stringify(result.isError ? undefined : result.value)}`);
    assert.equal(result.error.code, serverCode, `${what}: ${describeError(result.error)}`);
    if (proxy) assert.equal(exchangesSince(direct, "POST", "/api/v2/Messages").at(-1)?.status, 400, `${what}: status of the refused POST /api/v2/Messages`);
    t.diagnostic(`${what}: server refused with 400 ${result.error.code}`);
    return { library, libraryCode: libError.code, serverCode: result.error.code };
}

step("o: a message to a peer without an active relationship is refused (no relationship; rejected relationship)", async (t) => {
    await ensureRealClock(t);
    const A = requireAccount(t, "A");
    if (!A) return;

    stage("creating E (no relationship to A)");
    const E = await newAccount("E");
    await expectMessageRefused(t, A, E, "no relationship", "error.platform.validation.message.noRelationshipToRecipientExists");

    stage("creating F; A requests a relationship through F's template; F rejects it");
    const F = await newAccount("F");
    const template = await F.relationshipTemplates.sendRelationshipTemplate({ content: { mycontent: "template o" }, expiresAt: CoreDate.utc().add({ minutes: 10 }), maxNumberOfAllocations: 1 });
    const peerTemplate = await A.relationshipTemplates.loadPeerRelationshipTemplateByReference(
        RelationshipTemplateReference.from(template.toRelationshipTemplateReference(baseUrl).truncate())
    );
    const requested = await A.relationships.sendRelationship({ template: peerTemplate, creationContent: { mycontent: "request o" } });
    const pending = await syncUntilRelationship(F, requested.id, "status Pending", (r) => r.status === RelationshipStatus.Pending, syncOpts());
    const rejected = await F.relationships.reject(pending.id);
    assert.equal(rejected.status, RelationshipStatus.Rejected, "status after PUT .../Reject");
    stage("A syncs until Rejected");
    await syncUntilRelationship(A, requested.id, "status Rejected", (r) => r.status === RelationshipStatus.Rejected, syncOpts());

    await expectMessageRefused(t, A, F, "rejected relationship", "error.platform.validation.message.relationshipToRecipientNotActive");
});

// ---------------------------------------------------------------------------
// p-q: identity deletion (IdentityDeletionProcessController, peer events, the deletion job)
// ---------------------------------------------------------------------------

/** The library's events (RecordingEventBus) for `account` since `mark` with the namespace, about relationship `id`. */
function libraryEvents(account, mark, namespace, relationshipId) {
    return transport.eventBus
        .since(mark, account.identity.address.toString())
        .filter((e) => e.namespace === namespace && (relationshipId === undefined || e.data?.id?.toString() === relationshipId.toString()));
}

/** External events as the server delivered them since `mark` (GET /api/v2/SyncRuns/{id}/ExternalEvents responses), e.g. "PeerToBeDeleted {...}". */
function externalEventsOnWire(mark) {
    const out = [];
    for (const x of exchangesSince(mark, "GET", "/api/v2/SyncRuns/").filter((e) => e.path.includes("/ExternalEvents") && e.status === 200)) {
        try {
            for (const ev of JSON.parse(x.resBody).result ?? []) out.push(`${ev.type} ${JSON.stringify(ev.payload)}`);
        } catch {
            out.push(`(unparsable or cut body of #${x.seq})`);
        }
    }
    return out;
}

/** ISO string of a CoreDate / date string, for comparisons that ignore the textual format. */
function iso(date) {
    return date === undefined || date === null ? String(date) : CoreDate.from(date).toISOString();
}

/** Deletion process as text, for messages. */
function describeProcess(p) {
    return p ? JSON.stringify(p.toJSON()) : String(p);
}

step("p: A starts an identity deletion process and cancels it; B syncs until it saw PeerToBeDeleted, then PeerDeletionCancelled", async (t, mark) => {
    await ensureRealClock(t);
    const A = requireAccount(t, "A");
    const B = A && requireAccount(t, "B");
    if (!A || !B) return;
    const logMark = loggerFactory.total;
    const eventMark = transport.eventBus.mark();

    stage("ensuring an Active relationship A<->B");
    const relationshipId = await ensureActiveRelationship(A, B, { loggerFactory, onStage: stage, tag: "p" });
    const before = await B.relationships.getRelationship(relationshipId);
    assert.equal(before?.peerDeletionInfo, undefined, `B's relationship already has peerDeletionInfo: ${describeRelationship(before)}`);

    stage("A starts a deletion process (identityDeletionProcess.initiateIdentityDeletionProcess() -> POST /api/v2/Identities/Self/DeletionProcesses)");
    const startMark = proxy?.mark("  - (initiate)") ?? 0;
    const startedAt = CoreDate.utc();
    const started = await A.identityDeletionProcess.initiateIdentityDeletionProcess();
    if (proxy) {
        const post = exchangesSince(startMark, "POST", "/api/v2/Identities/Self/DeletionProcesses").at(-1);
        t.diagnostic(`POST /api/v2/Identities/Self/DeletionProcesses ${post?.reqBody || "(no body)"} -> ${post?.status} ${post?.resBody}`);
    }
    assert.match(started.id.toString(), /^IDP[A-Za-z0-9]{17}$/, "deletion process id");
    assert.equal(started.status, "Active", `status of the new process: ${describeProcess(started)}`);
    assert.equal(started.createdByDevice?.toString(), A.activeDevice.id.toString(), "createdByDevice");
    assert.ok(started.gracePeriodEndsAt, `the new process has no gracePeriodEndsAt: ${describeProcess(started)}`);
    assert.ok(started.gracePeriodEndsAt.isAfter(startedAt.add({ days: 1 })), `gracePeriodEndsAt ${started.gracePeriodEndsAt} is not days ahead (default grace period)`);
    const stored = await A.identityDeletionProcess.getIdentityDeletionProcess(started.id.toString());
    assert.equal(stored?.status, "Active", "the library did not store the process");

    stage("B syncs until its relationship to A shows the peer ToBeDeleted (PeerToBeDeleted -> relationship.peerDeletionInfo)");
    const toBeDeleted = await syncUntilRelationship(B, relationshipId, "peerDeletionInfo.deletionStatus ToBeDeleted", (r) => r.peerDeletionInfo?.deletionStatus === "ToBeDeleted", syncOpts());
    assert.equal(iso(toBeDeleted.peerDeletionInfo.deletionDate), iso(started.gracePeriodEndsAt), "deletionDate of PeerToBeDeleted (should be the process' gracePeriodEndsAt)");
    assert.equal(toBeDeleted.status, RelationshipStatus.Active, `the relationship is no longer Active: ${describeRelationship(toBeDeleted)}`);

    stage("A's server view of its processes (GET /api/v2/Identities/Self/DeletionProcesses and /{id}, library REST client)");
    const list = (await authenticatedClient(A).get("/api/v2/Identities/Self/DeletionProcesses")).value;
    const listed = list.find((p) => p.id === started.id.toString());
    assert.ok(listed, `GET .../DeletionProcesses does not list ${started.id}: ${JSON.stringify(list)}`);
    assert.equal(listed.status, "Active", `status in the list: ${JSON.stringify(listed)}`);
    const one = (await authenticatedClient(A).get(`/api/v2/Identities/Self/DeletionProcesses/${started.id}`)).value;
    assert.equal(one.status, "Active", `GET .../DeletionProcesses/${started.id}: ${JSON.stringify(one)}`);
    assert.equal(iso(one.gracePeriodEndsAt), iso(started.gracePeriodEndsAt), "gracePeriodEndsAt of GET .../{id}");

    stage("A cancels (identityDeletionProcess.cancelIdentityDeletionProcess(id) -> PUT /api/v2/Identities/Self/DeletionProcesses/{id}/Cancel)");
    const cancelledAt = CoreDate.utc();
    const cancelled = await A.identityDeletionProcess.cancelIdentityDeletionProcess(started.id.toString());
    assert.equal(cancelled.id.toString(), started.id.toString());
    assert.equal(cancelled.status, "Cancelled", `status after Cancel: ${describeProcess(cancelled)}`);
    // The .NET Backbone answers Cancel with {id, status, cancelledAt, cancelledByDevice}; the library
    // stores that object as the process. Checked at the end, so the peer's side is checked anyway.
    const cancelProblems = [];
    if (!cancelled.cancelledAt) cancelProblems.push("no cancelledAt");
    else if (!cancelled.cancelledAt.isWithin({ minutes: 1 }, { minutes: 1 }, cancelledAt)) cancelProblems.push(`cancelledAt ${cancelled.cancelledAt} is not about now`);
    if (cancelled.cancelledByDevice?.toString() !== A.activeDevice.id.toString()) cancelProblems.push(`cancelledByDevice is ${cancelled.cancelledByDevice}, not ${A.activeDevice.id}`);
    const cancelExchange = proxy ? exchangesSince(mark, "PUT", `/api/v2/Identities/Self/DeletionProcesses/${started.id}/Cancel`).at(-1) : undefined;
    assert.equal((await A.identityDeletionProcess.getIdentityDeletionProcess(started.id.toString()))?.status, "Cancelled", "A's local process after cancel");

    stage("B syncs until the peerDeletionInfo is gone (PeerDeletionCancelled)");
    const back = await syncUntilRelationship(B, relationshipId, "peerDeletionInfo removed", (r) => !r.peerDeletionInfo, syncOpts());
    assert.equal(back.status, RelationshipStatus.Active, `B: ${describeRelationship(back)}`);

    stage("the library's events at B (transport.peerToBeDeleted, transport.peerDeletionCancelled for the relationship)");
    const toBe = libraryEvents(B, eventMark, "transport.peerToBeDeleted", relationshipId);
    const cancel = libraryEvents(B, eventMark, "transport.peerDeletionCancelled", relationshipId);
    t.diagnostic(`external events on the wire: ${externalEventsOnWire(mark).join("; ") || "(none / no proxy)"}`);
    assert.equal(toBe.length, 1, `B's library published ${toBe.length} transport.peerToBeDeleted events for ${relationshipId}`);
    assert.equal(cancel.length, 1, `B's library published ${cancel.length} transport.peerDeletionCancelled events for ${relationshipId}`);

    stage("A syncs (its own process: no event expected; the local process stays Cancelled)");
    await A.syncEverything();
    assert.equal((await A.identityDeletionProcess.getIdentityDeletionProcess(started.id.toString()))?.status, "Cancelled", "A's local process after a sync");
    const after = (await authenticatedClient(A).get(`/api/v2/Identities/Self/DeletionProcesses/${started.id}`)).value;
    assert.equal(after.status, "Cancelled", `server view after cancel: ${JSON.stringify(after)}`);
    const isDeleted = await A.identity.checkIfIdentityIsDeleted();
    if (isDeleted.isError) throw isDeleted.error;
    assert.deepEqual(isDeleted.value, { isDeleted: false, deletionDate: undefined }, "IsDeleted of A after the cancellation");
    assertExternalEventsApplied(mark, logMark);

    stage("the Cancel result as the library stored it (cancelledAt, cancelledByDevice, as the .NET Backbone sends them)");
    assert.deepEqual(
        cancelProblems,
        [],
        `PUT .../DeletionProcesses/${started.id}/Cancel: the library's process lacks what the .NET Backbone returns (CancelDeletionProcessAsOwnerResponse: id, status, cancelledAt, cancelledByDevice): ${cancelProblems.join("; ")}\n` +
            `library: ${describeProcess(cancelled)}${cancelExchange ? `\nwire: ${formatExchange(cancelExchange, { headers: false, maxBody: 1000 }).trimEnd()}` : ""}`
    );
});

// ---------------------------------------------------------------------------
// r: quotas (before q, which deletes A)
// ---------------------------------------------------------------------------

/**
 * An Admin API request with the key the dev landscape generated into the data dir. Changes
 * first do the XSRF handshake as the Admin UI does: `GET /api/v1/xsrf` sets the cookie and
 * answers the token, both go with the request.
 */
async function adminApi(method, route, body) {
    const key = fs.readFileSync(path.join(server.dataDir, "admin-api-key"), "utf8").trim();
    const headers = { "x-api-key": key, ...(body ? { "content-type": "application/json" } : {}) };
    if (method !== "GET") {
        const handshake = await fetch(`http://127.0.0.1:${server.adminPort}/api/v1/xsrf`);
        assert.equal(handshake.status, 200, "GET /api/v1/xsrf");
        headers.cookie = (handshake.headers.get("set-cookie") ?? "").split(";")[0];
        headers["x-xsrf-token"] = await handshake.text();
    }
    const response = await fetch(`http://127.0.0.1:${server.adminPort}${route}`, {
        method,
        headers,
        body: body ? JSON.stringify(body) : undefined
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * Asserts a quota refusal naming `metric`. @nmshd/transport 7.0.0 reads error bodies of 400, 404
 * and 500 responses only; a 429 (as upstream answers it too) reaches the caller as
 * `error.platform.unexpected` with status 429, so the code and the metric are checked on the wire.
 */
function assertQuotaExhausted(error, metric, what, mark) {
    assert.equal(error.status, 429, `${what}: ${describeError(error)}`);
    if (!proxy) return;
    const exchange = proxy.since(mark).filter((x) => x.status === 429).at(-1);
    assert.ok(exchange, `${what}: no 429 on the wire`);
    const body = JSON.parse(exchange.resBody);
    assert.equal(body.error.code, "error.platform.quotaExhausted", `${what}: 429 body ${exchange.resBody}`);
    assert.deepEqual(body.error.data.map((m) => m.metricKey), [metric], `${what}: 429 body ${exchange.resBody}`);
}

step("r: quotas: an operator gives G's tier 2 sent messages per hour (Admin API); G sends two, the third is refused; H starts its deletion and can no longer create a token", async (t, mark) => {
    await ensureRealClock(t);
    stage("creating G and H with an Active relationship");
    const G = await newAccount("G");
    const H = await newAccount("H");
    await ensureActiveRelationship(G, H, { loggerFactory, onStage: stage, tag: "r" });

    stage("the operator creates a tier with 2 sent messages per hour and moves G to it (POST /api/v1/Tiers, POST .../Quotas, PUT /api/v1/Identities/{address})");
    const tier = await adminApi("POST", "/api/v1/Tiers", { name: "Interop quota" });
    assert.equal(tier.status, 201, `POST /api/v1/Tiers: ${JSON.stringify(tier.body)}`);
    const tierId = tier.body.result.id;
    const quota = await adminApi("POST", `/api/v1/Tiers/${tierId}/Quotas`, { metricKey: "NumberOfSentMessages", max: 2, period: "Hour" });
    assert.equal(quota.status, 201, `POST /api/v1/Tiers/${tierId}/Quotas: ${JSON.stringify(quota.body)}`);
    const moved = await adminApi("PUT", `/api/v1/Identities/${G.identity.address}`, { tierId });
    assert.equal(moved.status, 204, `PUT /api/v1/Identities/{address}: ${JSON.stringify(moved.body)}`);

    stage("G sends two messages to H (messages.sendMessage), the third is refused");
    for (const n of [1, 2]) {
        await G.messages.sendMessage({ recipients: [H.identity.address], content: { content: `quota message ${n}` } });
    }
    const refused = await rejection(G.messages.sendMessage({ recipients: [H.identity.address], content: { content: "quota message 3" } }), "third message");
    assertQuotaExhausted(refused, "NumberOfSentMessages", "third message", mark);
    const details = await adminApi("GET", `/api/v1/Identities/${G.identity.address}`);
    const usage = details.body.result.quotas.find((q) => q.metric.key === "NumberOfSentMessages");
    assert.deepEqual([usage?.max, usage?.usage, usage?.source], [2, 2, "Tier"], `G's quotas in the Admin API: ${JSON.stringify(details.body.result.quotas)}`);
    t.diagnostic(`third message: the library reports ${refused.code} (${refused.status})`);

    stage("H starts its deletion; the library can no longer create a token for H (Queued for Deletion: max 0)");
    const expiresAt = CoreDate.utc().add({ minutes: 10 });
    await H.tokens.sendToken({ content: { content: "before the deletion" }, expiresAt, ephemeral: true });
    const process = await H.identityDeletionProcess.initiateIdentityDeletionProcess();
    const tokenMark = proxy?.mark("  - (token while deleting)") ?? 0;
    const token = await rejection(H.tokens.sendToken({ content: { content: "while deleting" }, expiresAt, ephemeral: true }), "token while deleting");
    assertQuotaExhausted(token, "NumberOfTokens", "token while deleting", tokenMark);
    t.diagnostic(`token while deleting: the library reports ${token.code} (${token.status})`);

    stage("H cancels its deletion and can create tokens again");
    await H.identityDeletionProcess.cancelIdentityDeletionProcess(process.id.toString());
    await H.tokens.sendToken({ content: { content: "after the cancellation" }, expiresAt, ephemeral: true });
});

step("s: announcements: an operator announces to everybody (English and German) and to I only (English, Admin API with the XSRF handshake); the library's getAnnouncements shows I German where it exists, English otherwise; J does not see I's", async (t) => {
    await ensureRealClock(t);
    stage("creating I and J");
    const I = await newAccount("I");
    const J = await newAccount("J");

    stage("the operator creates two announcements (GET /api/v1/xsrf, then POST /api/v1/Announcements with the cookie and X-XSRF-TOKEN)");
    const tag = Math.random().toString(36).slice(2, 8);
    const everybody = await adminApi("POST", "/api/v1/Announcements", {
        severity: "High",
        isSilent: false,
        expiresAt: CoreDate.utc().add({ days: 7 }).toString(),
        texts: [
            { language: "en", title: `Maintenance ${tag}`, body: "We are offline on Sunday." },
            { language: "de", title: `Wartung ${tag}`, body: "Am Sonntag sind wir offline." }
        ],
        actions: [{ displayName: { en: "Details", de: "Einzelheiten" }, link: "https://example.com/maintenance" }]
    });
    assert.equal(everybody.status, 201, `POST /api/v1/Announcements: ${JSON.stringify(everybody.body)}`);
    const onlyI = await adminApi("POST", "/api/v1/Announcements", {
        severity: "Low",
        isSilent: true,
        texts: [{ language: "en", title: `For I ${tag}`, body: "Only you see this." }],
        recipients: [I.identity.address.toString()]
    });
    assert.equal(onlyI.status, 201, `POST /api/v1/Announcements (recipients): ${JSON.stringify(onlyI.body)}`);
    const ids = [everybody.body.result.id, onlyI.body.result.id];

    stage("I reads its announcements in German (AnnouncementController.getAnnouncements(\"de\"))");
    const ofI = (await I.announcements.getAnnouncements("de")).filter((a) => ids.includes(a.id.toString()));
    assert.deepEqual(
        ofI.map((a) => [a.id.toString(), a.title, a.severity]),
        [
            [ids[0], `Wartung ${tag}`, "High"],
            [ids[1], `For I ${tag}`, "Low"]
        ],
        "I's announcements: the German text where there is one, English otherwise"
    );
    assert.deepEqual(ofI[0].actions.map((x) => [x.displayName, x.link]), [["Einzelheiten", "https://example.com/maintenance"]]);
    assert.equal(ofI[0].body, "Am Sonntag sind wir offline.");
    assert.ok(ofI[0].expiresAt, "expiresAt");

    stage("J reads its announcements in English: not the one for I");
    const ofJ = (await J.announcements.getAnnouncements("en")).filter((a) => ids.includes(a.id.toString()));
    assert.deepEqual(ofJ.map((a) => [a.id.toString(), a.title]), [[ids[0], `Maintenance ${tag}`]], "J's announcements");
});

step("q: A starts a deletion with a zero-day grace period; `backbone job run identity-deletion`; B syncs until the peer is Deleted; A cannot log in; IsDeleted says deleted", async (t, mark) => {
    await ensureRealClock(t);
    const A = requireAccount(t, "A");
    const B = A && requireAccount(t, "B");
    if (!A || !B) return;
    const logMark = loggerFactory.total;
    const eventMark = transport.eventBus.mark();

    stage("ensuring an Active relationship A<->B");
    const relationshipId = await ensureActiveRelationship(A, B, { loggerFactory, onStage: stage, tag: "q" });
    const open = await A.identityDeletionProcess.getIdentityDeletionProcessByStatus("Active");
    if (open) {
        stage(`cancelling the process ${open.id} that step p left open`);
        await A.identityDeletionProcess.cancelIdentityDeletionProcess(open.id.toString());
    }
    const credentials = await A.activeDevice.getCredentials();

    stage("A starts a deletion process with lengthOfGracePeriodInDays 0 (initiateIdentityDeletionProcess(0))");
    const startMark = proxy?.mark("  - (initiate 0)") ?? 0;
    const deletionProcess = await A.identityDeletionProcess.initiateIdentityDeletionProcess(0);
    if (proxy) {
        const post = exchangesSince(startMark, "POST", "/api/v2/Identities/Self/DeletionProcesses").at(-1);
        t.diagnostic(`POST /api/v2/Identities/Self/DeletionProcesses ${post?.reqBody} -> ${post?.status} ${post?.resBody}`);
        assert.deepEqual(JSON.parse(post.reqBody), { lengthOfGracePeriodInDays: 0 }, "request body");
    }
    assert.equal(deletionProcess.status, "Active", `status: ${describeProcess(deletionProcess)}`);
    assert.ok(deletionProcess.gracePeriodEndsAt?.isSameOrBefore(CoreDate.utc().add({ seconds: 5 })), `gracePeriodEndsAt ${deletionProcess.gracePeriodEndsAt} is not now (grace period 0)`);

    stage("IsDeleted before the job: the grace period is over (identity.checkIfIdentityIsDeleted() -> anonymous GET /api/v2/Identities/IsDeleted)");
    const pending = await A.identity.checkIfIdentityIsDeleted();
    if (pending.isError) throw pending.error;
    t.diagnostic(`IsDeleted before the job: ${JSON.stringify(pending.value)} (gracePeriodEndsAt ${deletionProcess.gracePeriodEndsAt})`);
    assert.equal(pending.value.isDeleted, true, "IsDeleted before the job (grace period over, as upstream)");
    assert.equal(pending.value.deletionDate, deletionProcess.gracePeriodEndsAt.toString(), "deletionDate before the job = gracePeriodEndsAt (upstream compares the strings)");

    stage("running `backbone job run identity-deletion` (same env/database, server keeps running)");
    const job = await server.runJob("identity-deletion");
    t.diagnostic(`backbone job run identity-deletion: ${(job.stdout.trim() || job.stderr.trim().split("\n").at(-1) || "").slice(0, 300)}`);

    stage("B syncs until its relationship shows the peer Deleted (PeerDeleted -> relationship.peerDeletionInfo)");
    const deleted = await syncUntilRelationship(B, relationshipId, "peerDeletionInfo.deletionStatus Deleted", (r) => r.peerDeletionInfo?.deletionStatus === "Deleted", syncOpts());
    const deletionDate = deleted.peerDeletionInfo.deletionDate;
    assert.ok(deletionDate?.isSameOrAfter(deletionProcess.createdAt.subtract({ seconds: 1 })), `deletionDate ${deletionDate} of PeerDeleted is before the process started (${deletionProcess.createdAt})`);
    t.diagnostic(`B: ${describeRelationship(deleted)}`);

    stage("B's relationship is decomposed due to the identity deletion (RelationshipStatusChanged -> DeletionProposed)");
    const decomposed = await syncUntilRelationship(
        B,
        relationshipId,
        "status DeletionProposed, last audit entry DecompositionDueToIdentityDeletion",
        (r) => r.status === RelationshipStatus.DeletionProposed && lastAuditLogEntry(r)?.reason === "DecompositionDueToIdentityDeletion",
        syncOpts()
    );
    assert.equal(decomposed.peerDeletionInfo?.deletionStatus, "Deleted", `B: ${describeRelationship(decomposed)}`);
    assert.equal(libraryEvents(B, eventMark, "transport.peerDeleted", relationshipId).length, 1, "B's library published no transport.peerDeleted event for the relationship");
    t.diagnostic(`external events on the wire: ${externalEventsOnWire(mark).join("; ") || "(none / no proxy)"}`);

    stage("A can no longer log in (authClient.authenticate -> POST /connect/token)");
    const loginMark = proxy?.mark("  - (login of the deleted identity)") ?? 0;
    const login = await A.authenticator.authClient.authenticate({
        grantType: "password",
        clientId: PLATFORM_CLIENT_ID,
        clientSecret: PLATFORM_CLIENT_SECRET,
        username: credentials.username,
        password: credentials.password
    });
    assert.ok(login.isError, "POST /connect/token still grants a token to the deleted identity's device");
    const tokenCall = exchangesSince(loginMark, "POST", "/connect/token").at(-1);
    t.diagnostic(`login of the deleted identity: ${describeError(login.error)}${tokenCall ? `; wire ${tokenCall.status} ${tokenCall.resBody}` : ""}`);
    assert.equal(login.error.code, "error.transport.request.noAuthGrant", `library error: ${describeError(login.error)}`);
    assert.equal(login.error.object, "invalid_grant", `OAuth error of the refused login: ${describeError(login.error)}`);
    if (tokenCall) assert.equal(tokenCall.status, 400, "status of the refused POST /connect/token");

    stage("IsDeleted after the job (identity.checkIfIdentityIsDeleted())");
    const gone = await A.identity.checkIfIdentityIsDeleted();
    if (gone.isError) throw gone.error;
    t.diagnostic(`IsDeleted after the job: ${JSON.stringify(gone.value)}`);
    assert.equal(gone.value.isDeleted, true, "IsDeleted after the job");
    assert.ok(gone.value.deletionDate, "IsDeleted after the job has no deletionDate");
    assert.ok(CoreDate.from(gone.value.deletionDate).isSameOrAfter(deletionProcess.gracePeriodEndsAt), `deletionDate ${gone.value.deletionDate} is before the end of the grace period ${deletionProcess.gracePeriodEndsAt}`);

    if (shared.fileOfA) {
        stage(`A's file ${shared.fileOfA} (step m) is gone from ${blobStorage.describe()}`);
        assert.equal(await blobStorage.stat(shared.fileOfA), undefined, `${blobStorage.describe()} still holds ${shared.fileOfA} of the deleted identity`);
    }
    shared.deletedA = true;
    assertExternalEventsApplied(mark, logMark);
});
