#!/usr/bin/env bash
# Engine speed on the issue's synthetic models, Mint and (optionally) a peer in the same run.
#   scripts/perf_engine.sh [MODEL_DIR]
# Env: THREADS (2), REPS (5), MINT (build/apps/mint), LLAMA_BENCH (path to a llama-bench binary;
# skipped when unset). Models are synthesized into MODEL_DIR (default /tmp/mint-models) if absent.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/mint-models}
THREADS=${THREADS:-2}
REPS=${REPS:-5}
MINT=${MINT:-build/apps/mint}
mkdir -p "$DIR"
MODELS=("smollm2-135m q8_0" "smollm2-135m q4_k_m" "qwen2.5-0.5b q4_k_m")
for spec in "${MODELS[@]}"; do
  set -- $spec
  f="$DIR/$1-$2.gguf"
  [ -f "$f" ] || "$MINT" gguf synth --preset "$1" --type "$2" --shared-dir ../shared -o "$f"
done
date -u
for spec in "${MODELS[@]}"; do
  set -- $spec
  f="$DIR/$1-$2.gguf"
  echo "=== $f"
  "$MINT" perf -m "$f" -p 512 -n 128 -t "$THREADS" -r "$REPS"
  if [ -n "${LLAMA_BENCH:-}" ]; then
    "$LLAMA_BENCH" -m "$f" -p 512 -n 128 -t "$THREADS" -r "$REPS"
  fi
done
