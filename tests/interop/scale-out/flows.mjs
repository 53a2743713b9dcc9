// The core of the interop flows, driven by the published client against one base URL: the
// scale-out test (bins/backbone/tests/scale_out.rs) points it at a round-robin proxy in front
// of two Consumer API replicas, with two workers behind them, so every step may be answered by
// another replica than the one before. Exits non-zero on the first failure.
//
//   SCALE_OUT_BASE_URL=http://127.0.0.1:PORT SCALE_OUT_MESSAGES=5 node scale-out/flows.mjs
import assert from "node:assert/strict";

import { CoreDate } from "@nmshd/core-types";
import { TokenReference } from "@nmshd/transport";

import { createAccount, createDatabaseConnection, createTransport, describeError, MemoryLoggerFactory } from "../lib/client.mjs";
import { establishRelationship, setLabel, syncUntilMessage } from "../lib/flows.mjs";

const baseUrl = process.env.SCALE_OUT_BASE_URL;
const messageCount = Number(process.env.SCALE_OUT_MESSAGES ?? 5);
const timeoutMs = 60_000;
assert.ok(baseUrl, "SCALE_OUT_BASE_URL must be set");

const loggerFactory = new MemoryLoggerFactory();
const step = (name) => console.log(`step: ${name}`);

async function account(transport, connection, name) {
    const { account, initError } = await createAccount(transport, connection, name);
    if (initError) throw initError;
    setLabel(account, name);
    return account;
}

try {
    const transport = await createTransport({ baseUrl, loggerFactory });
    const connection = createDatabaseConnection();
    step("accounts A and B");
    const a = await account(transport, connection, "A");
    const b = await account(transport, connection, "B");
    assert.notEqual(a.identity.address.toString(), b.identity.address.toString());

    step("relationship: A's template, B requests, A accepts, both Active");
    const relationship = await establishRelationship(a, b, { loggerFactory, tag: "scale-out" });

    step(`${messageCount} messages from A to B, B syncs until it has each`);
    const sent = [];
    for (let i = 0; i < messageCount; i++) {
        const content = { content: `hello ${i}` };
        sent.push({ message: await a.messages.sendMessage({ recipients: [b.identity.address], content }), content });
    }
    for (const { message, content } of sent) {
        const received = await syncUntilMessage(b, message.id, { loggerFactory, timeoutMs });
        assert.deepEqual(JSON.parse(received.content.serialize()), content, "content as B decrypted it");
    }

    step("a reply from B, A syncs until it has it");
    const reply = await b.messages.sendMessage({ recipients: [a.identity.address], content: { content: "reply" } });
    await syncUntilMessage(a, reply.id, { loggerFactory, timeoutMs });

    step("A's token, loaded by B");
    const token = await a.tokens.sendToken({ content: { content: "token" }, expiresAt: CoreDate.utc().add({ minutes: 5 }), ephemeral: false });
    const loaded = await b.tokens.loadPeerTokenByReference(TokenReference.from(token.toTokenReference(baseUrl).truncate()), true);
    assert.equal(loaded.id.toString(), token.id.toString());

    console.log(JSON.stringify({ relationship: relationship.id.toString(), a: a.identity.address.toString(), b: b.identity.address.toString(), messages: sent.length + 1 }));
    process.exit(0);
} catch (e) {
    console.error(`failed: ${describeError(e)}`);
    console.error(loggerFactory.lines?.slice(-40).join("\n") ?? "");
    process.exit(1);
}
