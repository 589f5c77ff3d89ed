#!/usr/bin/env bash
# Serving-engine decode throughput at several concurrencies, Mint and (optionally) llama.cpp's
# llama-batched-bench in the same run, on the synthetic SmolLM2-135M Q8_0 model.
#   scripts/perf_serving.sh [MODEL_DIR]
# Env: THREADS (2), NPL ("1 4 16 64"), PP (128 prompt tokens per sequence), TG (128 generated
# tokens per sequence), MINT (build/apps/mint), LLAMA_BATCHED_BENCH (path to a
# llama-batched-bench binary; skipped when unset).
# Every sequence has its own random prompt (no shared prefix); Mint's decode rate counts tokens
# produced after all sequences have their first token, over the time from then to the end, which
# is what llama-batched-bench's S_TG measures (its prompts are processed first, then TG steps).
# Greedy (--temp 0): llama-batched-bench decodes without sampling, so Mint samples as cheaply.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/mint-models}
THREADS=${THREADS:-2}
NPL=${NPL:-"1 4 16 64"}
PP=${PP:-128}
TG=${TG:-128}
MINT=${MINT:-build/apps/mint}
mkdir -p "$DIR"
f="$DIR/smollm2-135m-q8_0.gguf"
[ -f "$f" ] || "$MINT" gguf synth --preset smollm2-135m --type q8_0 --shared-dir ../shared -o "$f"
date -u
for n in $NPL; do
  "$MINT" run -m "$f" --parallel "$n" --random-prompt "$PP" -n "$TG" --ignore-eos --temp 0 -t "$THREADS" \
    --max-model-len $((PP + TG + 16)) --max-num-seqs "$n" --max-num-batched-tokens 512 2>&1 |
    grep '^parallel'
done
if [ -n "${LLAMA_BATCHED_BENCH:-}" ]; then
  npl=$(echo "$NPL" | tr ' ' ',')
  max=$(echo "$NPL" | tr ' ' '\n' | sort -n | tail -1)
  "$LLAMA_BATCHED_BENCH" -m "$f" -c $(((PP + TG) * max)) -b 512 -ub 512 -npp "$PP" -ntg "$TG" \
    -npl "$npl" -t "$THREADS" 2>&1 | grep -E '^\|'
fi
