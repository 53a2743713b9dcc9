#!/usr/bin/env bash
# `backbone database export` on a PostgreSQL database with many messages: peak RSS and
# duration (GNU time), then every CSV of the zip read back with Python's csv module and its
# columns checked against upstream's export models (admin-and-services §3).
# Usage: scripts/bench-export.sh [messages=100000]
# BINARY picks the binary (default target/debug/backbone, built unless SKIP_BUILD=1).
set -euo pipefail
cd "$(dirname "$0")/.."

messages=${1:-100000}
binary=${BINARY:-target/debug/backbone}
[ -n "${SKIP_BUILD:-}" ] || cargo build -q -p backbone
database="backbone_bench_export_$$"
work=$(mktemp -d)
psql_admin() { psql -qAt -h 127.0.0.1 -U postgres "$@"; }
cleanup() {
  psql_admin -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export BACKBONE_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$database"
export BACKBONE_DATA_DIR="$work/data" BACKBONE_LOG__LEVEL=warn TMPDIR="$work"
psql_admin -c "CREATE DATABASE $database" >/dev/null
"$binary" migrate >/dev/null
"$binary" client create --clientId bench --displayName "Bench App" --defaultTier Basic >/dev/null

# Two identities of the client, a relationship, and $messages messages of 1 KiB between them.
psql_admin -d "$database" <<SQL
INSERT INTO identities (address, client_id, public_key, tier_id, created_at, identity_version, status)
SELECT 'did:e:localhost:dids:' || repeat(c, 22), 'bench', '\\x01', 'TIRBasic000000000000', 0, 1, 'Active'
FROM unnest(ARRAY['a', 'b']) AS c;
INSERT INTO relationships (id, template_id, from_address, to_address, pair_key, created_at, status)
VALUES ('RELbenchbenchbench00', NULL, 'did:e:localhost:dids:' || repeat('a', 22),
        'did:e:localhost:dids:' || repeat('b', 22), 'bench', 0, 'Active');
INSERT INTO messages (id, created_at, created_by, created_by_device, body)
SELECT 'MSG' || lpad(n::text, 17, '0'), n, 'did:e:localhost:dids:' || repeat('a', 22), 'DVCbenchbenchbench00',
       decode(repeat('ab', 1024), 'hex')
FROM generate_series(1, $messages) AS n;
INSERT INTO message_recipients (message_id, position, address, relationship_id, encrypted_key, sender, created_at)
SELECT 'MSG' || lpad(n::text, 17, '0'), 0, 'did:e:localhost:dids:' || repeat('b', 22), 'RELbenchbenchbench00',
       '\\x02', 'did:e:localhost:dids:' || repeat('a', 22), n
FROM generate_series(1, $messages) AS n;
ANALYZE;
SQL

/usr/bin/time -v -o "$work/time.txt" "$binary" database export --sensitive >"$work/out.txt"
zip=$(ls "$work"/enmeshed/backbone/export-*.zip)
echo "messages: $messages"
echo "zip: $(du -h "$zip" | cut -f1)"
grep -E "Elapsed \(wall clock\)|Maximum resident set size" "$work/time.txt"

python3 - "$zip" "$messages" <<'PY'
import csv, io, sys, zipfile

expected = {
    "devices.csv": ["DeviceId", "LastLoginAt", "IdentityAddress", "CreatedAt", "Tier", "IdentityStatus",
                    "IdentityDeletionGracePeriodEndsAt", "ClientId", "ClientName", "Platform"],
    "deletionAuditLogItems.csv": ["OldStatus", "NewStatus", "IdentityAddressHash", "MessageKey", "CreatedAt"],
    "relationshipTemplates.csv": ["TemplateId", "CreatedBy", "CreatedByClientName", "CreatedAt", "AllocatedAt"],
    "relationships.csv": ["RelationshipId", "TemplateId", "From", "FromClientId", "FromClientName", "To",
                          "ToClientId", "ToClientName", "CreatedAt", "Status", "FromHasDecomposed",
                          "ToHasDecomposed", "TemplateCreatedAt"],
    "files.csv": ["FileId", "CreatedBy", "CreatedByClientName", "CreatedAt", "Owner", "OwnerClientName",
                  "CipherSize", "ExpiresAt"],
    "messages.csv": ["MessageId", "CreatedBy", "CreatedByClientName", "RelationshipId", "Recipient",
                     "RecipientClientName", "CreatedAt", "ReceivedAt", "CipherSize"],
    "datawalletModifications.csv": ["DatawalletModificationId", "CreatedAt", "CreatedBy", "CreatedByClientId",
                                    "CreatedByClientName", "ObjectIdentifier", "Collection", "Type",
                                    "PayloadCategory", "PayloadSize"],
    "tokens.csv": ["TokenId", "CreatedAt", "CreatedBy", "CreatedByClientId", "CreatedByClientName", "CipherSize",
                   "ExpiresAt"],
    "syncErrors.csv": ["ErrorId", "SyncItemOwner", "SyncItemOwnerClientId", "SyncItemOwnerClientName",
                       "CreatedAt", "ErrorCode"],
}
archive = zipfile.ZipFile(sys.argv[1])
assert sorted(archive.namelist()) == sorted(expected), archive.namelist()
for name, columns in expected.items():
    rows = list(csv.reader(io.TextIOWrapper(archive.open(name), encoding="utf-8", newline="")))
    assert rows[0] == columns, (name, rows[0])
    assert all(len(row) == len(columns) for row in rows[1:]), name
    print(f"{name}: {len(rows) - 1} rows, columns ok")
messages = list(csv.DictReader(io.TextIOWrapper(archive.open("messages.csv"), encoding="utf-8", newline="")))
assert len(messages) == int(sys.argv[2])
assert all(m["CipherSize"] == "1024" and m["RecipientClientName"] == "Bench App" for m in messages)
PY
