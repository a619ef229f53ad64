#!/usr/bin/env bash
# shellcheck disable=SC2317  # the build_<group> functions are called by name
# Build (once) every binary the test cluster runs, from the Go module proxy, into a cache outside the repo:
#   $CACHE/cluster/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kube-proxy,kubectl,
#   etcd,etcdctl,coredns,knative-serving-*,knative-eventing-*}, each with a `.<name>.version` stamp (module@version).
# Idempotent: a binary is rebuilt only when its pinned version changes. Each group's binaries are moved into
# the bin dir as soon as that group is built, and its stamps are written after them (a reader that trusts a
# stamp finds the binary). Progress on stderr; the bin dir on stdout.
#   scripts/cluster/build.sh                 build what is missing, print the bin dir
#   scripts/cluster/build.sh GROUP...        only those groups (kubernetes etcd coredns serving eventing)
#   scripts/cluster/build.sh --check         exit 0 iff every binary is there at its pinned version; builds nothing
# Cold, on 2 shared cores: about 25 min wall, at most 18 CPU-min (Kubernetes 565 s), 1.3 GB of binaries, a 5.8 GB
# build cache; per group in docs/cluster.md, "Building". Every pinned module's go.mod accepts the machine's Go 1.26.
set -euo pipefail

K8S_VERSION=v1.35.4
ETCD_VERSION=v3.7.0
COREDNS_VERSION=v1.15.0
SERVING_VERSION=v0.50.0
EVENTING_VERSION=v0.50.0

# shellcheck source=scripts/cache_dir.sh
. "$(dirname "$0")/../cache_dir.sh"
CACHE=$(hermes_cache_dir)
BIN="$CACHE/cluster/bin"
SRC="$CACHE/cluster/src"
WORK="$CACHE/cluster/build"
# A build cache of its own, outside the repo and apart from the other tools': it can be deleted once everything is
# stamped (the stamps, not the build cache, make reruns free), and it measures what the cluster costs.
export GOCACHE="$CACHE/cluster/go-build"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off

log() { printf '[cluster-build] %s\n' "$*" >&2; }
need_go() {
  command -v go >/dev/null || { log "Go is required (apt-get install golang, or the machine's Go)"; exit 1; }
}

# A group: its stamp (module@version) and binary names. Kubernetes' binaries are named after their cmd folder.
K8S_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
# Knative: binary knative-<project>-<name> from the module's cmd/<path> (the paths of the ko:// images in its
# config/). eventing's mt-broker-controller (cmd/mtchannel_broker) reconciles Brokers and Triggers: without it
# the MT broker's ingress and filter have nothing to serve.
SERVING_CMDS=(activator:activator autoscaler:autoscaler controller:controller webhook:webhook queue:queue)
EVENTING_CMDS=(controller:controller webhook:webhook imc-controller:in_memory/channel_controller
  imc-dispatcher:in_memory/channel_dispatcher mt-broker-controller:mtchannel_broker
  mt-broker-ingress:broker/ingress mt-broker-filter:broker/filter mtping:mtping)
group_stamp() {
  case $1 in
    kubernetes) echo "k8s.io/kubernetes@$K8S_VERSION" ;;
    etcd) echo "go.etcd.io/etcd/server/v3@$ETCD_VERSION" ;;
    coredns) echo "github.com/coredns/coredns@$COREDNS_VERSION" ;;
    serving) echo "knative.dev/serving@$SERVING_VERSION" ;;
    eventing) echo "knative.dev/eventing@$EVENTING_VERSION" ;;
  esac
}
group_bins() {
  case $1 in
    kubernetes) echo "${K8S_BINS[*]}" ;;
    etcd) echo etcd etcdctl ;;
    coredns) echo coredns ;;
    serving) for c in "${SERVING_CMDS[@]}"; do echo "knative-serving-${c%%:*}"; done ;;
    eventing) for c in "${EVENTING_CMDS[@]}"; do echo "knative-eventing-${c%%:*}"; done ;;
  esac
}
GROUPS_ALL=(kubernetes etcd coredns serving eventing)

