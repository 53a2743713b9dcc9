// Data for the API fuzzer (tests/api-fuzz): resources the fuzzing identity owns or takes part
// in, made with the client library, so that operations on `/{id}` paths meet real records and
// not only 404s. Returns the identifiers by resource.

import { CoreDate } from "@nmshd/core-types";
import { CoreBuffer } from "@nmshd/crypto";

import { establishRelationship } from "./flows.mjs";

/**
 * `account` gets a relationship with `peer` (from its own template), a token, a file, a
 * message to the peer, and a second device that never logged in.
 */
export async function seedResources(account, peer, { loggerFactory }) {
    const expiresAt = CoreDate.utc().add({ hours: 2 });
    const relationship = await establishRelationship(account, peer, { loggerFactory, tag: "fuzz" });
    const token = await account.tokens.sendToken({ content: { fuzz: true }, expiresAt, ephemeral: false });
    const file = await account.files.sendFile({
        buffer: CoreBuffer.fromUtf8("fuzz"),
        title: "fuzz",
        description: "seed",
        filename: "fuzz.txt",
        mimetype: "text/plain",
        filemodified: CoreDate.utc(),
        expiresAt,
        tags: []
    });
    const message = await account.messages.sendMessage({ recipients: [peer.identity.address], content: { fuzz: true } });
    const device = await account.devices.sendDevice({ name: "fuzz", description: "never logs in" });
    return {
        relationships: [relationship.id.toString()],
        relationshipTemplates: [relationship.template.id.toString()],
        tokens: [token.id.toString()],
        files: [file.id.toString()],
        messages: [message.id.toString()],
        devices: [device.id.toString()],
        identities: [peer.identity.address.toString(), account.identity.address.toString()]
    };
}
