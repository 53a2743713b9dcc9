// Where the server keeps file contents during an interop run, and the emulator behind it.
//
//   INTEROP_BLOB_STORAGE=local  the default: <data dir>/blobs (no emulator)
//   INTEROP_BLOB_STORAGE=azure  Azurite (tests/blob-emulators, `npm ci` there), container "files"
//   INTEROP_BLOB_STORAGE=s3     moto's S3 server (`pip install 'moto[server]'`), bucket "files"
//
// The emulator is started the way bins/backbone/tests/blob_backends.rs does it: a free port, a
// temp dir, polling `GET /` until any HTTP answer (with a deadline; another port if the process
// dies), then the container (Shared Key signed `Create Container`) or bucket (unsigned
// `CreateBucket`, moto checks no signatures) is created. It is killed when the run ends.
// The server is pointed at it with BACKBONE_FILES__BLOB_STORAGE__* environment variables.

import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { INTEROP_DIR, getFreePort } from "./backbone.mjs";

const EMULATOR_TIMEOUT_MS = Number(process.env.INTEROP_EMULATOR_TIMEOUT_MS ?? 60_000);
const STOP_TIMEOUT_MS = 10_000;
const CONTAINER = "files";

/** Azurite's well-known development account (public, the same in every Azurite). */
const AZURITE_ACCOUNT = "devstoreaccount1";
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const AZURE_API_VERSION = "2021-08-06";

export const BLOB_STORAGE_KINDS = ["local", "azure", "s3"];

export class BlobStorageError extends Error {}

export function blobStorageKindFromEnv() {
    const kind = (process.env.INTEROP_BLOB_STORAGE ?? "local").toLowerCase();
    if (!BLOB_STORAGE_KINDS.includes(kind)) {
        throw new BlobStorageError(`INTEROP_BLOB_STORAGE must be one of ${BLOB_STORAGE_KINDS.join(", ")}, got '${kind}'`);
    }
    return kind;
}

/**
 * The blob storage of one run. `start()` starts the emulator (if any) and creates the
 * container/bucket; `serverEnv()` is what the server needs; `has(name)` asks the storage itself
 * whether a blob exists (to prove the server really used it); `stop()` kills the emulator.
 */
export class BlobStorage {
    constructor({ kind, logDir }) {
        this.kind = kind;
        this.logDir = logDir;
        this.child = undefined;
        this.port = undefined;
        this.dir = undefined;
        this.dataDir = undefined; // local: set by the harness (the server's data dir)
        this._exitHandler = () => this.killNow();
    }

    static fromEnv({ logDir }) {
        return new BlobStorage({ kind: blobStorageKindFromEnv(), logDir });
    }

    get endpoint() {
        return `http://127.0.0.1:${this.port}`;
    }

    /** One line for the test output. */
    describe() {
        switch (this.kind) {
            case "azure":
                return `Azurite ${this.endpoint}/${AZURITE_ACCOUNT}, container '${CONTAINER}'`;
            case "s3":
                return `moto S3 ${this.endpoint}, bucket '${CONTAINER}'`;
            default:
                return "local directory <data dir>/blobs";
        }
    }

    /** What the server log must say about its storage ("file contents are kept in the ..."). */
    expectedServerLogLine() {
        switch (this.kind) {
            case "azure":
                return `Azure container ${CONTAINER} at ${this.endpoint}/${AZURITE_ACCOUNT}`;
            case "s3":
                return `S3 bucket ${CONTAINER} at ${this.endpoint}`;
            default:
                return `local directory ${path.join(this.dataDir ?? "<data dir>", "blobs")}`;
        }
    }