group_missing() {  # prints the binaries of a group that are absent or stamped with another version
  local g=$1 want b
  want=$(group_stamp "$g")
  for b in $(group_bins "$g"); do
    if [ ! -x "$BIN/$b" ] || [ "$(cat "$BIN/.$b.version" 2>/dev/null)" != "$want" ]; then echo "$b"; fi
  done
}

# The source dir of module@version in the module cache (downloads it once).
mod_dir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

# CPU seconds (user+sys) of the finished children of this shell, into CPU, for the per-group figures. `times`
# must run in this shell: in a pipeline or $(...) it reports a subshell's counters, which start at zero.
child_cpu() {
  times > "$WORK/.times"
  CPU=$(tail -1 "$WORK/.times" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", u[1]*60 + u[2] + s[1]*60 + s[2] }')
}

install_group() {  # group dir: move the built binaries of a group into BIN, then stamp them
  local g=$1 dir=$2 b want
  want=$(group_stamp "$g")
  for b in $(group_bins "$g"); do
    [ -x "$dir/$b" ] || { log "$g: $b was not built"; exit 1; }
    rm -f "$BIN/.$b.version"
    mv -f "$dir/$b" "$BIN/$b"
  done
  for b in $(group_bins "$g"); do echo "$want" > "$BIN/.$b.version"; done
}

# Kubernetes: a scratch module requiring k8s.io/kubernetes, with every staging module (kubernetes' own go.mod
# replaces them with ./staging/src/k8s.io/..., which a dependency's replace cannot do) replaced by its published
# v0.<minor>.<patch>. Same tags and version ldflags as kubernetes' hack/lib/golang.sh and hack/lib/version.sh;
# buildDate is the release's time from the module proxy (reproducible); gitCommit is not known to the proxy.
build_kubernetes() {
  local out=$1 kdir mod staging_ver info_time ldflags="-s -w" pkg key b
  kdir=$(mod_dir "k8s.io/kubernetes@$K8S_VERSION")
  staging_ver="v0.${K8S_VERSION#v1.}"
  mod="$SRC/kubernetes"
  rm -rf "$mod" && mkdir -p "$mod"
  {
    echo "module hermes.local/cluster/kubernetes"
    echo
    grep -E '^(go|godebug) ' "$kdir/go.mod"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/src/.*|\1|p' "$kdir/go.mod" | while read -r m; do
      printf '\t%s => %s %s\n' "$m" "$m" "$staging_ver"
    done
    echo ")"
  } > "$mod/go.mod"
  info_time=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.info")
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for key in gitVersion=$K8S_VERSION gitMajor=1 gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) \
               gitTreeState=clean buildDate=$info_time; do
      ldflags="$ldflags -X $pkg.$key"
    done
  done
  (
    cd "$mod"
    pkgs=()
    for b in "${K8S_BINS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
    go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags="$ldflags" -o "$out/" "${pkgs[@]}"
  )
  "$out/kubectl" version --client 2>/dev/null | grep -q "Client Version: $K8S_VERSION\$" \
    || { log "kubectl version --client does not print $K8S_VERSION"; exit 1; }
  "$out/kube-apiserver" --version | grep -q "Kubernetes $K8S_VERSION\$" \
    || { log "kube-apiserver --version does not print $K8S_VERSION"; exit 1; }
}

