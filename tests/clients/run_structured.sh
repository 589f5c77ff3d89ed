#!/usr/bin/env bash
# Structured output and tool calls through the official `openai` npm client
# (structured_output.test.mjs): writes a random-weight tiny-qwen2 model with Qwen3's vocabulary
# and chat template, starts `mint serve` on it, runs `node --test`, always stops the server.
#
#   bash tests/clients/run_structured.sh <mint binary> <shared dir>   (ctest: clients_structured_output)
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 <mint binary> <shared dir with tokenizers/qwen3>" >&2
  exit 2
fi
MINT_BIN=$(realpath "$1")
SHARED=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/mint_server.sh"
VOCAB="$SHARED/tokenizers/qwen3/tokenizer.json"
[ -f "$VOCAB" ] || { echo "missing $VOCAB: skipped"; exit 77; }

ensure_npm_package "$HERE" openai || exit 1

WORK=$(mktemp -d -t mint-structured.XXXXXX)
MODEL="$WORK/tiny-qwen3vocab.gguf"
"$MINT_BIN" gguf synth --preset tiny-qwen2 --vocab "$VOCAB" --type q8_0 -o "$MODEL" >/dev/null || exit 1

trap 'stop_mint >/dev/null 2>&1; rm -rf "$WORK"' EXIT
start_mint "$MINT_BIN" "$MODEL" --served-model-name tiny || exit 1
echo "mint serve on port $MINT_PORT (log: $MINT_LOG)"

cd "$HERE"
MINT_BASE_URL="http://127.0.0.1:$MINT_PORT/v1" MINT_MODEL=tiny \
  node --test --test-reporter=spec structured_output.test.mjs
rc=$?

finish_mint $rc
exit $?
