// The client side: how to drive the published enmeshed client library
// (@nmshd/transport 7.0.0) against a Backbone. Everything the tests do to the
// server goes through these library objects.

import { LokiJsConnection } from "@js-soft/docdb-access-loki";
import { AccountController, RESTClientAuthenticate, Transport } from "@nmshd/transport";

export const PLATFORM_CLIENT_ID = "test";
export const PLATFORM_CLIENT_SECRET = "test";

/**
 * ILoggerFactory (from @js-soft/logging-abstractions) that keeps the library's
 * log lines in memory; they are printed only when a step fails.
 */
export class MemoryLoggerFactory {
    constructor({ max = 300, echo = process.env.INTEROP_LIBRARY_LOG === "1" } = {}) {
        this.max = max;
        this.echo = echo;
        this.lines = [];
        this.total = 0;
        // error/fatal lines are kept separately (with their position in `total`), so they
        // are not pushed out of the ring by the library's many trace lines
        this.errorLines = [];
    }

    /** error/fatal lines logged after the moment when `total` was `mark`. */
    errorsSince(mark) {
        return this.errorLines.filter((e) => e.seq > mark).map((e) => e.line);
    }

    /** Lines logged after the moment when `total` was `mark`. */
    since(mark) {
        return this.lines.slice(Math.max(0, this.lines.length - (this.total - mark)));
    }

    getLogger(name) {
        const category = typeof name === "function" ? name.name : String(name);
        const make = (level) => (...messages) => {
            const text = messages.map((m) => (typeof m === "string" ? compactJson(m) : safeString(m))).join(" ");
            const line = `${level.toUpperCase().padEnd(5)} ${category}: ${text}`;
            this.lines.push(line);
            this.total++;
            if (level === "error" || level === "fatal") {
                this.errorLines.push({ seq: this.total, line });
                if (this.errorLines.length > this.max) this.errorLines.shift();
            }
            if (this.lines.length > this.max) this.lines.shift();
            if (this.echo) console.log(line);
        };
        return { trace: make("trace"), debug: make("debug"), info: make("info"), warn: make("warn"), error: make("error"), fatal: make("fatal") };
    }

    /** The last n lines, without the library's noisy method-entry/secret-access trace lines. */
    tail(n = 30) {
        return this.lines
            .filter((l) => !/: (Calling |Returning from )|device secret id:/.test(l))
            .slice(-n)
            .join("\n");
    }
}

/**
 * The library only ever calls eventBus.publish(); nothing in these tests subscribes. The bus
 * keeps the published events (namespace, target address, data) so a step can check what the
 * library made of the external events it processed (e.g. `transport.peerToBeDeleted`).
 * All accounts of one Transport share the bus; `eventTargetAddress` tells them apart.
 */
export class RecordingEventBus {
    constructor({ max = 500 } = {}) {
        this.max = max;
        this.events = [];
        this.total = 0;
    }

    publish(event) {
        this.total++;
        this.events.push({ seq: this.total, namespace: event?.namespace, eventTargetAddress: event?.eventTargetAddress, data: event?.data });
        if (this.events.length > this.max) this.events.shift();
    }

    /** A position to pass to since(). */
    mark() {
        return this.total;
    }

    /** Events published after mark(), optionally only those for `address` (string or CoreAddress). */
    since(mark, address) {
        return this.events.filter((e) => e.seq > mark && (address === undefined || String(e.eventTargetAddress) === String(address)));
    }

    subscribe() {
        return 0;
    }
    subscribeOnce() {
        return 0;
    }
    unsubscribe() {
        return true;
    }
    close() {}
}

/** Creates and initialises a Transport (libsodium is loaded by init()). */
export async function createTransport({ baseUrl, loggerFactory, eventBus = new RecordingEventBus(), datawalletEnabled = process.env.INTEROP_DATAWALLET === "1" }) {
    const transport = new Transport(
        {
            baseUrl,
            platformClientId: PLATFORM_CLIENT_ID,
            platformClientSecret: PLATFORM_CLIENT_SECRET,
            supportedIdentityVersion: 1, // mandatory: the default (-1) makes the constructor throw
            datawalletEnabled,
            debug: false,
            platformTimeout: 30_000
        },
        eventBus,
        loggerFactory
    );
    await transport.init();
    return transport;
}

/** An in-memory LokiJS connection; each account gets its own database in it. */
export function createDatabaseConnection() {
    return LokiJsConnection.inMemory();
}

/**
 * Creates a new identity (+ first device) on the Backbone.
 * Returns { account, initError }: when init() throws after the identity was
 * already created on the server (e.g. because the datawallet sync-run
 * endpoints are missing), the half-initialised controller is still returned
 * so later steps can go on.
 */
export async function createAccount(transport, connection, name) {
    const db = await connection.getDatabase(`acc-${name}-${Math.random().toString(36).slice(2, 8)}`);
    const account = new AccountController(transport, db, transport.config);
    try {
        await account.init();
        return { account, initError: undefined };
    } catch (e) {
        return { account, initError: e };
    }
}

/** True when the account has a usable identity + device (even after a failed init). */
export function hasIdentity(account) {
    try {
        return !!account?.identity?.identity?.address && !!account.activeDeviceOrUndefined?.deviceOrUndefined && !!account.deviceAuthClient;
    } catch {
        return false;
    }
}

/** An authenticated REST client of the library, bound to the account's device credentials. */
export function authenticatedClient(account) {
    return new RESTClientAuthenticate(account.config, account.authenticator, account.transport.correlator);
}

/** One-line description of whatever the library threw (RequestError, CoreError, TransportError, ...). */
export function describeError(e) {
    if (!e) return String(e);
    const parts = [];
    parts.push(e.constructor?.name ?? "Error");
    if (e.code) parts.push(`code=${e.code}`);
    if (e.status) parts.push(`status=${e.status}`);
    if (e.method || e.path) parts.push(`request=${e.method ?? "?"} ${e.path ?? "?"}`);
    if (e.reason) parts.push(`reason=${JSON.stringify(e.reason)}`);
    else parts.push(`message=${JSON.stringify(e.message)}`);
    if (e.object && typeof e.object === "object" && !e.object.config) parts.push(`body=${safeString(e.object)}`);
    if (e.details) parts.push(`details=${safeString(e.details)}`);
    if (e.cause) parts.push(`cause=(${describeError(e.cause)})`);
    return parts.join(" ");
}

function safeString(v) {
    if (v instanceof Error) return `${v.name}${v.code ? `(${v.code})` : ""}: ${v.message}`;
    try {
        const s = JSON.stringify(v);
        return s === undefined ? String(v) : s.length > 2000 ? `${s.slice(0, 2000)}...` : s;
    } catch {
        return String(v);
    }
}

function compactJson(s) {
    if (!/^\s*[[{]/.test(s)) return s;
    try {
        return safeString(JSON.parse(s));
    } catch {
        return s;
    }
}
