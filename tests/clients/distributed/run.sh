#!/usr/bin/env bash
# The distributed runtime's multi-process tests (distributed.test.mjs): etcd + `mint frontend` +
# `mint worker`s on 127.0.0.1 through the official `openai` client.
#
#   bash tests/clients/distributed/run.sh <mint binary> <shared dir>   (ctest: distributed_multiprocess)
#
# Exits 77 (skipped) when etcd is not installed. Uses tests/clients/node_modules (installed on
# first use, as tests/clients/run.sh does).
set -uo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 <mint binary> <shared dir with models/stories260K.gguf>" >&2
  exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
export MINT_BIN=$(realpath "$1")
export MINT_MODEL_PATH=$(realpath "$2")/models/stories260K.gguf
[ -f "$MINT_MODEL_PATH" ] || { echo "skipped: missing model $MINT_MODEL_PATH (the shared data is not beside this checkout)" >&2; exit 77; }
command -v "${MINT_ETCD:-/usr/bin/etcd}" >/dev/null || { echo "etcd not installed: skipped"; exit 77; }
if [ ! -d "$HERE/../node_modules/openai" ]; then
  (cd "$HERE/.." && npm install --no-audit --no-fund) || { echo "npm install failed" >&2; exit 1; }
fi
cd "$HERE"
exec node --test --test-reporter=spec --test-concurrency=1 "${MINT_DIST_TESTS:-distributed.test.mjs}"
