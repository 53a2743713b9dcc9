// Starts and stops the real Backbone server binary for the interop tests.
//
// Server contract relied upon (see README.md):
//   env BACKBONE_DATA_DIR, BACKBONE_DATABASE__URL, BACKBONE_CONSUMER_API__LISTEN,
//       BACKBONE_ADMIN_API__LISTEN, BACKBONE_DID_DOMAIN_NAME,
//       BACKBONE_AUTHENTICATION__JWT_LIFETIME_SECONDS, BACKBONE_TESTING__CLOCK_OFFSET_SECONDS
//   `backbone migrate`, `backbone client create --clientId .. --clientSecret .. --defaultTier ..`,
//   `backbone serve`, GET /health -> 200 when ready.
//   File contents: BACKBONE_FILES__BLOB_STORAGE__* (set from lib/blob-storage.mjs via `extraEnv`).
//   Jobs: BACKBONE_JOBS__{IDENTITY_DELETION,GRACE_PERIOD_REMINDERS,HOUSEKEEPING}_INTERVAL_SECONDS=0
//   (the worker inside `serve` runs no job by itself), `backbone job run <name>` runs one once.

import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const INTEROP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const STARTUP_TIMEOUT_MS = Number(process.env.INTEROP_STARTUP_TIMEOUT_MS ?? 30_000);
const CLI_TIMEOUT_MS = Number(process.env.INTEROP_CLI_TIMEOUT_MS ?? 60_000);
const STOP_TIMEOUT_MS = 10_000;
const LOG_RING_SIZE = 400;

