// Library recipes used by the relationship / token / onboarding steps: every
// server interaction goes through the controllers of @nmshd/transport 7.0.0
// (relationshipTemplates, relationships, tokens, devices, syncEverything), the
// same way the upstream library tests (nmshd/runtime packages/transport/test,
// TestUtil.addRelationship & co.) and the apps use them.

import { CoreDate } from "@nmshd/core-types";
import { AccountController, RelationshipTemplateReference, RelationshipStatus, TokenContentDeviceSharedSecret, TokenReference } from "@nmshd/transport";

/** How long a peer may need until a change shows up through syncEverything(). */
export const SYNC_TIMEOUT_MS = Number(process.env.INTEROP_SYNC_TIMEOUT_MS ?? 10_000);

export class SyncTimeoutError extends Error {}

const labels = new WeakMap();

/** Gives an AccountController a short name for messages ("A", "B", ...). */
export function setLabel(account, label) {
    labels.set(account, label);
    return account;
}

export function labelOf(account) {
    return labels.get(account) ?? account?.identity?.address?.toString() ?? "?";
}

function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}

/**
 * Repeats account.syncEverything() until `condition()` returns a truthy value
 * (which is returned), at most `timeoutMs`. Between syncs it waits 20 ms,
 * doubling up to 500 ms (a poll interval, not a fixed sleep: it returns as soon
 * as the condition holds). On timeout it throws a SyncTimeoutError that says
 * what was expected, what the account sees (`describe()`), and the library's
 * error lines (e.g. external events it could not apply).
 */
export async function syncUntil(account, what, condition, { describe, loggerFactory, timeoutMs = SYNC_TIMEOUT_MS } = {}) {
    const started = Date.now();
    const logMark = loggerFactory?.total ?? 0;
    let syncs = 0;
    let delay = 20;
    let lastSyncError;
    for (;;) {
        syncs++;
        try {
            await account.syncEverything();
            lastSyncError = undefined;
        } catch (e) {
            // a failing sync is itself the finding; keep trying until the deadline, then report it
            lastSyncError = e;
        }
        if (!lastSyncError) {
            const value = await condition();
            if (value) return value;
        }
        if (Date.now() - started >= timeoutMs) break;
        await sleep(delay);
        delay = Math.min(delay * 2, 500);
    }
    const parts = [`${labelOf(account)}: ${what} - not reached after ${syncs} syncEverything() calls in ${Date.now() - started} ms`];
    if (lastSyncError) parts.push(`the last syncEverything() threw: ${lastSyncError.code ?? ""} ${lastSyncError.message}`);
    if (describe) parts.push(`${labelOf(account)} sees: ${await describe()}`);
    const errors = loggerFactory?.errorsSince(logMark) ?? [];
    if (errors.length) parts.push(`library errors meanwhile:\n  ${errors.slice(-5).join("\n  ")}`);
    throw new SyncTimeoutError(parts.join("\n"), { cause: lastSyncError });
}

/** Short text of a local relationship, for messages. */
export function describeRelationship(rel) {
    if (!rel) return "no relationship";
    const log = rel.auditLog.map((e) => `${e.reason}(${e.oldStatus ?? "-"}->${e.newStatus} by ${e.createdBy.toString().slice(-6)})`).join(", ");
    const deletion = rel.peerDeletionInfo ? ` peerDeletionInfo=${rel.peerDeletionInfo.deletionStatus}@${rel.peerDeletionInfo.deletionDate?.toString()}` : "";
    return `${rel.id} status=${rel.status} auditLog=[${log}]${deletion}`;
}

/** The account's local relationship to `peer` (the newest one), as the library reports it. */
export async function relationshipTo(account, peer) {
    return await account.relationships.getRelationshipToIdentity(peer.identity.address);
}

export function lastAuditLogEntry(rel) {
    return rel?.auditLog[rel.auditLog.length - 1];
}

/** `peer` syncs until its relationship `id` satisfies `predicate(rel)`. */
export async function syncUntilRelationship(account, id, what, predicate, opts = {}) {
    return await syncUntil(
        account,
        what,
        async () => {
            const rel = await account.relationships.getRelationship(id);
            return rel && predicate(rel) ? rel : undefined;
        },
        { ...opts, describe: async () => describeRelationship(await account.relationships.getRelationship(id)) }
    );
}

/**
 * The relationship handshake: `templator` creates a template, `requestor` loads it
 * through its truncated reference and sends the relationship request, `templator`
 * syncs until the pending relationship arrives and accepts it, `requestor` syncs
 * until it is Active. Returns the relationship id and both sides' views.
 *
 * Wire: POST /api/v2/RelationshipTemplates; GET /api/v2/RelationshipTemplates/{id};
 * GET /api/v2/Relationships/CanCreate?peer=..; POST /api/v2/Relationships;
 * sync runs (RelationshipStatusChanged) + GET /api/v2/Relationships/{id};
 * PUT /api/v2/Relationships/{id}/Accept.
 */
