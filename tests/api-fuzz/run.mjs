// Fuzzes the Consumer API of the real `backbone` binary with schemathesis, driven by the API's
// own document (/docs/v2/openapi.json): every operation gets a bounded number of generated
// requests, and a response fails when it is a 5xx or contradicts the document (status code,
// content type, headers or body schema).
//
// Operations on `/{id}` paths get the identifiers of records the fuzzing identity owns half of
// the time (tests/interop/lib/seed.mjs makes them with the client library; a schemathesis.toml
// binds them), so they reach the handlers' logic and not only the 404.
//
// The server: tests/interop's BackboneServer (fresh SQLite database in a temp dir, free ports,
// `GET /health` = 200 within a deadline, stopped and removed afterwards). The bearer token: an
// identity created with the published client library (@nmshd/transport, through tests/interop's
// helpers), whose device logs in at /connect/token; schemathesis sends it with every request.
//
// Environment: BACKBONE_BIN (default target/debug/backbone), SCHEMATHESIS_BIN (default
// `schemathesis` on the PATH), FUZZ_MAX_EXAMPLES (per operation, default 10), FUZZ_SEED (default
// random; the run prints the one it used), FUZZ_WORKERS (default 1).
// Reports in target/test-logs: schemathesis-<pass>-junit.xml (one test case per operation),
// the server's log server-fuzz.log. The last lines printed are the figures scripts/test.sh reads:
//   fuzz examples: E                      (test cases generated)
//   fuzz failures: F unique, R errors     (R: operations schemathesis could not test at all)
//   fuzz operations: N passed, M failed
// Exit status: schemathesis's (non-zero on any failure or error), or 2 if the run could not start.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { BackboneServer } from "../interop/lib/backbone.mjs";
import { MemoryLoggerFactory, createAccount, createDatabaseConnection, createTransport, describeError, hasIdentity } from "../interop/lib/client.mjs";
import { seedResources } from "../interop/lib/seed.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const LOGS = join(ROOT, "target/test-logs");
const BACKBONE_BIN = process.env.BACKBONE_BIN ?? join(ROOT, "target/debug/backbone");
const SCHEMATHESIS_BIN = process.env.SCHEMATHESIS_BIN ?? "schemathesis";
const MAX_EXAMPLES = process.env.FUZZ_MAX_EXAMPLES ?? "10";
// One worker: with several threads, hypothesis (on Python 3.11) now and then fails while it
// parses its own source ("AST constructor recursion depth mismatch"), an error of the tool
// that would count as a failed operation. The server has the other core.
const WORKERS = process.env.FUZZ_WORKERS ?? "1";

// "No 5xx and no response that contradicts the document".
const CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance", "response_headers_conformance"];

// Server-sent events never end a response: schemathesis would wait for each until its timeout.
const EXCLUDED_PATHS = "^/api/v[12]/sse$";

// The token must outlive the run (the interop default of 60 s would not).
const JWT_LIFETIME_SECONDS = 3600;

// The gateway's rate limits stay on, as in stage and prod, but far above what one run sends:
// from one address, schemathesis's bursts of token requests and identity creations would
// otherwise be answered 429 and test nothing behind the limiter.
const GENEROUS = { PER_MINUTE: 1_000_000, BURST: 100_000 };
const RATE_LIMIT_ENV = Object.fromEntries([
    ["BACKBONE_RATE_LIMITS__ENABLED", "true"],
    ...["TOKEN_PER_IP", "TOKEN_PER_USERNAME", "IDENTITY_CREATION_PER_IP", "WRITES_PER_IP", "WRITES_PER_IDENTITY"].flatMap((limit) =>
        Object.entries(GENEROUS).map(([key, value]) => [`BACKBONE_RATE_LIMITS__${limit}__${key}`, String(value)])
    )
]);

class FuzzServer extends BackboneServer {
    env(extra = {}) {
        return super.env({ ...extra, BACKBONE_AUTHENTICATION__JWT_LIFETIME_SECONDS: JWT_LIFETIME_SECONDS });
    }
}

