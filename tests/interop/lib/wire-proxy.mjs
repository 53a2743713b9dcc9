// A tiny recording reverse proxy between the client library and the server.
// It forwards every request unchanged to 127.0.0.1:<target port> and records
// method, path, status and both bodies, so a failing step can print the exact
// HTTP exchange that went wrong (the library itself often wraps or swallows it).

import fs from "node:fs";
import http from "node:http";

const MAX_BODY_CHARS = 4000;
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"]);

export class WireProxy {
    constructor({ targetPort, logFile }) {
        this.targetPort = targetPort;
        this.logFile = logFile;
        this.exchanges = [];
        this.seq = 0;
        if (logFile) fs.writeFileSync(logFile, "");
    }

    async listen() {
        this.server = http.createServer((req, res) => this.handle(req, res));
        this.server.keepAliveTimeout = 1000;
        await new Promise((resolve, reject) => {
            this.server.once("error", reject);
            this.server.listen(0, "127.0.0.1", resolve);
        });
        this.port = this.server.address().port;
        return this.port;
    }

    async close() {
        if (!this.server) return;
        this.server.closeAllConnections?.();
        await new Promise((resolve) => this.server.close(() => resolve()));
        this.server = undefined;
    }

    /** Marks the log so the exchanges of one test step can be found. */
    mark(label) {
        const entry = { seq: ++this.seq, mark: label, time: new Date().toISOString() };
        this.exchanges.push(entry);
        this.append(`\n===== ${label} (${entry.time}) =====\n`);
        return entry.seq;
    }

    /** Exchanges recorded after the given sequence number (excluding marks). */
    since(seq = 0) {
        return this.exchanges.filter((e) => e.seq > seq && !e.mark);
    }

    handle(req, res) {
        const started = Date.now();
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
            const reqBody = Buffer.concat(chunks);
            const entry = {
                seq: ++this.seq,
                time: new Date(started).toISOString(),
                method: req.method,
                path: req.url,
                reqHeaders: { ...req.headers },
                reqBody: bodyText(reqBody, req.headers["content-type"])
            };
            this.exchanges.push(entry);

            const headers = {};
            for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
            headers["content-length"] = String(reqBody.length);

            const upstream = http.request(
                { host: "127.0.0.1", port: this.targetPort, method: req.method, path: req.url, headers, agent: false },
                (ures) => {
                    const rchunks = [];
                    ures.on("data", (c) => rchunks.push(c));
                    ures.on("end", () => {
                        const resBody = Buffer.concat(rchunks);
                        entry.status = ures.statusCode;
                        entry.resHeaders = { ...ures.headers };
                        entry.resBody = bodyText(resBody, ures.headers["content-type"]);
                        entry.durationMs = Date.now() - started;
                        this.append(formatExchange(entry));
                        const outHeaders = {};
                        for (const [k, v] of Object.entries(ures.headers)) if (!HOP_BY_HOP.has(k)) outHeaders[k] = v;
                        outHeaders["content-length"] = String(resBody.length);
                        res.writeHead(ures.statusCode, outHeaders);
                        res.end(resBody);
                    });
                    ures.on("error", (e) => this.fail(entry, e, req, started));
                }
            );
            upstream.on("error", (e) => this.fail(entry, e, req, started));
            upstream.end(reqBody);
        });
    }

    fail(entry, error, req, started) {
        if (entry.error) return;
        entry.error = error.code ?? error.message;
        entry.durationMs = Date.now() - started;
        this.append(formatExchange(entry));
        // behave like an unreachable server: drop the client connection
        req.socket.destroy();
    }

    append(text) {
        if (this.logFile) fs.appendFileSync(this.logFile, text);
    }
}

function bodyText(buf, contentType = "") {
    if (buf.length === 0) return "";
    if (/json|text|x-www-form-urlencoded|xml/i.test(contentType) || !contentType) {
        const s = buf.toString("utf8");
        return s.length > MAX_BODY_CHARS ? `${s.slice(0, MAX_BODY_CHARS)}... (${s.length} chars)` : s;
    }
    return `<${buf.length} bytes ${contentType}>`;
}

function shortenAuth(v) {
    if (typeof v !== "string") return v;
    return v.length > 40 ? `${v.slice(0, 32)}...(${v.length} chars)` : v;
}

/** Human readable, multi-line form of one exchange. */
export function formatExchange(e, { headers = true, maxBody = Infinity } = {}) {
    const cut = (b) => (b.length > maxBody ? `${b.slice(0, maxBody)}... (${b.length} chars)` : b);
    const lines = [];
    const outcome = e.error ? `NO RESPONSE (${e.error})` : `${e.status}`;
    lines.push(`#${e.seq} ${e.method} ${e.path} -> ${outcome} (${e.durationMs ?? "?"} ms)`);
    if (headers) {
        const h = [];
        for (const k of ["content-type", "authorization", "x-supported-datawallet-version", "x-correlation-id"]) {
            if (e.reqHeaders?.[k] !== undefined) h.push(`${k}: ${k === "authorization" ? shortenAuth(e.reqHeaders[k]) : e.reqHeaders[k]}`);
        }
        if (h.length) lines.push(`   request headers: ${h.join(" | ")}`);
    }
    if (e.reqBody) lines.push(`   request body:  ${cut(e.reqBody)}`);
    if (headers && e.resHeaders) {
        const h = [];
        for (const k of ["content-type", "www-authenticate", "location"]) if (e.resHeaders[k] !== undefined) h.push(`${k}: ${e.resHeaders[k]}`);
        if (h.length) lines.push(`   response headers: ${h.join(" | ")}`);
    }
    if (e.resBody !== undefined && e.resBody !== "") lines.push(`   response body: ${cut(e.resBody)}`);
    return `${lines.join("\n")}\n`;
}

export function isFailure(e) {
    return !!e.error || e.status >= 400;
}