export async function establishRelationship(templator, requestor, { loggerFactory, onStage = () => undefined, tag = "" } = {}) {
    const opts = { loggerFactory };
    onStage("templator creates template");
    const template = await templator.relationshipTemplates.sendRelationshipTemplate({
        content: { mycontent: `template ${tag}`.trim() },
        expiresAt: CoreDate.utc().add({ minutes: 10 }),
        maxNumberOfAllocations: 1
    });
    const truncatedReference = template.toRelationshipTemplateReference(templator.config.baseUrl).truncate();

    onStage("requestor loads template");
    const peerTemplate = await requestor.relationshipTemplates.loadPeerRelationshipTemplateByReference(RelationshipTemplateReference.from(truncatedReference));

    onStage("requestor sends relationship request");
    const requested = await requestor.relationships.sendRelationship({ template: peerTemplate, creationContent: { mycontent: `request ${tag}`.trim() } });

    onStage("templator syncs until the pending relationship arrives");
    const pending = await syncUntilRelationship(templator, requested.id, `relationship ${requested.id} from ${labelOf(requestor)} (status Pending)`, (r) => r.status === RelationshipStatus.Pending, opts);

    onStage("templator accepts");
    const acceptedByTemplator = await templator.relationships.accept(pending.id);

    onStage("requestor syncs until Active");
    const activeAtRequestor = await syncUntilRelationship(requestor, requested.id, `relationship ${requested.id} Active`, (r) => r.status === RelationshipStatus.Active, opts);

    return { id: requested.id, template, truncatedReference, peerTemplate, requested, pending, acceptedByTemplator, activeAtRequestor };
}

/**
 * Device onboarding the way the apps do it: `account` registers a new (admin)
 * device, pushes its datawallet, builds the DeviceSharedSecret and puts it into an
 * (ephemeral) token; the new device loads that token anonymously and initialises a
 * fresh AccountController (own in-memory database) from the shared secret.
 *
 * Wire (old device): POST /api/v2/Challenges, POST /api/v2/Devices, datawallet push,
 * POST /api/v2/Tokens. New device: GET /api/v2/Tokens/{id} (anonymous),
 * POST /connect/token (initial password), PUT /api/v2/Devices/Self/Password,
 * datawallet sync (GET /api/v2/Datawallet, GET/POST /api/v2/Datawallet/Modifications).
 */
export async function onboardNewDevice(account, connection, { anonymousTokens, deviceName = "Onboarded device", onStage = () => undefined } = {}) {
    onStage("old device registers the new device");
    const device = await account.devices.sendDevice({ name: deviceName, isAdmin: true });
    await account.syncDatawallet();

    onStage("old device creates the shared secret and the onboarding token");
    const sharedSecret = await account.devices.getSharedSecret(device.id);
    const token = await account.tokens.sendToken({
        content: TokenContentDeviceSharedSecret.from({ sharedSecret }),
        expiresAt: CoreDate.utc().add({ minutes: 5 }),
        ephemeral: true
    });
    const truncatedReference = token.toTokenReference(account.config.baseUrl).truncate();

    onStage("new device loads the onboarding token anonymously");
    const loaded = await anonymousTokens.loadPeerTokenByReference(TokenReference.from(truncatedReference));
    if (!(loaded.content instanceof TokenContentDeviceSharedSecret)) {
        throw new Error(`the onboarding token's content is a ${loaded.content?.constructor?.name}, not a TokenContentDeviceSharedSecret`);
    }

    onStage("new device initialises its AccountController from the shared secret");
    const db = await connection.getDatabase(`acc-onboarded-${Math.random().toString(36).slice(2, 8)}`);
    const newDevice = new AccountController(account.transport, db, account.transport.config);
    await newDevice.init(loaded.content.sharedSecret);
    return { device, token, truncatedReference, newDevice };
}

/**
 * An Active relationship between `a` and `b`: the existing one if either side already has it
 * Active, otherwise a new one (`a` is the templator). Returns its id.
 */
export async function ensureActiveRelationship(a, b, { loggerFactory, onStage = () => undefined, tag = "" } = {}) {
    const existing = await a.relationships.getActiveRelationshipToIdentity(b.identity.address);
    if (existing) {
        const peerSide = await b.relationships.getRelationship(existing.id);
        if (peerSide?.status === RelationshipStatus.Active) return existing.id;
    }
    const r = await establishRelationship(a, b, { loggerFactory, onStage: (s) => onStage(`relationship ${labelOf(a)}<->${labelOf(b)}: ${s}`), tag });
    return r.id;
}

/**
 * `account` syncs until the message `id` is in its local database (the MessageReceived
 * external event makes the library GET /api/v2/Messages/{id}, decrypt it and load the
 * attachments' metadata, GET /api/v2/Files/{id}/metadata).
 */
export async function syncUntilMessage(account, id, { loggerFactory, timeoutMs } = {}) {
    return await syncUntil(account, `message ${id}`, async () => await account.messages.getMessage(id), {
        loggerFactory,
        timeoutMs,
        describe: async () => {
            const messages = await account.messages.getMessages();
            return messages.length ? `${messages.length} message(s): ${messages.map((m) => m.id.toString()).join(", ")}` : "no messages";
        }
    });
}