    async start() {
        if (this.kind === "local") return;
        fs.mkdirSync(this.logDir, { recursive: true });
        this.logFile = path.join(this.logDir, `emulator-${this.kind}.log`);
        fs.writeFileSync(this.logFile, "");
        process.on("exit", this._exitHandler);
        if (this.kind === "azure") {
            const bin = path.resolve(INTEROP_DIR, process.env.AZURITE_BLOB_BIN ?? "../blob-emulators/node_modules/.bin/azurite-blob");
            if (!fs.existsSync(bin)) {
                throw new BlobStorageError(`Azurite not found at ${bin}: run \`npm ci\` in tests/blob-emulators (or set AZURITE_BLOB_BIN)`);
            }
            await this.startProcess("azurite", (port, dir) => [
                bin,
                ["--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", dir, "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"]
            ]);
            await this.azureCreateContainer();
        } else {
            const bin = process.env.MOTO_SERVER_BIN ?? findOnPath("moto_server");
            if (!bin) throw new BlobStorageError("moto_server is not on the PATH: run `pip install 'moto[server]'` (or set MOTO_SERVER_BIN)");
            await this.startProcess("moto", (port) => [bin, ["-H", "127.0.0.1", "-p", String(port)]]);
            // moto does not check signatures: an unsigned CreateBucket will do
            const res = await fetch(`${this.endpoint}/${CONTAINER}`, { method: "PUT", signal: AbortSignal.timeout(10_000) });
            const text = await res.text();
            if (!res.ok) throw new BlobStorageError(`moto: CreateBucket ${CONTAINER} answered ${res.status}: ${text}`);
        }
    }

