#!/usr/bin/env bash
# Message sending on PostgreSQL beside pgbench replaying the same SQL, in one run.
# Usage: scripts/bench-pgbench.sh [identities] [seconds] [client counts...]
#   defaults: 800 identities (400 related pairs), 30 s per measurement, clients 1 4 16 64.
# For each client count: our senders against the release server (accepted and sustained
# rate, see tools/bench/src/send.rs), then pgbench with tools/bench/pgbench/send-request.sql
# (the request's SQL) and send-handled.sql (request plus event handling). Every measurement
# starts from a copy of the same database, the one the set-up filled.
# BACKBONE_* variables pass through to the server, e.g. BACKBONE_DATABASE__MAX_CONNECTIONS.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${1:-800}
duration=${2:-30}
if [ $# -gt 2 ]; then clients=("${@:3}"); else clients=(1 4 16 64); fi
command -v pgbench >/dev/null || { echo "pgbench not found: apt-get install postgresql-contrib" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p backbone -p backbone-bench

pg=(-h 127.0.0.1 -U postgres)
base="bench_send_$(date +%s)"
data_dir=$(mktemp -d)
server_log=$(mktemp /tmp/bench-pgbench-server.XXXXXX)
port=${BENCH_PORT:-18090}
export BACKBONE_DATA_DIR=$data_dir
export BACKBONE_CONSUMER_API__LISTEN=127.0.0.1:$port
export BACKBONE_ADMIN_API__LISTEN=127.0.0.1:$((port + 1))
export BACKBONE_LOG__LEVEL=warn
export BACKBONE_AUTHENTICATION__JWT_LIFETIME_SECONDS=3600
export BACKBONE_JOBS__IDENTITY_DELETION_INTERVAL_SECONDS=0 BACKBONE_JOBS__GRACE_PERIOD_REMINDERS_INTERVAL_SECONDS=0 BACKBONE_JOBS__HOUSEKEEPING_INTERVAL_SECONDS=0
# Recipients never fetch, so each pair takes up to this many messages (the largest allowed).
export BACKBONE_MESSAGES__MAX_NUMBER_OF_UNRECEIVED_MESSAGES_FROM_ONE_SENDER=100

url() { echo "postgres://postgres@127.0.0.1:5432/$1"; }
sql() { psql -q -X "${pg[@]}" -v ON_ERROR_STOP=1 "$@"; }
bench() { target/release/backbone-bench --base-url "http://127.0.0.1:$port" "$@"; }

start_server() {
  if curl -fs "http://127.0.0.1:$port/health" >/dev/null; then
    echo "port $port is in use; choose another with BENCH_PORT" >&2
    exit 1
  fi
  BACKBONE_DATABASE__URL=$(url "$1") target/release/backbone serve >>"$server_log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    # Ready, and it is our process that answered.
    curl -fs "http://127.0.0.1:$port/health" >/dev/null && kill -0 "$server_pid" 2>/dev/null && return
    sleep 0.1
  done
  echo "the server did not become ready; see $server_log" >&2
  exit 1
}

stop_server() {
  kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  server_pid=
}

cleanup() {
  [ -n "${server_pid:-}" ] && stop_server
  for db in "$base" "${base}_server" "${base}_pgbench"; do
    sql -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$data_dir"
}
trap cleanup EXIT

# pgbench with one script on a fresh copy of the set-up's database; prints its tps.
pgbench_tps() {
  local script=$1 c=$2 db="${base}_pgbench" npairs out
  sql -c "CREATE DATABASE $db TEMPLATE $base"
  sql -d "$db" -f tools/bench/pgbench/pairs.sql
  npairs=$(psql -AtX "${pg[@]}" -d "$db" -c "SELECT count(*) FROM bench_pairs")
  out=$(pgbench "${pg[@]}" -n -M prepared -c "$c" -j $((c < 2 ? c : 2)) -T "$duration" \
    -D npairs="$npairs" -D clients="$c" -f "tools/bench/pgbench/$script" "$db" 2>&1) || true
  echo "$out" | sed "s/^/  pgbench $script: /" >&2
  sql -c "DROP DATABASE $db WITH (FORCE)"
  echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | grep . || echo failed
}

# value of key=... in a RESULT line
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "send vs pgbench: $count identities, ${duration}s per measurement, clients ${clients[*]}; server log $server_log"
BACKBONE_DATABASE__URL=$(url "$base") target/release/backbone migrate >/dev/null
BACKBONE_DATABASE__URL=$(url "$base") target/release/backbone client create --clientId test --clientSecret test --defaultTier Basic >/dev/null
start_server "$base"
bench --scenario send-setup --count "$count" --sessions-file "$data_dir/sessions.json" --database-url "$(url "$base")"
stop_server

rows=()
for c in "${clients[@]}"; do
  echo "== $c clients; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  sql -c "CREATE DATABASE ${base}_server TEMPLATE $base"
  echo "== $c clients" >>"$server_log"
  start_server "${base}_server"
  out=$(bench --scenario send --concurrency "$c" --duration "$duration" --sessions-file "$data_dir/sessions.json" \
    --database-url "$(url "${base}_server")" --unreceived-limit 100)
  echo "$out"
  stop_server
  # On the wire a 500 says only "unexpected"; the log says why.
  sed -n "/^== $c clients/,\$p" "$server_log" | grep ERROR | sed -n 's/\x1b\[[0-9;]*m//g; s/.*error=//p' | cut -c1-150 | sort | uniq -c | sort -rn | head -5 || true
  sql -c "DROP DATABASE ${base}_server WITH (FORCE)"
  result=$(echo "$out" | grep "^RESULT" || true)
  request_tps=$(pgbench_tps send-request.sql "$c")
  handled_tps=$(pgbench_tps send-handled.sql "$c")
  load=$(cut -d' ' -f1 /proc/loadavg)
  echo "pgbench: request SQL $request_tps tps, request + handling SQL $handled_tps tps; load average $load"
  rows+=("$c $(field "$result" accepted_per_s) $request_tps $(field "$result" sustained_per_s) $handled_tps $(field "$result" p99_ms) $(field "$result" failed) $load")
done

echo
echo "message send vs pgbench (PostgreSQL, ${duration}s each, $count identities)"
printf '%s\n' "${rows[@]}" | awk '
  function pct(a, b) { return (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) ? sprintf("%.0f %%", 100 * a / b) : "n/a" }
  BEGIN { printf "%7s %11s %11s %9s %12s %11s %9s %9s %7s %5s\n", "clients", "accepted/s", "pgb req/s", "accepted", "sustained/s", "pgb full/s", "sustained", "p99 ms", "failed", "load" }
  function num(a) { return a ~ /^[0-9.]+$/ ? sprintf("%.1f", a) : a }
  { printf "%7s %11s %11s %9s %12s %11s %9s %9s %7s %5s\n", $1, num($2), num($3), pct($2, $3), num($4), num($5), pct($4, $5), $6, $7, $8 }'
