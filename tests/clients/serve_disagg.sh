#!/usr/bin/env bash
# `mint serve --prefill-workers`: disaggregated serving in one process answers exactly as one
# aggregated engine does (greedy), long prompts are prefilled on the prefill engine and decoded
# with its KV (copied out of shared memory), short ones stay on the decode engine, a prompt the
# decode engine already holds is finished there, and no prefill falls back.
#
#   bash tests/clients/serve_disagg.sh <mint binary> <shared dir>   (ctest: clients_serve_disagg)
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 <mint binary> <shared dir with models/stories260K.gguf>" >&2
  exit 2
fi
MINT_BIN=$(realpath "$1")
MODEL=$(realpath "$2")/models/stories260K.gguf
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/mint_server.sh"
[ -f "$MODEL" ] || { echo "skipped: missing model $MODEL (the shared data is not beside this checkout)" >&2; exit 77; }
trap 'stop_mint' EXIT

fail() { echo "FAIL: $*" >&2; [ -n "${MINT_LOG:-}" ] && tail -n 20 "$MINT_LOG" >&2; exit 1; }

PROMPTS=(
  "Once"
  "A cat"
  "Once upon a time there was a little girl named Lily. She loved to play outside in the sun."
  "Tom and his dog went to the park. They saw a big tree and a small bird. The bird was sad because"
  "One day, a boy found a red ball in the garden. He wanted to show it to his mom, so he ran home and"
)
LONG=3  # prompts of at least 8 tokens (the last three)
REMOTE=$((2 * LONG))  # each sent twice (free and constrained)

# Greedy completions of every prompt, one line each (text as JSON): free, then constrained by a
# regex (the decode engine continues the grammar past the prefill engine's first token). The
# constrained ones start with another word, so the decode engine holds none of their blocks yet.
complete_all() {
  local p body extra lead=""
  for extra in '{}' '{"guided_regex": "[a-z]{2,8}( [a-z]{2,8}){3}"}'; do
    for p in "${PROMPTS[@]}"; do
      p="$lead$p"
      body=$(python3 -c 'import json,sys; b={"model": "stories260K", "prompt": sys.argv[1], "max_tokens": 24, "temperature": 0}; b.update(json.loads(sys.argv[2])); print(json.dumps(b))' "$p" "$extra")
      http_post_json "http://127.0.0.1:$MINT_PORT/v1/completions" "$body" |
        python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["choices"][0]["text"]))' ||
        echo "no answer"
    done
    lead="Then "
  done
}

start_mint "$MINT_BIN" "$MODEL" || fail "aggregated mint serve did not start"
want=$(complete_all)
stop_mint || fail "aggregated mint serve did not stop cleanly"

start_mint "$MINT_BIN" "$MODEL" --workers 1 --prefill-workers 1 --remote-prefill-min-tokens 8 ||
  fail "mint serve --prefill-workers did not start"
got=$(complete_all)
# A long prompt again: the decode engine holds it now, so it is finished there.
http_post_json "http://127.0.0.1:$MINT_PORT/v1/completions" \
  "{\"model\": \"stories260K\", \"prompt\": \"${PROMPTS[3]}\", \"max_tokens\": 4}" >/dev/null
metrics=$(http_get "http://127.0.0.1:$MINT_PORT/metrics")
stop_mint || fail "mint serve --prefill-workers did not stop cleanly"

[ "$got" = "$want" ] || fail "disaggregated output differs:"$'\n'"want: $want"$'\n'"got:  $got"
remote=$(sed -n 's/^mint_remote_prefills_total \([0-9]*\)$/\1/p' <<<"$metrics")
fallbacks=$(sed -n 's/^mint_prefill_fallbacks_total \([0-9]*\)$/\1/p' <<<"$metrics")
[ "${remote:-0}" = "$REMOTE" ] || fail "mint_remote_prefills_total is ${remote:-missing}, want $REMOTE"
short=$(sed -n 's/^mint_local_prefills_total{reason="short"} \([0-9]*\)$/\1/p' <<<"$metrics")
cached=$(sed -n 's/^mint_local_prefills_total{reason="cached"} \([0-9]*\)$/\1/p' <<<"$metrics")
[ "${short:-0}" = $((2 * ${#PROMPTS[@]} - REMOTE)) ] || fail "local short prefills: ${short:-missing}"
[ "${cached:-0}" = 1 ] || fail "local prefills of a prompt cached on the decode engine: ${cached:-missing}, want 1"
python3 -c 'import json,re,sys
lines = sys.argv[1].splitlines()[len(sys.argv[1].splitlines()) // 2:]
for l in lines:
    assert re.fullmatch(r"[a-z]{2,8}( [a-z]{2,8}){3}", json.loads(l)), l' "$got" || fail "a constrained output does not match its regex"
[ "${fallbacks:-1}" = 0 ] || fail "mint_prefill_fallbacks_total is ${fallbacks:-missing}, want 0"
echo "OK: $((2 * ${#PROMPTS[@]})) greedy completions (half constrained) equal to one engine's; $remote prefilled remotely"
