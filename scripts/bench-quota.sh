#!/usr/bin/env bash
# What the quota check costs: message sends at concurrency 16 on PostgreSQL, with and without an
# active quota (NumberOfSentMessages, high enough never to be exhausted), in alternating rounds
# (A B B A A B ...) on fresh servers and databases, so that a busy machine slows both alike.
# Usage: scripts/bench-quota.sh [rounds] [messages per round]
# BENCH_PAIRS (default 32): sender/recipient pairs; more pairs than clients, so that the figure
# is the check's own cost, not clients of one sender queueing on its quota lock.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-6}
messages=${2:-3000}
export BENCH_PAIRS=${BENCH_PAIRS:-32}
quota="NumberOfSentMessages 100000000 Hour"

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p backbone -p backbone-bench

# The scenario fails (and bench.sh exits non-zero) on any refused send.
rate_of() { sed -n 's/^message send .*throughput=\([0-9.]*\)\/s.*/\1/p'; }

run() { # $1 = with|without
  local out
  if [ "$1" = with ]; then
    out=$(SKIP_BUILD=1 BENCH_QUOTA=$quota scripts/bench.sh postgres "$messages" 16 messages)
  else
    out=$(SKIP_BUILD=1 scripts/bench.sh postgres "$messages" 16 messages)
  fi
  rate_of <<<"$out"
}

with=() without=()
for round in $(seq 1 "$rounds"); do
  # ABBA: every second round starts with the quota, so neither side always goes first.
  if (( round % 2 )); then order="without with"; else order="with without"; fi
  for side in $order; do
    rate=$(run "$side")
    if [ "$side" = with ]; then with+=("$rate"); else without+=("$rate"); fi
    echo "round $round $side quota: $rate msg/s"
  done
done

python3 - "${without[*]}" "${with[*]}" <<'PY'
import statistics, sys
without = [float(x) for x in sys.argv[1].split()]
with_ = [float(x) for x in sys.argv[2].split()]
pairs = [w / o - 1 for o, w in zip(without, with_)]
print(f"without quota: median {statistics.median(without):.1f} msg/s, mean {statistics.mean(without):.1f}")
print(f"with quota:    median {statistics.median(with_):.1f} msg/s, mean {statistics.mean(with_):.1f}")
print(f"cost of the check: median of round ratios {statistics.median(pairs) * 100:+.1f} %, "
      f"ratio of medians {(statistics.median(with_) / statistics.median(without) - 1) * 100:+.1f} %")
PY
