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
  nodejs prometheus curl  # tests/clients: the openai npm client, a Prometheus scrape
  chromium  # tests/clients/browser: the chat page in headless Chromium
  gnuplot-nox  # mint bench --plot: latency CDFs and throughput over time as PNG
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc  # request plane
  libzmq3-dev cppzmq-dev  # event plane
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
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
