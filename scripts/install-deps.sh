#!/usr/bin/env bash
# Installs every Debian package Mint needs to build, test and serve. Idempotent: packages already
# present are skipped, and apt is only touched when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libfmt-dev libspdlog-dev nlohmann-json3-dev libcli11-dev libxxhash-dev libpcre2-dev libboost-dev
  python3 python3-jinja2 python3-numpy python3-xxhash
  python3-jsonschema  # tests/grammar: the independent validator of constrained samples
  nodejs prometheus curl  # tests/clients: the openai npm client, a Prometheus scrape
  chromium  # tests/clients/browser: the chat page in headless Chromium
  gnuplot-nox  # mint bench --plot: latency CDFs and throughput over time as PNG
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc  # request plane
  libssl-dev  # the request plane's cluster CA and certificates (mint certs)
  libzmq3-dev cppzmq-dev  # event plane
  libucx-dev  # the ucx KV transport (disaggregation: UCX picks TCP or RDMA)
  etcd-server etcd-client iproute2  # discovery; multi-process and multi-host (netns) tests
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's nodejs lacks npm and needs the npm package; NodeSource's nodejs ships npm itself and
# conflicts with Debian's, so the package is wanted only when the command is missing.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
apt_updated=0
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  apt_updated=1
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The etcd v3 gRPC API protos (src/runtime/etcd_proto.cmake generates the etcd client stubs from
# them at build time). Debian ships them in golang-etcd-server-dev, which would drag in ~150 Go
# packages and systemd, so only its three .proto files are extracted from the downloaded .deb,
# keeping their layout under go.etcd.io/etcd.
ETCD_PROTO_DIR=/usr/local/share/mint/etcd-proto
ETCD_PROTOS=(etcdserver/etcdserverpb/rpc.proto mvcc/mvccpb/kv.proto auth/authpb/auth.proto)
have_etcd_protos() {
  local f
  for f in "${ETCD_PROTOS[@]}"; do [ -f "$1/$f" ] || return 1; done
}
if have_etcd_protos "$ETCD_PROTO_DIR" || have_etcd_protos /usr/share/gocode/src/go.etcd.io/etcd; then
  echo "install-deps: etcd protos present"
else
  echo "install-deps: extracting the etcd protos into $ETCD_PROTO_DIR"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && apt-get download -qq golang-etcd-server-dev) && [ $apt_updated -eq 0 ]; then
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get download -qq golang-etcd-server-dev)
  fi
  $SUDO mkdir -p "$ETCD_PROTO_DIR"
  patterns=()
  for f in "${ETCD_PROTOS[@]}"; do patterns+=("*/go.etcd.io/etcd/$f"); done
  # Paths in the .deb are ./usr/share/gocode/src/go.etcd.io/etcd/<proto>: drop 7 components.
  dpkg-deb --fsys-tarfile "$tmp"/golang-etcd-server-dev_*.deb |
    $SUDO tar -x -C "$ETCD_PROTO_DIR" --no-same-owner --strip-components=7 --wildcards "${patterns[@]}"
  have_etcd_protos "$ETCD_PROTO_DIR" || { echo "install-deps: etcd protos missing" >&2; exit 1; }
fi
