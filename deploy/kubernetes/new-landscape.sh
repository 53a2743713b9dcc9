#!/usr/bin/env bash
# Writes overlays/tmp-NAME, a temporary landscape made from overlays/temporary: its own
# namespace (backbone-tmp-NAME) and host (NAME.<domain>), stage's settings.
#
#   deploy/kubernetes/new-landscape.sh perf1 [backbone.example.com]
#   kubectl -n backbone-tmp-perf1 create secret generic backbone-secrets ...   (README "Deploying")
#   kubectl apply -k deploy/kubernetes/overlays/tmp-perf1
#   ...
#   kubectl delete namespace backbone-tmp-perf1 && rm -r deploy/kubernetes/overlays/tmp-perf1
set -euo pipefail

name=${1:?usage: new-landscape.sh NAME [DOMAIN]}
domain=${2:-backbone.example.com}
[[ $name =~ ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$ ]] ||
    { echo "error: NAME must be lower-case letters, digits and '-' (at most 32)" >&2; exit 2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
template="$here/overlays/temporary"
target="$here/overlays/tmp-$name"
[[ ! -e $target ]] || { echo "error: $target exists already" >&2; exit 1; }
mkdir -p "$target"
sed -e "s/backbone-temporary/backbone-tmp-$name/g" \
    -e "s/temporary\.backbone\.example\.com/$name.$domain/g" \
    -e "s/landscape: temporary/landscape: tmp-$name/" \
    "$template/kustomization.yaml" >"$target/kustomization.yaml"
sed -e "s/backbone-temporary/backbone-tmp-$name/" "$template/namespace.yaml" >"$target/namespace.yaml"
kubectl kustomize "$target" >/dev/null
echo "wrote $target (namespace backbone-tmp-$name, host $name.$domain)"
