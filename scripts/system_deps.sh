#!/usr/bin/env bash
# The machine packages the tests need beside what `make install` puts in .venv: Python 3.11, a Java and
# Maven for Elasticsearch (scripts/local_es.py), curl, bubblewrap for the image test (tests/deploy/image.py),
# mmdebstrap, containerd and runc for the cluster images (scripts/cluster/images.py, tests/deploy/test_cluster_image.py),
# the test cluster's node (scripts/cluster: socat, iptables, conntrack, the CNI plugins, openssl, gcc for its pause),
# chromium and its driver for the browser tests, node and npm for the InstantSearch page's packages. Installs the missing ones with apt-get when run
# as root; otherwise fails naming exactly what to install. `make test`, `make test-fast` and .ci/run call it.
set -euo pipefail

# command to look for -> Debian package providing it
declare -A PACKAGES=(
  [python3.11]="python3.11 python3.11-venv"
  [java]=openjdk-17-jre-headless
  [mvn]=maven
  [curl]=curl
  [bwrap]=bubblewrap
  [mmdebstrap]=mmdebstrap
  [containerd]=containerd
  [runc]=runc
  [socat]=socat
  [iptables-save]=iptables
  [conntrack]=conntrack
  [openssl]=openssl
  [gcc]="gcc libc6-dev"
  [/usr/lib/cni/bridge]=containernetworking-plugins
  [chromium]=chromium
  [chromedriver]=chromium-driver
  [node]=nodejs
  [npm]=npm
)

missing=()
for tool in python3.11 java mvn curl bwrap mmdebstrap containerd runc socat iptables-save conntrack openssl gcc \
  /usr/lib/cni/bridge chromium chromedriver node npm; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "$tool" ] || missing+=(${PACKAGES[$tool]})
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system_deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  # Debian's containerd package enables a host daemon where systemd runs; the test bed starts its own
  # (scripts/cluster, tests/deploy/containerd.py), so one installed here is not left running.
  if [[ " ${missing[*]} " == *" containerd "* ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now containerd >/dev/null 2>&1 || true
  fi
else
  echo "system_deps: missing packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
