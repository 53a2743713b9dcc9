#!/usr/bin/env bash
# Event bus benchmark on PostgreSQL: the in-process bus against RabbitMQ (the machine's broker
# at 127.0.0.1:5672, with an exchange and queues of this run's own, deleted afterwards).
# Usage: scripts/bench-bus.sh [backlog] [messages] [concurrency]
#
# For each bus, on a fresh database with the release binary:
#  1. relay rate: `backlog` messages are sent while only the Consumer API runs, so their
#     events wait in the outbox; then a worker starts, and the time until the outbox is empty
#     and every message has reached its recipient as an external event gives the events
#     relayed (and handled) per second;
#  2. end-to-end delay: with the worker running, `messages` more are sent (`concurrency` at a
#     time); for each, the delay from the message's creation to its recipient's
#     `MessageReceived` external event (both stamped by the server's clock), p50 and p99.
# SKIP_BUILD=1 skips the build; BENCH_PORT moves the server off port 18190.
set -euo pipefail
cd "$(dirname "$0")/.."

backlog=${1:-2000}
messages=${2:-1000}
concurrency=${3:-8}
port=${BENCH_PORT:-18190}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p backbone -p backbone-bench

psql_admin() { psql -qAt -h 127.0.0.1 -U postgres "$@"; }

results=()
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap cleanup EXIT

wait_for_health() {
  local deadline=$((SECONDS + 60))
  until curl -fs "http://127.0.0.1:$port/health" >/dev/null; do
    ((SECONDS < deadline)) || { echo "the server did not become healthy" >&2; exit 1; }
    sleep 0.2
  done
}

# Seconds (with milliseconds) since the epoch.
now() { date +%s.%N; }

run_bus() {
  local provider=$1 db_name="bench_bus_$(date +%s)_$RANDOM" name="bench-bus-$RANDOM"
  local data_dir log
  data_dir=$(mktemp -d)
  log=$(mktemp /tmp/bench-bus-server.XXXXXX)
  export BACKBONE_DATA_DIR=$data_dir
  export BACKBONE_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db_name"
  export BACKBONE_CONSUMER_API__LISTEN=127.0.0.1:$port
  export BACKBONE_ADMIN_API__LISTEN=127.0.0.1:$((port + 1))
  export BACKBONE_LOG__LEVEL=warn
  export BACKBONE_AUTHENTICATION__JWT_LIFETIME_SECONDS=3600
  export BACKBONE_EVENT_BUS__PROVIDER=$provider
  export BACKBONE_EVENT_BUS__RABBITMQ__EXCHANGE=$name
  export BACKBONE_EVENT_BUS__RABBITMQ__QUEUE_PREFIX=$name.
  export BACKBONE_MESSAGES__MAX_NUMBER_OF_UNRECEIVED_MESSAGES_FROM_ONE_SENDER=100
  export BACKBONE_WORKER__RELAY_INTERVAL_MILLISECONDS=50
  export BACKBONE_JOBS__IDENTITY_DELETION_INTERVAL_SECONDS=0 BACKBONE_JOBS__GRACE_PERIOD_REMINDERS_INTERVAL_SECONDS=0 BACKBONE_JOBS__HOUSEKEEPING_INTERVAL_SECONDS=0
  local db=(psql_admin -d "$db_name")

  target/release/backbone migrate >/dev/null
  target/release/backbone client create --clientId test --clientSecret test --defaultTier Basic >/dev/null
  target/release/backbone consumer-api >>"$log" 2>&1 &
  pids+=($!)
  wait_for_health

  echo "== $provider: $backlog messages into the outbox (no worker running)"
  target/release/backbone-bench --base-url "http://127.0.0.1:$port" --count "$backlog" \
    --concurrency "$concurrency" --pairs 10 --scenario messages | sed 's/^/   /'
  local pending
  pending=$("${db[@]}" -c "SELECT count(*) FROM outbox_events WHERE published_at IS NULL")
  local started
  started=$(now)
  target/release/backbone worker >>"$log" 2>&1 &
  pids+=($!)
  local total_messages
  total_messages=$("${db[@]}" -c "SELECT count(*) FROM messages")
  until [ "$("${db[@]}" -c "SELECT count(*) FROM outbox_events WHERE published_at IS NULL")" = 0 ] &&
    [ "$("${db[@]}" -c "SELECT count(*) FROM external_events WHERE event_type = 'MessageReceived'")" -ge "$total_messages" ] &&
    [ "$("${db[@]}" -c "SELECT count(*) FROM outbox_events WHERE published_at IS NULL")" = 0 ]; do
    sleep 0.05
  done
  local drained relayed
  drained=$(echo "$(now) - $started" | bc -l)
  relayed=$("${db[@]}" -c "SELECT count(*) FROM outbox_events WHERE published_at >= $(printf '%.0f' "$(echo "$started * 1000" | bc -l)")")
  local rate
  rate=$(echo "$relayed / $drained" | bc -l)
  printf '   backlog %s events (+%s raised while handling), drained in %.2f s: %.0f events/s\n' \
    "$pending" "$((relayed - pending))" "$drained" "$rate"

  echo "== $provider: $messages messages with the worker running"
  local marker
  marker=$("${db[@]}" -c "SELECT COALESCE(MAX(created_at), 0) FROM messages")
  target/release/backbone-bench --base-url "http://127.0.0.1:$port" --count "$messages" \
    --concurrency "$concurrency" --pairs 10 --scenario messages | sed 's/^/   /'
  total_messages=$("${db[@]}" -c "SELECT count(*) FROM messages")
  until [ "$("${db[@]}" -c "SELECT count(*) FROM external_events WHERE event_type = 'MessageReceived'")" -ge "$total_messages" ]; do
    sleep 0.05
  done
  local delays
  delays=$("${db[@]}" -F ' ' -c "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY e.created_at - m.created_at),
      percentile_cont(0.99) WITHIN GROUP (ORDER BY e.created_at - m.created_at), count(*)
    FROM messages m JOIN external_events e ON e.event_type = 'MessageReceived' AND e.payload::json->>'id' = m.id
    WHERE m.created_at > $marker")
  read -r p50 p99 counted <<<"$delays"
  printf '   send -> external event: p50 %.0f ms, p99 %.0f ms (%s messages)\n' "$p50" "$p99" "$counted"
  results+=("$(printf '%-12s %10.0f %12.0f %12.0f' "$provider" "$rate" "$p50" "$p99")")

  cleanup
  if [ "$provider" = rabbitmq ]; then
    # The run's queues and exchange: through the binary, which knows their names.
    BACKBONE_LOG__LEVEL=error target/release/backbone events delete-topology >/dev/null 2>&1 || true
  fi
  psql_admin -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null || true
  rm -rf "$data_dir"
  echo "   server log: $log"
}

run_bus in-process
run_bus rabbitmq

echo
printf '%-12s %10s %12s %12s\n' bus "events/s" "e2e p50 ms" "e2e p99 ms"
for line in "${results[@]}"; do echo "$line"; done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
