#!/usr/bin/env bash
# The project's test command. Runs these stages and always all of them:
#   0. cargo fmt --check and cargo clippy --all-targets -D warnings (each counts as one check)
#   1. cargo test --workspace                 (unit tests; API tests on SQLite and PostgreSQL; the
#                                              scale-out test on RabbitMQ at 127.0.0.1:5672 and the
#                                              broker-outage test on a RabbitMQ node of its own)
#   2. interop suite on SQLite + local files  (tests/interop: the real binary driven by @nmshd/transport)
#   3. interop suite on PostgreSQL + Azure    (Azurite from tests/blob-emulators, started by the suite)
#   4. interop suite on PostgreSQL + S3       (moto_server from PyPI, started by the suite)
#   5. deployment files                       (hadolint, kustomize render of every overlay,
#                                              kubernetes-validate, checkov; deploy/kubernetes/validate.sh)
#   6. onboarding page in headless Chromium   (tests/onboarding-browser: screenshots in target/test-logs)
#   7. Admin UI in headless Chromium          (tests/admin-ui-browser: the operator's flows against
#                                              the real binary, identities from @nmshd/transport;
#                                              screenshots and page weight in target/test-logs)
#   8. schemathesis against the Consumer API  (tests/api-fuzz: the real binary on a fresh SQLite
#                                              database, fuzzed from its own /docs/v2/openapi.json;
#                                              one check per operation; FUZZ_MAX_EXAMPLES per
#                                              operation, default 10)
# Logs go to target/test-logs/. The last line printed is always "N passed, M failed";
# the exit status is non-zero if any stage failed. `scripts/test.sh --fuzz-only` runs stage 8 alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_DIR="$ROOT/target/test-logs"
INTEROP_DIR="$ROOT/tests/interop"
BACKBONE_BIN_PATH="$ROOT/target/debug/backbone"
PG_HOST=127.0.0.1
PG_PORT=5432
PG_START_TIMEOUT_SECONDS=30

TOTAL_PASSED=0
TOTAL_FAILED=0
ANY_STAGE_FAILED=0
STAGE_LINES=()   # one summary line per stage
FAILURES=()      # names of failed tests, for the summary

say() { printf '\n==> %s\n' "$*"; }