/** Finds a free TCP port on 127.0.0.1 by listening on port 0 and closing again. */
export async function getFreePort() {
    return await new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

export class BackboneError extends Error {}

/** Interval 0 disables a job in the worker's schedule (it can still be run with `backbone job run`). */
const JOBS_DISABLED = {
    BACKBONE_JOBS__IDENTITY_DELETION_INTERVAL_SECONDS: "0",
    BACKBONE_JOBS__GRACE_PERIOD_REMINDERS_INTERVAL_SECONDS: "0",
    BACKBONE_JOBS__HOUSEKEEPING_INTERVAL_SECONDS: "0"
};

export class BackboneServer {
    /**
     * @param {object} opts
     * @param {string} opts.bin       path of the backbone binary
     * @param {"sqlite"|"postgres"} opts.database
     * @param {string} opts.logDir   where server-<configName>.log is written
     */
    constructor({ bin, database, logDir }) {
        this.bin = bin;
        this.database = database;
        this.logDir = logDir;
        /** Names the log files: the database, plus the blob storage when it is not local (e.g. "postgres-azure"). */
        this.configName = database;
        /** Extra environment for every backbone process (the blob storage configuration). */
        this.extraEnv = {};
        this.child = undefined;
        this.childExit = undefined;
        this.ring = [];
        this.startCount = 0;
        this.clockOffsetSeconds = 0;
        this._exitHandler = () => this.killNow();
        this._signalHandler = (signal) => {
            this.killNow();
            process.exit(signal === "SIGINT" ? 130 : 143);
        };
    }

    static fromEnv() {
        const bin = path.resolve(INTEROP_DIR, process.env.BACKBONE_BIN ?? "../../target/debug/backbone");
        const database = (process.env.INTEROP_DATABASE ?? "sqlite").toLowerCase();
        if (database !== "sqlite" && database !== "postgres") {
            throw new BackboneError(`INTEROP_DATABASE must be 'sqlite' or 'postgres', got '${database}'`);
        }
        const logDir = path.resolve(INTEROP_DIR, process.env.INTEROP_LOG_DIR ?? "logs");
        return new BackboneServer({ bin, database, logDir });
    }

    get consumerUrl() {
        return `http://127.0.0.1:${this.consumerPort}`;
    }

    /** Picks the two listen ports (may be called before setup(), so the client's baseUrl is known early). */
    async allocatePorts({ exclude = [] } = {}) {
        if (this.consumerPort) return;
        const taken = new Set(exclude);
        const pick = async () => {
            let port = await getFreePort();
            while (taken.has(port)) port = await getFreePort();
            taken.add(port);
            return port;
        };
        this.consumerPort = await pick();
        this.adminPort = await pick();
    }

    /** Checks the binary, creates the temp data dir, runs `migrate` and `client create`. */
    async setup() {
        await this.allocatePorts();
        try {
            fs.accessSync(this.bin, fs.constants.X_OK);
        } catch (e) {
            throw new BackboneError(
                `Backbone binary not found or not executable at '${this.bin}' (${e.code ?? e.message}). ` +
                    "Build it (cargo build) or point BACKBONE_BIN at it."
            );
        }

        fs.mkdirSync(this.logDir, { recursive: true });
        this.logFile = path.join(this.logDir, `server-${this.configName}.log`);
        fs.writeFileSync(this.logFile, "");

        this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "backbone-interop-"));
        if (this.database === "sqlite") {
            this.databaseUrl = `sqlite://${this.dataDir}/backbone.db`;
        } else {
            this.pgDatabaseName = `interop_${crypto.randomBytes(6).toString("hex")}`;
            this.databaseUrl = `postgres://postgres@127.0.0.1:5432/${this.pgDatabaseName}`;
        }
        process.on("exit", this._exitHandler);
        process.on("SIGINT", this._signalHandler);
        process.on("SIGTERM", this._signalHandler);

        this.log(`# data dir ${this.dataDir}, database ${this.databaseUrl}, consumer ${this.consumerPort}, admin ${this.adminPort}`);
        await this.runCli(["migrate"]);
        const created = await this.runCli(["client", "create", "--clientId", "test", "--clientSecret", "test", "--defaultTier", "Basic"]);
        this.createdClient = parseJsonLoose(created.stdout);
    }

    env(extra = {}) {
        const env = { ...process.env, NO_COLOR: "1" };
        delete env.BACKBONE_TESTING__CLOCK_OFFSET_SECONDS;
        // the blob storage is chosen by the harness (extraEnv), never inherited from the caller's shell
        for (const k of Object.keys(env)) if (k.startsWith("BACKBONE_FILES__BLOB_STORAGE__")) delete env[k];
        // the jobs run only when a step runs them (runJob); the worker of `serve` must not run them on its schedule
        for (const k of Object.keys(env)) if (k.startsWith("BACKBONE_JOBS__")) delete env[k];
        Object.assign(env, JOBS_DISABLED);
        Object.assign(env, this.extraEnv);
        Object.assign(env, {
            BACKBONE_DATA_DIR: this.dataDir,
            BACKBONE_DATABASE__URL: this.databaseUrl,
            BACKBONE_CONSUMER_API__LISTEN: `127.0.0.1:${this.consumerPort}`,
            BACKBONE_ADMIN_API__LISTEN: `127.0.0.1:${this.adminPort}`,
            BACKBONE_DID_DOMAIN_NAME: "localhost",
            BACKBONE_AUTHENTICATION__JWT_LIFETIME_SECONDS: "60"
        });
        for (const [k, v] of Object.entries(extra)) env[k] = String(v);
        return env;
    }

    /** Runs a CLI subcommand to completion; throws with its output if it fails. */
    async runCli(args, extraEnv = {}) {
        const cmd = `backbone ${args.join(" ")}`;
        this.log(`# $ ${cmd}`);
        const child = spawn(this.bin, args, { env: this.env(extraEnv), stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => {
            stdout += d;
            this.log(String(d), "cli");
        });
        child.stderr.on("data", (d) => {
            stderr += d;
            this.log(String(d), "cli");
        });
        const result = await new Promise((resolve) => {
            const timer = setTimeout(() => {
                child.kill("SIGKILL");
                resolve({ code: null, signal: "timeout" });
            }, CLI_TIMEOUT_MS);
            child.on("error", (e) => {
                clearTimeout(timer);
                resolve({ code: null, signal: null, error: e });
            });
            child.on("exit", (code, signal) => {
                clearTimeout(timer);
                resolve({ code, signal });
            });
        });
        if (result.code !== 0) {
            const why = result.error ? result.error.message : result.signal === "timeout" ? `timed out after ${CLI_TIMEOUT_MS} ms` : `exit code ${result.code}${result.signal ? `, signal ${result.signal}` : ""}`;
            throw new BackboneError(`'${cmd}' failed (${why}).\n--- stdout ---\n${tail(stripAnsi(stdout))}\n--- stderr ---\n${tail(stripAnsi(stderr))}`);
        }
        return { stdout, stderr };
    }

    /**
     * Runs one background job once (`backbone job run <name>`, same environment and database as
     * the server, which keeps running) and returns its output. The command relays the domain
     * events it raised before it exits, so their external events exist when this returns.
     */
    async runJob(name) {
        try {
            return await this.runCli(["job", "run", name], this.clockOffsetSeconds ? { BACKBONE_TESTING__CLOCK_OFFSET_SECONDS: this.clockOffsetSeconds } : {});
        } catch (e) {
            if (/unrecognized subcommand 'job'/.test(e.message)) {
                throw new BackboneError(`the server binary '${this.bin}' has no 'backbone job run' (rebuild it: cargo build).\n${e.message}`);
            }
            throw e;
        }
    }

    /** Starts `backbone serve` and waits until GET /health answers 200. */
    async start({ clockOffsetSeconds = 0 } = {}) {
        if (this.child) throw new BackboneError("server already running");
        this.clockOffsetSeconds = clockOffsetSeconds;
        this.startCount++;
        const extra = clockOffsetSeconds ? { BACKBONE_TESTING__CLOCK_OFFSET_SECONDS: clockOffsetSeconds } : {};
        this.log(`# start #${this.startCount}: backbone serve (clock offset ${clockOffsetSeconds} s)`);
        const child = spawn(this.bin, ["serve"], { env: this.env(extra), stdio: ["ignore", "pipe", "pipe"] });
        this.child = child;
        this.childExit = new Promise((resolve) => {
            child.on("error", (e) => resolve({ code: null, signal: null, error: e }));
            child.on("exit", (code, signal) => resolve({ code, signal }));
        });
        child.stdout.on("data", (d) => this.log(String(d), "srv"));
        child.stderr.on("data", (d) => this.log(String(d), "srv"));

        const deadline = Date.now() + STARTUP_TIMEOUT_MS;
        let lastProblem = "no answer yet";
        let exited;
        this.childExit.then((r) => (exited = r));
        while (Date.now() < deadline) {
            if (exited) {
                this.child = undefined;
                throw new BackboneError(
                    `backbone serve exited before becoming healthy (${exited.error ? exited.error.message : `code ${exited.code}, signal ${exited.signal}`}).\n--- server log tail ---\n${this.logTail()}`
                );
            }
            try {
                const res = await fetch(`${this.consumerUrl}/health`, { signal: AbortSignal.timeout(1000) });
                await res.arrayBuffer().catch(() => undefined);
                if (res.status === 200) return;
                lastProblem = `GET /health answered ${res.status}`;
            } catch (e) {
                lastProblem = `GET /health: ${e.cause?.code ?? e.message}`;
            }
            await sleep(100);
        }
        await this.stop();
        throw new BackboneError(`backbone serve did not become healthy within ${STARTUP_TIMEOUT_MS} ms (${lastProblem}).\n--- server log tail ---\n${this.logTail()}`);
    }

    /** Stops the server: SIGTERM, then SIGKILL after a grace period. */
    async stop() {
        const child = this.child;
        if (!child) return;
        this.child = undefined;
        if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGTERM");
            const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
            await this.childExit;
            clearTimeout(timer);
        }
        this.log(`# server stopped`);
    }

    async restart(opts) {
        await this.stop();
        await this.start(opts);
    }

    /** Synchronous last-resort kill (process 'exit' handler). */
    killNow() {
        if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
            try {
                this.child.kill("SIGKILL");
            } catch {
                // ignore
            }
        }
    }

    /** Stops the server and removes the temp data dir (and the postgres database). */
    async dispose() {
        await this.stop();
        process.off("exit", this._exitHandler);
        process.off("SIGINT", this._signalHandler);
        process.off("SIGTERM", this._signalHandler);
        if (this.pgDatabaseName && process.env.INTEROP_KEEP_DATA !== "1") {
            // best effort; psql may not be installed
            spawnSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", `DROP DATABASE IF EXISTS "${this.pgDatabaseName}"`], {
                stdio: "ignore",
                timeout: 15_000
            });
        }
        if (this.dataDir && process.env.INTEROP_KEEP_DATA !== "1") {
            fs.rmSync(this.dataDir, { recursive: true, force: true });
        }
    }

    log(text, prefix) {
        const lines = stripAnsi(String(text)).split(/\r?\n/).filter((l) => l.length > 0);
        for (const line of lines) {
            const l = prefix ? `[${prefix}] ${line}` : line;
            this.ring.push(l);
            if (this.ring.length > LOG_RING_SIZE) this.ring.shift();
            if (this.logFile) fs.appendFileSync(this.logFile, `${l}\n`);
        }
    }

    logTail(n = 40) {
        return this.ring.slice(-n).join("\n");
    }
}

function stripAnsi(s) {
    // eslint-disable-next-line no-control-regex
    return s.replace(/\x1b\[[0-9;]*m/g, "");
}

function tail(s, n = 40) {
    return String(s).split(/\r?\n/).slice(-n).join("\n");
}

function parseJsonLoose(s) {
    try {
        return JSON.parse(s);
    } catch {
        const m = /\{[\s\S]*\}/.exec(s);
        if (!m) return undefined;
        try {
            return JSON.parse(m[0]);
        } catch {
            return undefined;
        }
    }
}

export function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}