/** The client library's side: one Transport, accounts in an in-memory database. */
class Clients {
    constructor(server) {
        this.server = server;
        this.loggerFactory = new MemoryLoggerFactory();
        this.connection = createDatabaseConnection();
    }

    /** A new identity with its first device. */
    async account(name) {
        // The host must be "localhost": the library derives the address from it (DID domain).
        this.transport ??= await createTransport({ baseUrl: `http://localhost:${this.server.consumerPort}`, loggerFactory: this.loggerFactory });
        const { account, initError } = await createAccount(this.transport, this.connection, `fuzz-${name}`);
        if (!hasIdentity(account)) throw new Error(`the library created no identity: ${describeError(initError)}\n${this.loggerFactory.tail()}`);
        console.log(`identity ${account.identity.address} with device ${account.activeDevice.id}`);
        return account;
    }

    async close() {
        await this.connection.close().catch(() => undefined);
    }
}

/**
 * Path parameters that meet real records (see tests/interop/lib/seed.mjs) half of the time;
 * the other half schemathesis makes up its own. Resource: the path pattern and parameter.
 */
const SEEDED_PARAMETERS = {
    relationships: ["^/api/v2/Relationships/\\{id\\}", "id"],
    relationshipTemplates: ["^/api/v2/RelationshipTemplates/\\{id\\}", "id"],
    tokens: ["^/api/v2/Tokens/\\{id\\}", "id"],
    files: ["^/api/v2/Files/\\{id\\}", "id"],
    messages: ["^/api/v2/Messages/\\{id\\}", "id"],
    devices: ["^/api/v2/Devices/\\{id\\}", "id"],
    identities: ["^/api/v2/Identities/\\{identityAddress\\}", "identityAddress"]
};

/** schemathesis.toml: a dictionary of identifiers per resource, bound to its operations. */
function seedConfig(seeded) {
    const toml = (value) => JSON.stringify(value); // TOML's basic strings and arrays read like JSON's
    const lines = [];
    for (const [resource, [pathRegex, parameter]] of Object.entries(SEEDED_PARAMETERS)) {
        lines.push(`[dictionaries.${resource}]`, `values = ${toml(seeded[resource])}`, "");
        lines.push("[[operations]]", `include-path-regex = ${toml(pathRegex)}`);
        lines.push(`parameters = { ${toml(`path.${parameter}`)} = { dictionary = ${toml(resource)}, probability = 0.5 } }`, "");
    }
    return lines.join("\n");
}

/**
 * The runs, each with an identity of its own. Starting a deletion process moves the identity
 * to the tier "Queued for Deletion", whose quotas are all 0: every write of that identity is
 * answered 429 afterwards, so those operations run last, as a second identity.
 */
const DELETION_PROCESSES = "^/api/v2/Identities/Self/DeletionProcesses";
const PASSES = [
    { name: "main", filter: ["--exclude-path-regex", `${EXCLUDED_PATHS}|${DELETION_PROCESSES}`], seed: true },
    { name: "deletion", filter: ["--include-path-regex", DELETION_PROCESSES] }
];

function schemathesisArgs(server, token, pass, configFile) {
    const args = [
        "--config-file",
        configFile,
        "run",
        `${server.consumerUrl}/docs/v2/openapi.json`,
        "--checks",
        CHECKS.join(","),
        "--max-examples",
        MAX_EXAMPLES,
        "--workers",
        WORKERS,
        "--header",
        `Authorization: Bearer ${token}`,
        ...pass.filter,
        // The stateful phase needs links between operations, which the document has none of.
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "10",
        "--report",
        "junit",
        "--report-junit-path",
        junitReport(pass),
        // No example database in the working tree: every run starts fresh.
        "--generation-database",
        "none",
        "--no-color"
    ];
    if (process.env.FUZZ_SEED) args.push("--seed", process.env.FUZZ_SEED);
    return args;
}

const junitReport = (pass) => join(LOGS, `schemathesis-${pass.name}-junit.xml`);

/** Runs a command in `cwd` with its output passed through and kept, for the summary's figures. */
function run(command, args, cwd) {
    return new Promise((resolvePromise) => {
        const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "inherit"] });
        let output = "";
        child.stdout.on("data", (data) => {
            output += data;
            process.stdout.write(data);
        });
        child.on("error", (error) => resolvePromise({ code: null, error, output }));
        child.on("close", (code, signal) => resolvePromise({ code, signal, output }));
    });
}