# Records a stage's outcome and adds its counts to the totals.
record_stage() {
    local name=$1 status=$2 passed=$3 failed=$4 log=$5
    local verdict=ok
    [[ $status -ne 0 ]] && verdict=FAILED
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
    STAGE_LINES+=("$(printf '%-26s %-7s %5d passed, %3d failed   %s' \
        "$name" "$verdict" "$passed" "$failed" "${log#"$ROOT/"}")")
    [[ $status -eq 0 ]] || ANY_STAGE_FAILED=1
}

# Prints the per-stage table, the failed tests, and the final count line (always last).
print_summary() {
    say "Summary"
    local line
    for line in "${STAGE_LINES[@]}"; do printf '  %s\n' "$line"; done
    if [[ ${#FAILURES[@]} -gt 0 ]]; then
        printf '  failed tests:\n'
        for line in "${FAILURES[@]:0:30}"; do printf '    %s\n' "$line"; done
        [[ ${#FAILURES[@]} -gt 30 ]] && printf '    ... and %d more\n' $((${#FAILURES[@]} - 30))
    fi
    printf '%d passed, %d failed\n' "$TOTAL_PASSED" "$TOTAL_FAILED"
}

# --- PostgreSQL --------------------------------------------------------------------------------

pg_answers() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }

# Every API test and the postgres interop run need the server; start it if the machine has a
# local cluster that is down (it is started before each session, but may have stopped).
ensure_postgres() {
    command -v pg_isready >/dev/null || { echo "error: pg_isready not found (install postgresql-client)" >&2; return 1; }
    pg_answers && return 0
    if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
        local version
        for version in /etc/postgresql/*/; do
            echo "PostgreSQL is not answering; starting cluster $(basename "$version")/main"
            pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
        done
    fi
    local deadline=$((SECONDS + PG_START_TIMEOUT_SECONDS))
    until pg_answers; do
        if ((SECONDS >= deadline)); then
            echo "error: PostgreSQL does not answer at $PG_HOST:$PG_PORT (waited ${PG_START_TIMEOUT_SECONDS}s)." >&2
            echo "       Start it with: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
            return 1
        fi
        sleep 0.5
    done
}

psql_admin() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

# Aborted runs leave per-test databases behind (Rust tests drop theirs in Drop, the interop
# suite after its run); they pile up otherwise. Assumes no other test run is active right now.
# Not fatal: the tests use fresh, randomly named databases anyway.
drop_leftover_databases() {
    local names name
    names=$(psql_admin -c "SELECT datname FROM pg_database
        WHERE datname LIKE 'backbone\_test\_%' OR datname LIKE 'interop\_%'") ||
        { echo "warning: could not list leftover test databases" >&2; return 0; }
    for name in $names; do
        psql_admin -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" ||
            echo "warning: could not drop $name" >&2
    done
    [[ -z $names ]] || echo "dropped $(wc -w <<<"$names") leftover test database(s)"
}

# --- Stages ------------------------------------------------------------------------------------

# Sums the "N passed; M failed" of every libtest "test result:" line in a cargo log.
cargo_counts() {
    awk '/^test result: / {
            for (i = 1; i <= NF; i++) {
                if ($(i + 1) ~ /^passed;?$/) p += $i
                if ($(i + 1) ~ /^failed;?$/) f += $i
            }
         }
         END { print p + 0, f + 0 }' "$1"
}

run_cargo_tests() {
    local log="$LOG_DIR/cargo-test.log" status=0
    # The scale-out test (bins/backbone/tests/scale_out.rs) drives the published client from
    # tests/interop; without its node_modules it fails, so install them first.
    ensure_node_modules "$INTEROP_DIR" 2>&1 | tee "$LOG_DIR/npm-ci.log" || true
    say "cargo test --workspace"
    # --no-fail-fast: without it cargo stops at the first failing test binary and the counts
    # of the remaining ones would be missing from the summary.
    (cd "$ROOT" && cargo test --workspace --no-fail-fast) 2>&1 | tee "$log" || status=$?
    local counts
    read -r -a counts <<<"$(cargo_counts "$log")"
    record_stage "cargo test" "$status" "${counts[0]}" "${counts[1]}" "$log"
    local failed
    while IFS= read -r failed; do
        FAILURES+=("cargo: $failed")
    done < <(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$log")
}

# Formatting and lints are checks like the tests: each is one passed or failed entry.
run_static_checks() {
    local log="$LOG_DIR/fmt.log" status=0
    say "cargo fmt --check"
    (cd "$ROOT" && cargo fmt --all -- --check) >"$log" 2>&1 || status=$?
    [[ $status -eq 0 ]] || { cat "$log"; FAILURES+=("cargo fmt --check (see ${log#"$ROOT/"})"); }
    record_stage "cargo fmt" "$status" $((status == 0)) $((status != 0)) "$log"
    log="$LOG_DIR/clippy.log" status=0
    say "cargo clippy --workspace --all-targets -- -D warnings"
    (cd "$ROOT" && cargo clippy --workspace --all-targets -- -D warnings) 2>&1 | tee "$log" || status=$?
    [[ $status -eq 0 ]] || FAILURES+=("cargo clippy (see ${log#"$ROOT/"})")
    record_stage "cargo clippy" "$status" $((status == 0)) $((status != 0)) "$log"
}

# npm ci only when needed: it deletes and reinstalls node_modules, which is slow.
ensure_node_modules() {
    local dir=$1
    local lock="$dir/package-lock.json" installed="$dir/node_modules/.package-lock.json"
    if [[ ! -d $dir/node_modules || ! -f $installed || $lock -nt $installed ]]; then
        say "npm ci (${dir#"$ROOT/"})"
        (cd "$dir" && npm ci --no-audit --no-fund)
    fi
}

# node's test runner prints "# pass N" (TAP, used when stdout is not a terminal) or
# "ℹ pass N" (spec reporter); take the final summary line.
node_count() {
    local what=$1 log=$2
    sed -n "s/^\(# \|ℹ \)$what \([0-9][0-9]*\)\$/\2/p" "$log" | tail -n 1 | grep . || echo 0
}

# $1: the suite's npm script without "test:" (sqlite, postgres:azure, ...), which picks the
# database and the blob storage; the suite starts the Azure/S3 emulator itself.
run_interop() {
    local config=$1 log="$LOG_DIR/interop-${1//:/-}.log" status=0
    say "interop suite on $config"
    (cd "$INTEROP_DIR" && BACKBONE_BIN="$BACKBONE_BIN_PATH" npm run "test:$config") 2>&1 | tee "$log" || status=$?
    record_stage "interop $config" "$status" "$(node_count pass "$log")" "$(node_count fail "$log")" "$log"
    local failed
    while IFS= read -r failed; do
        FAILURES+=("interop $config: $failed")
    done < <(sed -n 's/^ *not ok [0-9]* - //p' "$log")
}

run_interop_suites() {
    local log="$LOG_DIR/npm-ci.log" status=0
    ensure_node_modules "$INTEROP_DIR" 2>&1 | tee "$log" || status=$?
    if [[ $status -ne 0 ]]; then
        # Without its dependencies the suite cannot run at all.
        record_stage "interop (npm ci)" "$status" 0 0 "$log"
        return
    fi
    run_interop sqlite
    # Azurite for postgres:azure (.ci/run installs it too; moto_server comes from PyPI, see .ci/run).
    # If this fails, the azure run fails with a message saying what is missing.
    ensure_node_modules "$ROOT/tests/blob-emulators" 2>&1 | tee -a "$log" || true
    run_interop postgres:azure
    run_interop postgres:s3
}

# hadolint, the overlays' rendering, schema validation and the policy scan; each is one check,
# and a missing tool fails its check (.ci/run installs them).
run_deploy_checks() {
    local log="$LOG_DIR/deploy.log" status=0
    say "deployment files (deploy/kubernetes/validate.sh)"
    "$ROOT/deploy/kubernetes/validate.sh" 2>&1 | tee "$log" || status=$?
    local passed failed
    passed=$(grep -c '^ok - ' "$log" || true)
    failed=$(grep -c '^not ok - ' "$log" || true)
    # A script that died before its checks ran counts as one failure.
    [[ $status -ne 0 && $failed -eq 0 ]] && failed=1
    record_stage "deploy checks" "$status" "$passed" "$failed" "$log"
    local check
    while IFS= read -r check; do
        FAILURES+=("deploy: $check")
    done < <(sed -n 's/^not ok - //p' "$log")
}

# Debian's Chromium drives the onboarding page of the real binary; without it the stage fails
# (.ci/run installs it). Screenshots land in target/test-logs/onboarding-*.png.
run_onboarding_browser() {
    local dir="$ROOT/tests/onboarding-browser" log="$LOG_DIR/onboarding-browser.log" status=0
    say "onboarding page in headless Chromium"
    {
        [[ -x /usr/bin/chromium ]] || { echo "error: /usr/bin/chromium is missing (apt-get install -y chromium)"; false; } &&
            PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 ensure_node_modules "$dir" &&
            (cd "$ROOT" && cargo build -p backbone) &&
            (cd "$dir" && BACKBONE_BIN="$BACKBONE_BIN_PATH" npm test)
    } 2>&1 | tee "$log" || status=$?
    local passed failed
    passed=$(node_count pass "$log") failed=$(node_count fail "$log")
    # A stage that could not run at all still counts as one failure.
    [[ $status -ne 0 && $failed -eq 0 ]] && failed=1
    record_stage "onboarding browser" "$status" "$passed" "$failed" "$log"
    local name
    while IFS= read -r name; do
        FAILURES+=("onboarding browser: $name")
    done < <(sed -n 's/^ *not ok [0-9]* - //p' "$log")
}

# The Admin UI's browser test uses Debian's Chromium like the onboarding test, and
# tests/interop's helpers (and so its node_modules) to create an identity with the client library.
# Screenshots land in target/test-logs/admin-ui-*.png.
run_admin_ui_browser() {
    local dir="$ROOT/tests/admin-ui-browser" log="$LOG_DIR/admin-ui-browser.log" status=0
    say "Admin UI in headless Chromium"
    {
        [[ -x /usr/bin/chromium ]] || { echo "error: /usr/bin/chromium is missing (apt-get install -y chromium)"; false; } &&
            ensure_node_modules "$INTEROP_DIR" &&
            PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 ensure_node_modules "$dir" &&
            (cd "$ROOT" && cargo build -p backbone) &&
            (cd "$dir" && BACKBONE_BIN="$BACKBONE_BIN_PATH" npm test)
    } 2>&1 | tee "$log" || status=$?
    local passed failed
    passed=$(node_count pass "$log") failed=$(node_count fail "$log")
    # A stage that could not run at all still counts as one failure.
    [[ $status -ne 0 && $failed -eq 0 ]] && failed=1
    record_stage "admin ui browser" "$status" "$passed" "$failed" "$log"
    local name
    while IFS= read -r name; do
        FAILURES+=("admin ui browser: $name")
    done < <(sed -n 's/^ *not ok [0-9]* - //p' "$log")
}

# schemathesis (PyPI; .ci/run installs it, SCHEMATHESIS_BIN if not on the PATH) sends generated
# requests to every Consumer API operation and fails one that answers 5xx or contradicts the
# document. tests/api-fuzz/run.mjs starts the server, creates its identities with the client
# library (tests/interop's node_modules) and prints the figures; each operation is one check.
run_api_fuzz() {
    local log="$LOG_DIR/api-fuzz.log" status=0
    say "schemathesis against the Consumer API"
    {
        command -v "${SCHEMATHESIS_BIN:-schemathesis}" >/dev/null ||
            { echo "error: schemathesis is missing (pip install schemathesis; .ci/run does)"; false; } &&
            ensure_node_modules "$INTEROP_DIR" &&
            (cd "$ROOT" && cargo build -p backbone) &&
            BACKBONE_BIN="$BACKBONE_BIN_PATH" node "$ROOT/tests/api-fuzz/run.mjs"
    } 2>&1 | tee "$log" || status=$?
    local counts
    read -r -a counts <<<"$(sed -n 's/^fuzz operations: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -n 1)"
    local passed=${counts[0]:-0} failed=${counts[1]:-0}
    # A stage that could not run at all still counts as one failure.
    [[ $status -ne 0 && $failed -eq 0 ]] && failed=1
    record_stage "schemathesis" "$status" "$passed" "$failed" "$log"
    local operation
    while IFS= read -r operation; do
        FAILURES+=("schemathesis: $operation")
    done < <(sed -n 's/^fuzz failed: //p' "$log")
}

# --- Main --------------------------------------------------------------------------------------

main() {
    mkdir -p "$LOG_DIR"
    # The interop suite passes its environment on to the server, and the server reads every
    # BACKBONE_* variable as configuration: a stray BACKBONE_LANDSCAPE=prod in the caller's
    # shell would change what is tested.
    local variable
    for variable in $(compgen -e | grep '^BACKBONE_' || true); do unset "$variable"; done

    if [[ ${1:-} == --fuzz-only ]]; then
        run_api_fuzz
        print_summary
        [[ $ANY_STAGE_FAILED -eq 0 && $TOTAL_FAILED -eq 0 ]]
        return
    fi

    say "PostgreSQL at $PG_HOST:$PG_PORT"
    if ! ensure_postgres; then
        record_stage "postgresql" 1 0 0 "(not reachable; nothing was run)"
        print_summary
        exit 1
    fi
    drop_leftover_databases

    run_static_checks
    run_cargo_tests
    run_interop_suites
    run_deploy_checks
    run_onboarding_browser
    run_admin_ui_browser
    run_api_fuzz

    print_summary
    [[ $ANY_STAGE_FAILED -eq 0 && $TOTAL_FAILED -eq 0 ]]
}

main "$@"