# etcd: the server module's main package is its root (server/main.go); etcdctl from its own module of the same
# release, in the same scratch module so the shared client packages compile once. Both modules replace their
# sibling modules with ../ paths, which only works in etcd's repository; from the proxy they are required at the
# same release, so the scratch module needs no replace.
build_etcd() {
  local out=$1 mod="$SRC/etcd" sdir
  sdir=$(mod_dir "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  rm -rf "$mod" && mkdir -p "$mod"
  {
    echo "module hermes.local/cluster/etcd"
    echo
    grep -E '^go ' "$sdir/go.mod"
    echo
    echo "require ("
    printf '\tgo.etcd.io/etcd/server/v3 %s\n\tgo.etcd.io/etcd/etcdctl/v3 %s\n' "$ETCD_VERSION" "$ETCD_VERSION"
    echo ")"
  } > "$mod/go.mod"
  (
    cd "$mod"
    go build -trimpath -ldflags="-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
    go build -trimpath -ldflags="-s -w" -o "$out/etcdctl" go.etcd.io/etcd/etcdctl/v3
  )
  "$out/etcd" --version | grep -q "^etcd Version: ${ETCD_VERSION#v}\$" \
    || { log "etcd --version does not print ${ETCD_VERSION#v}"; exit 1; }
}

# Build packages of a module as its own main module, from its source in the module cache (read-only), so the
# module's go.mod and go.sum choose every dependency version: exactly what the project releases.
build_in_module() {  # module@version out flags... -- pkgs...
  local dir out=$2
  dir=$(mod_dir "$1")
  shift 2
  (cd "$dir" && GOFLAGS=-mod=readonly go build -trimpath -o "$out/" "$@")
}

# CoreDNS: the main package is the module root, with the plugins of its plugin.cfg (generated files shipped);
# tags and ldflags as its Makefile (our local Go; its .go-version names a newer one, its go.mod does not need it).
build_coredns() {
  local out=$1
  build_in_module "github.com/coredns/coredns@$COREDNS_VERSION" "$out" -tags=grpcnotrace -ldflags="-s -w" \
    github.com/coredns/coredns
  "$out/coredns" -version | grep -q "^CoreDNS-${COREDNS_VERSION#v}\$" \
    || { log "coredns -version does not print CoreDNS-${COREDNS_VERSION#v}"; exit 1; }
}

build_knative() {  # out project version name:cmd-path...
  local out=$1 project=$2 version=$3 c pkgs=()
  shift 3
  for c in "$@"; do pkgs+=("knative.dev/$project/cmd/${c#*:}"); done
  build_in_module "knative.dev/$project@$version" "$out" -ldflags="-s -w" "${pkgs[@]}"
  for c in "$@"; do mv "$out/$(basename "${c#*:}")" "$out/knative-$project-${c%%:*}"; done
}
build_serving() { build_knative "$1" serving "$SERVING_VERSION" "${SERVING_CMDS[@]}"; }
build_eventing() { build_knative "$1" eventing "$EVENTING_VERSION" "${EVENTING_CMDS[@]}"; }

build_group() {
  local g=$1 out start cpu0 CPU
  out="$WORK/$g"
  rm -rf "$out" && mkdir -p "$out"
  log "building $g ($(group_stamp "$g")); once, cached in $BIN"
  start=$SECONDS
  child_cpu && cpu0=$CPU
  "build_$g" "$out"
  install_group "$g" "$out"
  rm -rf "$out"
  child_cpu
  log "built $g in $((SECONDS - start)) s wall, $((CPU - cpu0)) s CPU"
}

main() {
  local check=0 groups=() arg g missing
  for arg in "$@"; do
    case $arg in
      --check) check=1 ;;
      kubernetes|etcd|coredns|serving|eventing) groups+=("$arg") ;;
      *) log "unknown argument: $arg (groups: ${GROUPS_ALL[*]}; --check)"; exit 2 ;;
    esac
  done
  [ ${#groups[@]} -gt 0 ] || groups=("${GROUPS_ALL[@]}")

  if [ $check = 1 ]; then
    missing=$(for g in "${groups[@]}"; do group_missing "$g"; done)
    [ -z "$missing" ] || { log "missing or not at the pinned version: $(echo "$missing" | tr '\n' ' ')"; exit 1; }
    exit 0
  fi

  mkdir -p "$BIN" "$SRC" "$WORK"
  # One build at a time (a second caller waits, then finds the stamps).
  exec 9>"$CACHE/cluster/.build.lock"
  flock 9
  for g in "${groups[@]}"; do
    [ -z "$(group_missing "$g")" ] && continue
    need_go
    build_group "$g"
  done
  echo "$BIN"
}

# main and exit on one line, read whole before main runs: editing the script during a build cannot break it.
main "$@"; exit
