#!/usr/bin/env bash
# Knative's own KIngress conformance suite (knative.dev/networking test/conformance/ingress, the version
# knative.dev/serving v0.50.0 requires) against hermes-ingress on the running test cluster. Test bed only.
#
#   tests/cluster/ingress/conformance.sh [NAMES]      NAMES: a regex of top-level test names, e.g.
#                                                    'basics|headers|dispatch' (default: every one)
#   HERMES_CONFORMANCE_SKIP=tls (default; comma-separated names to skip, "none" to skip none),
#   HERMES_CONFORMANCE_ALPHA=1 (add the alpha tests), HERMES_CONFORMANCE_PARALLEL=4.
#
# 1. builds the suite (conformance/ingress_test.go, build tag e2e) and its six test images' binaries
#    (knative.dev/networking test/test_images: runtime httpproxy timeout wsserver grpc-ping retry), cached in
#    $CACHE/cluster/ingress-conformance and rebuilt when conformance/go.sum changes;
# 2. packs each binary as ko would (scripts/cluster/oci.py: /ko-app/<name>, user 65532) into
#    hermes.local/knative-test/<name>:v0.50.0 — what the suite's pkgTest.ImagePath makes of
#    --dockerrepo hermes.local/knative-test --tag v0.50.0 (knative.dev/pkg test/environment: template
#    {{.Repository}}/{{.Name}}:{{.Tag}}) — and imports it into the node's containerd;
# 3. starts hermes-ingress (up.sh), makes the suite's namespace serving-tests, and runs the suite inside the
#    cluster's namespaces with --ingressClass hermes.ingress.networking.knative.dev and --ingressendpoint
#    10.201.0.1 (the suite then dials the node port of the Service named by the KIngress's public load
#    balancer); beta features on (host-rewrite, headers/tags); `tls` skipped: hermes-ingress has no TLS.
# 4. prints PASS/FAIL/SKIP per test; full log in /var/lib/hermes-cluster/logs/ingress-conformance.log.
# Exit status: the suite's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
RUN=/run/hermes-cluster STATE=/var/lib/hermes-cluster NODE_IP=10.201.0.1
CLASS=hermes.ingress.networking.knative.dev REPO_PREFIX=hermes.local/knative-test TAG=v0.50.0
IMAGES="runtime httpproxy timeout wsserver grpc-ping retry"
SELECT=${1:-}
SKIP=${HERMES_CONFORMANCE_SKIP:-tls}
PARALLEL=${HERMES_CONFORMANCE_PARALLEL:-4}
ALPHA=${HERMES_CONFORMANCE_ALPHA:-}  # non-empty: also the alpha tests (httpoption; needs TLS, so fails here)
# shellcheck source=scripts/cache_dir.sh
. "$here/../../../scripts/cache_dir.sh"
CACHE=$(hermes_cache_dir)
log() { printf '[conformance] %s\n' "$*" >&2; }
holder=$(cat "$RUN/ns.pid" 2>/dev/null || true)
[ -n "$holder" ] && [ -d "/proc/$holder" ] || { log "the cluster is not up"; exit 1; }
inside() { nsenter -t "$holder" -n -m -- "$@"; }
kubectl() { inside "$CACHE/cluster/bin/kubectl" --kubeconfig "$STATE/admin.kubeconfig" "$@"; }

# 1. Build.
out="$CACHE/cluster/ingress-conformance"; mkdir -p "$out/images"
sum=$(cat "$here/conformance/go.mod" "$here/conformance/go.sum" "$here"/conformance/*.go | sha256sum | cut -c1-16)
if [ "$(cat "$out/.version" 2>/dev/null)" != "$sum" ]; then
  log "building the conformance suite and its test images (once per change)"
  (
    cd "$here/conformance"
    export CGO_ENABLED=0 GOFLAGS=-mod=readonly
    nice -n 10 go test -c -tags=e2e -trimpath -o "$out/ingress-conformance.test" .
    for img in $IMAGES; do
      nice -n 10 go build -trimpath -ldflags=-s -o "$out/$img" "knative.dev/networking/test/test_images/$img"
    done
  )
  rm -f "$out"/images/*.oci.tar
  echo "$sum" > "$out/.version"
fi

# 2. Images.
oci_repo=${HERMES_OCI_REPO:-$repo}  # a checkout holding scripts/cluster/oci.py
[ -f "$oci_repo/scripts/cluster/oci.py" ] || { log "scripts/cluster/oci.py is missing (set HERMES_OCI_REPO)"; exit 1; }
for img in $IMAGES; do
  tar="$out/images/$img.oci.tar"
  if [ ! -f "$tar" ]; then
    (cd "$oci_repo" && PYTHONPATH="$oci_repo" python3 -m scripts.cluster.oci binary --name "knative-test/$img" --tag "$TAG" \
      --file "$out/$img:/ko-app/$img" --user 65532 --entrypoint "/ko-app/$img" --out "$tar" >/dev/null)
  fi
  if ! inside ctr -a "$RUN/containerd/containerd.sock" -n k8s.io images ls -q | grep -qx "$REPO_PREFIX/$img:$TAG" \
     || [ "$tar" -nt "$out/images/.imported-$img" ]; then
    inside ctr -a "$RUN/containerd/containerd.sock" -n k8s.io images import "$tar" >/dev/null
    touch "$out/images/.imported-$img"
  fi
done
log "images: $(for i in $IMAGES; do printf '%s ' "$REPO_PREFIX/$i:$TAG"; done)"

# 3. Ingress up, namespace, run.
"$here/up.sh"
kubectl create namespace serving-tests --dry-run=client -o yaml | kubectl apply -f - >/dev/null
run=(-test.v -test.timeout 40m -test.parallel "$PARALLEL" -test.count 1
     --kubeconfig "$STATE/admin.kubeconfig" --ingressClass "$CLASS" --ingressendpoint "$NODE_IP"
     --dockerrepo "$REPO_PREFIX" --tag "$TAG" --enable-beta --skip-tests "$SKIP")
[ -n "$ALPHA" ] && run+=(--enable-alpha)
[ -n "$SELECT" ] && run+=(-test.run "^TestIngressConformance$/^($SELECT)$")
logf="$STATE/logs/ingress-conformance.log"
log "running (log: $logf)"
set +e
inside env -u SYSTEM_NAMESPACE "$out/ingress-conformance.test" "${run[@]}" > "$logf" 2>&1
rc=$?
set -e
grep -E '^\s*--- (PASS|FAIL|SKIP): TestIngressConformance/' "$logf" \
  | sed -E 's/^\s*--- (PASS|FAIL|SKIP): TestIngressConformance\/([^ ]+) \(([^)]*)\).*/\1 \2 \3/' \
  | awk '{ printf "%-5s %-60s %s\n", $1, $2, $3 }' | sort -k2
log "suite exit status $rc"
exit $rc