    /** Environment for `backbone` (CLI and serve). */
    serverEnv() {
        const p = "BACKBONE_FILES__BLOB_STORAGE__";
        switch (this.kind) {
            case "azure":
                return {
                    [`${p}PROVIDER`]: "azure",
                    // the connection string form deployments use (BlobEndpoint: Azurite's path-style URL)
                    [`${p}CONNECTION_STRING`]: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${this.endpoint}/${AZURITE_ACCOUNT};`,
                    [`${p}CONTAINER`]: CONTAINER
                };
            case "s3":
                return {
                    [`${p}PROVIDER`]: "s3",
                    [`${p}ENDPOINT`]: this.endpoint,
                    [`${p}REGION`]: "us-east-1",
                    [`${p}BUCKET`]: CONTAINER,
                    [`${p}ACCESS_KEY_ID`]: "testing",
                    [`${p}SECRET_ACCESS_KEY`]: "testing"
                };
            default:
                return { [`${p}PROVIDER`]: "local" };
        }
    }

    /** Whether the storage holds a blob of that name, and its size (asked from the storage itself). */
    async stat(name) {
        switch (this.kind) {
            case "azure": {
                const res = await this.azureRequest("HEAD", `/${AZURITE_ACCOUNT}/${CONTAINER}/${name}`);
                if (res.status === 404) return undefined;
                if (res.status !== 200) throw new BlobStorageError(`Azurite: HEAD blob ${name} answered ${res.status}`);
                return { size: Number(res.headers.get("content-length")) };
            }
            case "s3": {
                const res = await fetch(`${this.endpoint}/${CONTAINER}/${name}`, { method: "HEAD", signal: AbortSignal.timeout(10_000) });
                if (res.status === 404) return undefined;
                if (res.status !== 200) throw new BlobStorageError(`moto: HEAD ${CONTAINER}/${name} answered ${res.status}`);
                return { size: Number(res.headers.get("content-length")) };
            }
            default: {
                const file = path.join(this.dataDir, "blobs", name);
                return fs.existsSync(file) ? { size: fs.statSync(file).size } : undefined;
            }
        }
    }

    /** Starts the emulator on a free port and waits until it answers HTTP (3 attempts). */
    async startProcess(name, command) {
        let lastProblem = "";
        for (let attempt = 1; attempt <= 3; attempt++) {
            this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `backbone-interop-${name}-`));
            this.port = await getFreePort();
            const [bin, args] = command(this.port, this.dir);
            this.log(`# attempt ${attempt}: ${bin} ${args.join(" ")}`);
            // own process group, so stop() also reaches a wrapper's children (pyenv shim -> python)
            const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
            this.child = child;
            let exited;
            child.on("error", (e) => (exited = { error: e }));
            child.on("exit", (code, signal) => (exited = { code, signal }));
            child.stdout.on("data", (d) => this.log(String(d)));
            child.stderr.on("data", (d) => this.log(String(d)));

            const deadline = Date.now() + EMULATOR_TIMEOUT_MS;
            let delay = 50;
            for (;;) {
                if (exited) {
                    lastProblem = `${name} exited (${exited.error ? exited.error.message : `code ${exited.code}, signal ${exited.signal}`}) on port ${this.port}`;
                    this.log(`# ${lastProblem}`);
                    this.child = undefined;
                    fs.rmSync(this.dir, { recursive: true, force: true });
                    break;
                }
                try {
                    // any HTTP answer means it is listening
                    const res = await fetch(`${this.endpoint}/`, { signal: AbortSignal.timeout(1000) });
                    await res.arrayBuffer().catch(() => undefined);
                    this.log(`# ${name} answers on port ${this.port} (GET / -> ${res.status})`);
                    return;
                } catch (e) {
                    lastProblem = `GET / on port ${this.port}: ${e.cause?.code ?? e.message}`;
                }
                if (Date.now() >= deadline) {
                    await this.stop();
                    throw new BlobStorageError(`${name} did not answer within ${EMULATOR_TIMEOUT_MS} ms (${lastProblem}); log: ${this.logFile}`);
                }
                await new Promise((r) => setTimeout(r, delay));
                delay = Math.min(delay * 2, 250);
            }
        }
        throw new BlobStorageError(`${name} did not start: ${lastProblem}; log: ${this.logFile}`);
    }

    /** Azure `Create Container`, signed with the account key (Shared Key). */
    async azureCreateContainer() {
        const res = await this.azureRequest("PUT", `/${AZURITE_ACCOUNT}/${CONTAINER}`, { restype: "container" });
        const text = await res.text();
        if (res.status !== 201) throw new BlobStorageError(`Azurite: Create Container ${CONTAINER} answered ${res.status}: ${text}`);
    }

    /** A Shared Key signed request without body to Azurite (path-style URL /<account>/...). */
    async azureRequest(method, urlPath, query = {}) {
        const date = new Date().toUTCString();
        const canonicalQuery = Object.keys(query)
            .sort()
            .map((k) => `\n${k.toLowerCase()}:${query[k]}`)
            .join("");
        // VERB, then 11 empty standard headers (Content-Length is empty for 0), then x-ms-* headers
        const stringToSign = `${method}\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:${date}\nx-ms-version:${AZURE_API_VERSION}\n/${AZURITE_ACCOUNT}${urlPath}${canonicalQuery}`;
        const signature = crypto.createHmac("sha256", Buffer.from(AZURITE_KEY, "base64")).update(stringToSign, "utf8").digest("base64");
        const qs = new URLSearchParams(query).toString();
        return await fetch(`${this.endpoint}${urlPath}${qs ? `?${qs}` : ""}`, {
            method,
            headers: { "x-ms-date": date, "x-ms-version": AZURE_API_VERSION, authorization: `SharedKey ${AZURITE_ACCOUNT}:${signature}` },
            signal: AbortSignal.timeout(10_000)
        });
    }

    /** Kills the emulator's process group (SIGTERM, SIGKILL after a grace period) and removes its dir. */
    async stop() {
        const child = this.child;
        this.child = undefined;
        if (child && child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((r) => child.once("exit", r));
            killGroup(child, "SIGTERM");
            const timer = setTimeout(() => killGroup(child, "SIGKILL"), STOP_TIMEOUT_MS);
            await exited;
            clearTimeout(timer);
            killGroup(child, "SIGKILL"); // leftovers of the group, if any
            this.log("# emulator stopped");
        }
        process.off("exit", this._exitHandler);
        if (this.dir && process.env.INTEROP_KEEP_DATA !== "1") fs.rmSync(this.dir, { recursive: true, force: true });
    }

    killNow() {
        if (this.child) killGroup(this.child, "SIGKILL");
    }

    log(text) {
        if (!this.logFile) return;
        for (const line of String(text).split(/\r?\n/).filter((l) => l.length > 0)) fs.appendFileSync(this.logFile, `${line}\n`);
    }
}

function killGroup(child, signal) {
    try {
        process.kill(-child.pid, signal);
    } catch {
        try {
            child.kill(signal);
        } catch {
            // already gone
        }
    }
}

function findOnPath(name) {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        if (!dir) continue;
        const candidate = path.join(dir, name);
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            if (fs.statSync(candidate).isFile()) return candidate;
        } catch {
            // not here
        }
    }
    return undefined;
}