/** Operations passed and failed (JUnit report); test cases, failures and errors (summary). */
function countRun(pass, output) {
    const xml = readFileSync(junitReport(pass), "utf8");
    const cases = [...xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)];
    const failed = cases.filter((c) => /<(failure|error)\b/.test(c[2] ?? ""));
    const figure = (pattern) => Number(pattern.exec(output)?.[1] ?? 0);
    return {
        passed: cases.length - failed.length,
        failed: failed.length,
        failedNames: failed.map((c) => unescapeXml(/name="([^"]*)"/.exec(c[0])?.[1] ?? "?")),
        examples: figure(/(\d+) generated/),
        failures: figure(/(\d+) unique failures?/),
        errors: figure(/=+ .*?(\d+) errors?\b.* in [\d.]+s =+/)
    };
}

const unescapeXml = (text) => text.replace(/&(lt|gt|quot|apos|amp);/g, (_, entity) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[entity]);

/**
 * One pass with an identity of its own. It runs in a temp dir, which also holds its
 * schemathesis.toml: schemathesis keeps a cache of the failures it found (.schemathesis/) in
 * its working directory and replays them first next time; each run here starts fresh.
 */
async function fuzz(server, clients, pass) {
    console.log(`\n# ${pass.name} pass`);
    const account = await clients.account(pass.name);
    const seeded = pass.seed ? await seedResources(account, await clients.account(`${pass.name}-peer`), clients) : undefined;
    const token = await account.authenticator.getToken();
    const cwd = mkdtempSync(join(tmpdir(), "backbone-fuzz-"));
    try {
        const configFile = join(cwd, "schemathesis.toml");
        writeFileSync(configFile, seeded ? seedConfig(seeded) : "");
        const result = await run(SCHEMATHESIS_BIN, schemathesisArgs(server, token, pass, configFile), cwd);
        if (result.error) throw new Error(`${SCHEMATHESIS_BIN} could not run: ${result.error.message} (pip install schemathesis; .ci/run does)`);
        if (!existsSync(junitReport(pass))) throw new Error(`schemathesis wrote no report (exit ${result.code}, signal ${result.signal})`);
        return { code: result.code ?? 1, ...countRun(pass, result.output) };
    } finally {
        rmSync(cwd, { recursive: true, force: true });
    }
}

async function main() {
    if (!existsSync(BACKBONE_BIN)) throw new Error(`${BACKBONE_BIN} is missing: run cargo build -p backbone first`);
    mkdirSync(LOGS, { recursive: true });
    const server = new FuzzServer({ bin: BACKBONE_BIN, database: "sqlite", logDir: LOGS });
    server.configName = "fuzz";
    server.extraEnv = { ...RATE_LIMIT_ENV, BACKBONE_LOG__LEVEL: "warn" };
    try {
        await server.setup();
        await server.start();
        const started = Date.now();
        const runs = [];
        const clients = new Clients(server);
        try {
            for (const pass of PASSES) {
                rmSync(junitReport(pass), { force: true });
                runs.push(await fuzz(server, clients, pass));
            }
        } finally {
            await clients.close();
        }
        const total = (key) => runs.reduce((sum, r) => sum + r[key], 0);
        for (const name of runs.flatMap((r) => r.failedNames)) console.log(`fuzz failed: ${name}`);
        console.log(`\nfuzz duration: ${((Date.now() - started) / 1000).toFixed(0)} s`);
        console.log(`fuzz examples: ${total("examples")}`);
        console.log(`fuzz failures: ${total("failures")} unique, ${total("errors")} errors`);
        console.log(`fuzz operations: ${total("passed")} passed, ${total("failed")} failed`);
        return runs.find((r) => r.code !== 0)?.code ?? 0;
    } finally {
        await server.dispose();
    }
}

main().then(
    (code) => process.exit(code),
    (error) => {
        console.error(`error: ${error.message}`);
        process.exit(2);
    }
);
