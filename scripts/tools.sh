#!/usr/bin/env bash
# Install the deployment checkers, built from the Go module proxy and PyPI, into a cache outside
# the repo (CI may reuse it). Prints nothing but progress; idempotent.
#   helm (helm.sh/helm/v3), kustomize (sigs.k8s.io/kustomize), kn (knative.dev/client),
#   the Knative Serving and Eventing modules (their CRDs carry the official openAPIV3Schema),
#   checkov (PyPI, in a virtualenv of its own: its pins clash with ours).
set -euo pipefail

HELM_VERSION=v3.21.4
KUSTOMIZE_VERSION=v5.7.1
# kn: v0.41+ needs knative.dev/client/pkg through a local `replace` the module proxy cannot serve,
# so `go install kn@latest` fails; v0.40.0 (Knative 1.13) builds, given that the checksum database does
# not list the client-pkg pseudo-version it pins (GONOSUMDB for that one module only).
KN_VERSION=v0.40.0
SERVING_VERSION=v0.50.0
EVENTING_VERSION=v0.50.0
CHECKOV_VERSION=3.3.30

# shellcheck source=scripts/cache_dir.sh
. "$(dirname "$0")/cache_dir.sh"
CACHE=$(hermes_cache_dir)
BIN="$CACHE/tools/bin"
mkdir -p "$BIN"
export GOBIN="$BIN" GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '[tools] %s\n' "$*" >&2; }
need_go() {
  command -v go >/dev/null || { log "Go is required (apt-get install golang, or the machine's Go)"; exit 1; }
}

install_go_tool() {  # binary module@version
  local bin=$1 pkg=$2 stamp="$BIN/.$1.version"
  if [ -x "$BIN/$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg" ]; then return; fi
  need_go
  log "building $pkg (once; cached in $BIN)"
  local start=$SECONDS
  go install -trimpath -ldflags=-s "$pkg"
  echo "$pkg" > "$stamp"
  log "built $bin in $((SECONDS - start)) s"
}

install_go_tool helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
install_go_tool kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
install_kn() {
  local stamp="$BIN/.kn.version" work
  if [ -x "$BIN/kn" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$KN_VERSION" ]; then return; fi
  need_go
  log "building kn $KN_VERSION (once; cached in $BIN)"
  local start=$SECONDS
  work=$(mktemp -d)
  (
    cd "$work"
    export GONOSUMDB=knative.dev/client-pkg
    go mod init hermes.tools/kn >/dev/null 2>&1
    go get "knative.dev/client/cmd/kn@$KN_VERSION" >/dev/null 2>&1
    go build -trimpath -ldflags=-s -o "$BIN/kn" knative.dev/client/cmd/kn
  )
  rm -rf "$work"
  echo "$KN_VERSION" > "$stamp"
  log "built kn in $((SECONDS - start)) s"
}
install_kn

crds="$CACHE/tools/knative-crds"
if [ ! -f "$crds/.done-sb-$SERVING_VERSION-$EVENTING_VERSION" ]; then
  need_go
  log "fetching Knative CRDs (serving $SERVING_VERSION, eventing $EVENTING_VERSION)"
  serving=$(go mod download -json "knative.dev/serving@$SERVING_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  eventing=$(go mod download -json "knative.dev/eventing@$EVENTING_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$crds" && mkdir -p "$crds"
  cp "$serving"/config/core/300-resources/{service,configuration,route}.yaml "$crds/"
  cp "$eventing"/config/core/resources/{broker,trigger,pingsource,sinkbindings}.yaml "$crds/"
  # The stock cluster configuration a release installs (the admission check's defaults).
  cp "$eventing"/config/core/configmaps/default-broker.yaml "$crds/config-br-defaults.yaml"
  cp "$eventing"/config/core/configmaps/features.yaml "$crds/eventing-config-features.yaml"
  chmod -R u+w "$crds"
  touch "$crds/.done-sb-$SERVING_VERSION-$EVENTING_VERSION"
fi

# Small Go programs of ours that run Knative's own code (eventing/serving $EVENTING_VERSION), each with its own
# go.mod under tests/; rebuilt when its sources change:
#   tests/admission: SetDefaults + Validate of serving and eventing, what their webhooks do on create;
#   tests/dataplane: broker ingress and filter, kncloudevents dispatcher with retries and dead letters, in one
#   process in front of our functions;
#   tests/cluster/ingress: hermes-ingress, the test cluster's minimal KIngress controller and proxy (test bed only).
install_go_program() {  # binary folder-under-tests what
  local bin=$1 src stamp="$BIN/.$1.version" sum
  src="$(cd "$(dirname "$0")/.." && pwd)/tests/$2"
  sum=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)
  if [ -x "$BIN/$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then return; fi
  need_go
  log "building $3 (tests/$2; once per change)"
  local start=$SECONDS
  (cd "$src" && GOFLAGS=-mod=readonly go build -trimpath -ldflags=-s -o "$BIN/$bin" .)
  echo "$sum" > "$stamp"
  log "built $bin in $((SECONDS - start)) s"
}
install_go_program hermes-admission admission "the Knative admission checker"
install_go_program hermes-dataplane dataplane "the Knative data-plane harness"
install_go_program hermes-ingress cluster/ingress "the test bed's KIngress controller and proxy"

checkov_venv="$CACHE/tools/checkov-$CHECKOV_VERSION"
if [ ! -x "$checkov_venv/bin/checkov" ]; then
  log "installing checkov $CHECKOV_VERSION (own virtualenv)"
  python3.11 -m venv "$checkov_venv"
  "$checkov_venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
ln -sf "$checkov_venv/bin/checkov" "$BIN/checkov"

echo "$BIN"
