#!/usr/bin/env bash
# Start hermes-ingress (test bed only) on the running test cluster; idempotent.
#
# The controller runs as a process on the node, inside the cluster's network and mount namespaces, like the
# kubelet: no image to build, and its listeners sit on the node IP, where selector-less Services with
# EndpointSlices (manifests.yaml) point. Pods reach it through those Services as they would reach a
# Deployment; it reaches backends through Service ClusterIPs (kube-proxy's rules hold in the node's network
# namespace too). It uses its own ServiceAccount's token (RBAC in manifests.yaml), not the admin kubeconfig.
#
# Steps: build (cached, rebuilt when the sources change) -> KIngress CRD if Knative is not installed yet ->
# manifests -> kubeconfig from the ServiceAccount token -> config-network ingress-class if Serving is there
# -> the process (PID in /run/hermes-cluster/hermes-ingress.pid, log in /var/lib/hermes-cluster/logs/) ->
# the host forward 127.0.0.1:18080 -> 10.201.0.1:8080 (scripts/cluster/forward.py: `cluster-down` stops it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
RUN=/run/hermes-cluster STATE=/var/lib/hermes-cluster
NODE_IP=10.201.0.1 EXTERNAL_PORT=8080 LOCAL_PORT=8081 HOST_PORT=${HERMES_INGRESS_HOST_PORT:-18080}
NETWORKING_VERSION=v0.0.0-20260727162500-c7a7b772cac9  # what knative.dev/serving v0.50.0's go.mod requires
# shellcheck source=scripts/cache_dir.sh
. "$here/../../../scripts/cache_dir.sh"
CACHE=$(hermes_cache_dir)
log() { printf '[ingress] %s\n' "$*" >&2; }
alive() { [ -n "${1:-}" ] && [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

holder=$(cat "$RUN/ns.pid" 2>/dev/null || true)
alive "$holder" || { log "the cluster is not up (no live holder in $RUN/ns.pid)"; exit 1; }
inside() { nsenter -t "$holder" -n -m -- "$@"; }
kubectl() { inside "$CACHE/cluster/bin/kubectl" --kubeconfig "$STATE/admin.kubeconfig" "$@"; }

# 1. The binary, in the tools bin as scripts/tools.sh builds it (same stamp).
BIN="$CACHE/tools/bin"; mkdir -p "$BIN"
sum=$(cat "$here/go.mod" "$here/go.sum" "$here"/*.go | sha256sum | cut -c1-16)
if [ ! -x "$BIN/hermes-ingress" ] || [ "$(cat "$BIN/.hermes-ingress.version" 2>/dev/null)" != "$sum" ]; then
  log "building hermes-ingress"
  (cd "$here" && CGO_ENABLED=0 GOFLAGS=-mod=readonly nice -n 10 go build -trimpath -ldflags=-s -o "$BIN/hermes-ingress" .)
  echo "$sum" > "$BIN/.hermes-ingress.version"
fi

# 2. The KIngress CRD (Knative Serving's release carries it; before Serving is installed, apply it alone).
if ! kubectl get crd ingresses.networking.internal.knative.dev >/dev/null 2>&1; then
  dir=$(GOFLAGS=-mod=mod go mod download -json "knative.dev/networking@$NETWORKING_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  log "applying the KIngress CRD from knative.dev/networking@$NETWORKING_VERSION"
  kubectl apply --server-side -f - < "$dir/config/ingress.yaml" >/dev/null
  kubectl wait --for condition=Established --timeout=60s crd/ingresses.networking.internal.knative.dev >/dev/null
fi

# 3. Namespace, RBAC, Services, EndpointSlices.
kubectl apply --server-side -f - < "$here/manifests.yaml" >/dev/null

# 4. A kubeconfig with the ServiceAccount's token and the cluster CA (taken from the admin kubeconfig).
kc="$STATE/hermes-ingress.kubeconfig"
token=""
for _ in $(seq 1 100); do
  token=$(kubectl -n hermes-ingress get secret hermes-ingress-token -o 'jsonpath={.data.token}' 2>/dev/null | base64 -d || true)
  [ -n "$token" ] && break
  sleep 0.2
done
[ -n "$token" ] || { log "the ServiceAccount token was never issued"; exit 1; }
ca=$(kubectl config view --raw --minify -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}')
if [ -z "$ca" ]; then
  ca=$(base64 -w0 < "$(kubectl config view --raw --minify -o 'jsonpath={.clusters[0].cluster.certificate-authority}')")
fi
umask 077
cat > "$kc.tmp" <<KC
apiVersion: v1
kind: Config
clusters: [{name: hermes, cluster: {server: "https://$NODE_IP:6443", certificate-authority-data: "$ca"}}]
users: [{name: hermes-ingress, user: {token: "$token"}}]
contexts: [{name: hermes-ingress, context: {cluster: hermes, user: hermes-ingress}}]
current-context: hermes-ingress
KC
mv "$kc.tmp" "$kc"

# 5. Knative Serving's default ingress class, if Serving is installed.
if kubectl -n knative-serving get configmap config-network >/dev/null 2>&1; then
  kubectl -n knative-serving patch configmap config-network --type merge --patch-file /dev/stdin \
    < "$here/config-network-patch.yaml" >/dev/null
fi

# 6. The process, inside the namespaces (nsenter without --fork execs in place: the PID is the daemon's).
pidf="$RUN/hermes-ingress.pid"
if alive "$(cat "$pidf" 2>/dev/null || true)" && [ "$(cat "$RUN/hermes-ingress.binary" 2>/dev/null)" = "$sum" ]; then
  log "hermes-ingress already running (pid $(cat "$pidf"))"
else
  if alive "$(cat "$pidf" 2>/dev/null || true)"; then
    pid=$(cat "$pidf"); log "restarting hermes-ingress (pid $pid): its sources changed"
    kill "$pid"; for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  fi
  mkdir -p "$STATE/logs"
  setsid nsenter -t "$holder" -n -m -- "$BIN/hermes-ingress" --kubeconfig "$kc" \
    --external-listen "$NODE_IP:$EXTERNAL_PORT" --local-listen "$NODE_IP:$LOCAL_PORT" \
    --public-domain hermes-ingress.hermes-ingress.svc.cluster.local \
    --private-domain hermes-ingress-local.hermes-ingress.svc.cluster.local \
    </dev/null >>"$STATE/logs/hermes-ingress.log" 2>&1 &
  echo $! > "$pidf"
  echo "$sum" > "$RUN/hermes-ingress.binary"
  log "hermes-ingress started (pid $!, log $STATE/logs/hermes-ingress.log)"
fi
for _ in $(seq 1 100); do
  inside bash -c "exec 3<>/dev/tcp/$NODE_IP/$EXTERNAL_PORT" 2>/dev/null && break
  alive "$(cat "$pidf")" || { log "hermes-ingress exited:"; tail -5 "$STATE/logs/hermes-ingress.log" >&2; exit 1; }
  sleep 0.1
done

# 7. Host 127.0.0.1:$HOST_PORT -> $NODE_IP:$EXTERNAL_PORT inside, by the node's `forward in` (daemons
# fwd-ingress-in / fwd-ingress-out, which `cluster-down` stops).
PYTHONPATH="$here/../../.." python3 -m scripts.cluster.node forward in ingress "$HOST_PORT" "$NODE_IP:$EXTERNAL_PORT"
log "ingress: http://127.0.0.1:$HOST_PORT (host) = http://$NODE_IP:$EXTERNAL_PORT (node); class hermes.ingress.networking.knative.dev"
