#!/usr/bin/env bash
# How long housekeeping takes on PostgreSQL with a backlog: ROWS sync runs finalized 40 days ago
# (each with the external event it delivered, every tenth with a sync error) and ROWS superseded
# datawallet modifications created 40 days ago, spread over 1,000 identities, next to rows that
# must stay (the newest modification of every object, one young run per identity).
# Seeds a fresh database with generate_series, runs `backbone job run housekeeping` once, checks
# what is left and drops the database.
# Usage: scripts/bench-housekeeping.sh [rows]    (default 100000)
# BENCH_PROFILE=debug|release (default release); SKIP_BUILD=1 uses the binary as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:-100000}
profile=${BENCH_PROFILE:-release}
identities=1000
per_identity=$((rows / identities))
bin=target/$profile/backbone
db=backbone_bench_housekeeping_$$
server=postgres://postgres@127.0.0.1:5432
url=$server/$db

if [ -z "${SKIP_BUILD:-}" ]; then
  if [ "$profile" = release ]; then cargo build --release -q -p backbone; else cargo build -q -p backbone; fi
fi

psql -q "$server/postgres" -c "CREATE DATABASE $db"
trap 'psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
data_dir=$(mktemp -d)
trap 'psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; rm -rf "$data_dir"' EXIT
export BACKBONE_DATABASE__URL=$url BACKBONE_DATA_DIR=$data_dir BACKBONE_LOG__LEVEL=info BACKBONE_LOG__FORMAT=json
"$bin" migrate >/dev/null 2>&1

old_ms="(extract(epoch FROM now() - interval '40 days') * 1000)::bigint"
young_ms="(extract(epoch FROM now() - interval '1 day') * 1000)::bigint"
owner="'did:e:bench:dids:' || lpad(o::text, 22, '0')"
echo "seeding $rows finalized sync runs and $rows superseded modifications over $identities identities"
seed_started=$(date +%s.%N)
psql -q -v ON_ERROR_STOP=1 "$url" <<SQL
INSERT INTO sync_runs (id, owner, run_index, run_type, created_at, created_by_device, expires_at, finalized_at, event_count)
SELECT 'SYR' || lpad((o * 100000 + i)::text, 17, '0'), $owner, i, 'ExternalEventSync',
       $old_ms, 'DVCbenchbenchbenchbe', $old_ms, $old_ms, 1
FROM generate_series(1, $identities) o, generate_series(1, $per_identity) i;
INSERT INTO sync_runs (id, owner, run_index, run_type, created_at, created_by_device, expires_at, finalized_at, event_count)
SELECT 'SYRyoung' || lpad(o::text, 12, '0'), $owner, $per_identity + 1, 'ExternalEventSync',
       $young_ms, 'DVCbenchbenchbenchbe', $young_ms, $young_ms, 0
FROM generate_series(1, $identities) o;
INSERT INTO external_events (id, owner, event_index, event_type, payload, created_at, sync_run_id)
SELECT 'SYI' || substr(id, 4), owner, run_index, 'MessageReceived', '{}', created_at, id
FROM sync_runs WHERE id NOT LIKE 'SYRyoung%';
INSERT INTO sync_errors (id, sync_run_id, external_event_id, error_code)
SELECT 'SYE' || substr(id, 4), id, 'SYI' || substr(id, 4), 'error.transport.unknown'
FROM sync_runs WHERE id NOT LIKE 'SYRyoung%' AND run_index % 10 = 0;
INSERT INTO datawallets (id, owner, version)
SELECT 'DWL' || lpad(o::text, 17, '0'), $owner, 1 FROM generate_series(1, $identities) o;
-- Per identity: objects created and then updated; every create is superseded by its update.
INSERT INTO datawallet_modifications (id, datawallet_id, modification_index, datawallet_version,
    object_identifier, payload_category, collection, modification_type, encrypted_payload,
    created_at, created_by, created_by_device)
SELECT 'DWM' || lpad((o * 1000000 + i)::text, 17, '0'), 'DWL' || lpad(o::text, 17, '0'), i, 1,
       'OBJ' || (i / 2), 'Content', 'Attributes', CASE WHEN i % 2 = 0 THEN 'Create' ELSE 'Update' END,
       '\x010203', $old_ms, $owner, 'DVCbenchbenchbenchbe'
FROM generate_series(1, $identities) o, generate_series(0, 2 * $per_identity - 1) i;
ANALYZE;
SQL
seed_finished=$(date +%s.%N)
echo "seeded in $(python3 -c "print(f'{$seed_finished - $seed_started:.1f}')") s"

log=$data_dir/housekeeping.log
started=$(date +%s.%N)
summary=$("$bin" job run housekeeping 2>"$log")
finished=$(date +%s.%N)
echo "summary: $summary"
python3 - "$log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        fields = json.loads(line).get("fields", {})
    except ValueError:
        continue
    if "sweep" in fields:
        print(f"  {fields['sweep']:<30} {fields['deleted']:>8} deleted in {fields['duration_ms']:>6} ms")
PY
echo "housekeeping ($profile binary, whole command incl. start): $(python3 -c "print(f'{$finished - $started:.2f}')") s"

left() { psql -tAq "$url" -c "$1"; }
runs=$(left "SELECT COUNT(*) FROM sync_runs")
events=$(left "SELECT COUNT(*) FROM external_events")
errors=$(left "SELECT COUNT(*) FROM sync_errors")
modifications=$(left "SELECT COUNT(*) FROM datawallet_modifications")
echo "left: $runs sync runs, $events external events, $errors sync errors, $modifications modifications"
[ "$runs" -eq "$identities" ] && [ "$events" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$modifications" -eq "$rows" ] \
  || { echo "unexpected rows left" >&2; exit 1; }
