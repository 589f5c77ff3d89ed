#!/usr/bin/env bash
# The chat page in headless Chromium (tests/clients/browser/chat_page.test.mjs). Starts
# `mint serve` on stories260K on a free port, runs `node --test`, always stops the server.
#
#   bash tests/clients/browser/run.sh <mint binary> <shared dir>    (ctest: clients_chat_page)
#
# Exits 77 (ctest: skipped) when node, npm or Chromium is missing. Installs puppeteer-core into
# tests/clients/browser/node_modules (git-ignored) on first use: needs the npm registry once.
# puppeteer-core drives the system Chromium ($CHROMIUM, default /usr/bin/chromium) and downloads
# no browser. The screenshot goes to $CHAT_SCREENSHOT (default ./chat_page.png).
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 <mint binary> <shared dir with models/stories260K.gguf>" >&2
  exit 2
fi
MINT_BIN=$(realpath "$1")
MODEL=$(realpath "$2")/models/stories260K.gguf
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../mint_server.sh"
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
CHAT_SCREENSHOT=$(realpath -m "${CHAT_SCREENSHOT:-chat_page.png}")
export CHAT_SCREENSHOT

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found"; exit 77; }
done
[ -x "$CHROMIUM" ] || { echo "SKIP: no Chromium at $CHROMIUM (apt-get install chromium)"; exit 77; }
[ -x "$MINT_BIN" ] || { echo "not an executable: $MINT_BIN" >&2; exit 1; }
[ -f "$MODEL" ] || { echo "skipped: missing model $MODEL (the shared data is not beside this checkout)" >&2; exit 77; }

ensure_npm_package "$HERE" puppeteer-core PUPPETEER_SKIP_DOWNLOAD=1 || exit 1

trap 'stop_mint >/dev/null 2>&1' EXIT
start_mint "$MINT_BIN" "$MODEL" || exit 1
echo "mint serve on port $MINT_PORT (log: $MINT_LOG)"

cd "$HERE"
MINT_URL="http://127.0.0.1:$MINT_PORT/" node --test --test-reporter=spec chat_page.test.mjs
rc=$?

finish_mint $rc
rc=$?
trap - EXIT
exit $rc
