#!/usr/bin/env bash
# OpenAI compatibility through the official `openai` npm client (tests/clients/*.test.mjs).
# Starts `mint serve` on stories260K, runs `node --test`, always stops the server.
#
#   bash tests/clients/run.sh <mint binary> <shared dir>    (ctest: clients_openai_node)
#
# Installs the client into tests/clients/node_modules (git-ignored) on first use: needs npm and
# the npm registry once.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 <mint binary> <shared dir with models/stories260K.gguf>" >&2
  exit 2
fi
MINT_BIN=$(realpath "$1")
MODEL=$(realpath "$2")/models/stories260K.gguf
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/mint_server.sh"

[ -x "$MINT_BIN" ] || { echo "not an executable: $MINT_BIN" >&2; exit 1; }
[ -f "$MODEL" ] || { echo "skipped: missing model $MODEL (the shared data is not beside this checkout)" >&2; exit 77; }

ensure_npm_package "$HERE" openai || exit 1

trap 'stop_mint >/dev/null 2>&1' EXIT
start_mint "$MINT_BIN" "$MODEL" || exit 1
echo "mint serve on port $MINT_PORT (log: $MINT_LOG)"

cd "$HERE"
MINT_BASE_URL="http://127.0.0.1:$MINT_PORT/v1" MINT_MODEL=stories260K \
  node --test --test-reporter=spec openai_client.test.mjs
rc=$?

finish_mint $rc
rc=$?
trap - EXIT
exit $rc
