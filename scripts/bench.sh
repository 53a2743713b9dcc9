#!/usr/bin/env bash
# Benchmark against the release binary (see tools/bench for the scenarios).
# Usage: scripts/bench.sh [sqlite|postgres] [count] [concurrency] [identities|sync|messages|deletion|files|mixed] [seconds]
# BENCH_QUOTA="NumberOfSentMessages 1000000 Hour" gives the tier Basic that quota first;
# BENCH_PAIRS: sender/recipient pairs of the messages scenario (default 10).
# (files: count = MiB of the one file uploaded and downloaded; mixed: count = identities,
# concurrency = clients, seconds = how long the load runs, default 60 or $BENCH_DURATION)
set -euo pipefail
cd "$(dirname "$0")/.."

database=${1:-sqlite}
count=${2:-200}
concurrency=${3:-4}
scenario=${4:-identities}
duration=${5:-${BENCH_DURATION:-60}}
# Each client holds a connection, and the server one per client plus its pool.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p backbone -p backbone-bench
data_dir=$(mktemp -d)
# Kept after the run: under load the server logs every failure there.
server_log=$(mktemp /tmp/bench-server.XXXXXX)
# BENCH_PORT: another free port when someone else is benchmarking on the machine.
port=${BENCH_PORT:-18090}
export BACKBONE_DATA_DIR=$data_dir
export BACKBONE_CONSUMER_API__LISTEN=127.0.0.1:$port
export BACKBONE_ADMIN_API__LISTEN=127.0.0.1:$((port + 1))
export BACKBONE_LOG__LEVEL=warn
# Long set-ups must not outlive their access tokens.
export BACKBONE_AUTHENTICATION__JWT_LIFETIME_SECONDS=3600
if [ "$database" = postgres ]; then
  db_name="bench_$(date +%s)"
  export BACKBONE_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db_name"
fi

cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "${db_name:-}" ] && psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null || true
  rm -rf "$data_dir"
}
trap cleanup EXIT

target/release/backbone migrate >/dev/null
target/release/backbone client create --clientId test --clientSecret test --defaultTier Basic >/dev/null
# BENCH_QUOTA="METRIC MAX PERIOD": every identity (tier Basic) gets that quota, to measure the check.
if [ -n "${BENCH_QUOTA:-}" ]; then
  read -r quota_metric quota_max quota_period <<<"$BENCH_QUOTA"
  target/release/backbone tier quota add --tier Basic --metricKey "$quota_metric" --max "$quota_max" --period "$quota_period" >/dev/null
fi
[ "$scenario" = files ] && export BACKBONE_FILES__MAX_FILE_SIZE_BYTES=$(( (count + 1) * 1024 * 1024 ))
# Jobs run only when the benchmark says so.
export BACKBONE_JOBS__IDENTITY_DELETION_INTERVAL_SECONDS=0 BACKBONE_JOBS__GRACE_PERIOD_REMINDERS_INTERVAL_SECONDS=0 BACKBONE_JOBS__HOUSEKEEPING_INTERVAL_SECONDS=0
if curl -fs "http://127.0.0.1:$port/health" >/dev/null; then
  echo "port $port is in use; choose another with BENCH_PORT" >&2
  exit 1
fi
target/release/backbone serve >>"$server_log" 2>&1 &
server_pid=$!

# Wait for readiness with a deadline rather than a fixed sleep.
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.1
done
kill -0 "$server_pid" 2>/dev/null || { echo "the server did not start; see $server_log" >&2; exit 1; }

echo "database=$database count=$count concurrency=$concurrency scenario=$scenario$([ "$scenario" = mixed ] && echo " duration=${duration}s")"
if [ "$scenario" = deletion ]; then
  # An identity with $count relationships and 10 messages per peer; then time the deletion job.
  target/release/backbone-bench --base-url "http://127.0.0.1:$port" --count "$count" --concurrency "$concurrency" --scenario deletion-setup
  # The worker relays the set-up's events in the background; time the job alone.
  if [ -n "${db_name:-}" ]; then
    until [ "$(psql -Atq -h 127.0.0.1 -U postgres -d "$db_name" -c 'SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL')" = 0 ]; do
      sleep 0.5
    done
  else
    sleep 10
  fi
  started=$(date +%s%N)
  target/release/backbone job run identity-deletion
  echo "identity deletion job: $(( ($(date +%s%N) - started) / 1000000 )) ms"
elif [ "$scenario" = mixed ]; then
  target/release/backbone-bench --base-url "http://127.0.0.1:$port" --count "$count" --concurrency "$concurrency" \
    --scenario mixed --duration "$duration" --server-pid "$server_pid" \
    --database-url "${BACKBONE_DATABASE__URL:-sqlite://$data_dir/backbone.db}"
else
  target/release/backbone-bench --base-url "http://127.0.0.1:$port" --count "$count" --concurrency "$concurrency" --scenario "$scenario" \
    ${BENCH_PAIRS:+--pairs "$BENCH_PAIRS"}
fi
echo "server peak RSS: $(grep VmHWM /proc/$server_pid/status | awk '{print $2, $3}')"
echo "server log: $server_log ($(grep -c ERROR "$server_log" || true) lines with ERROR)"
# On the wire a 500 says only "unexpected"; the log says why.
grep ERROR "$server_log" | sed -n 's/\x1b\[[0-9;]*m//g; s/.*error=//p' | cut -c1-150 | sort | uniq -c | sort -rn | head -5 || true
