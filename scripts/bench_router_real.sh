#!/usr/bin/env bash
# KV-aware routing with real engines: `mint serve --workers 3` (three engines in one process,
# each a worker behind the frontend's router, KV events on the event plane) under a shared-prefix
# workload, once per router mode; prints round-robin (a) against kv (b).
#   scripts/bench_router_real.sh [MODEL] [OUT_DIR]
# Env: MODES ("kv round-robin"), WORKERS (3), THREADS (total engine threads, 3), PREFIX_GROUPS (6 prefix
#      groups), PREFIX (384 tokens), INPUT (448), OUTPUT (16), CONCURRENCY (6), NUM (96),
#      MINT (build/apps/mint), ROUTER_ARGS (extra router flags, e.g. --router-cost blocks),
#      TRACE (a Mooncake trace, e.g. from scripts/gen_trace.py: replayed as token ids instead of
#      the shared-prefix workload, at TRACE_SPEEDUP (1) x its timestamps; token ids below VOCAB,
#      49152 for SmolLM2), MAX_MODEL_LEN (2048).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-/tmp/mint-models/smollm2-135m-q8_0.gguf}
OUT=${2:-/tmp/mint-router-real}
MODES=${MODES:-kv round-robin}
WORKERS=${WORKERS:-3}
THREADS=${THREADS:-3}
GROUPS_N=${PREFIX_GROUPS:-6}
PREFIX=${PREFIX:-384}
INPUT=${INPUT:-448}
OUTPUT=${OUTPUT:-16}
CONCURRENCY=${CONCURRENCY:-6}
NUM=${NUM:-96}
MINT=${MINT:-build/apps/mint}
mkdir -p "$OUT" "$(dirname "$MODEL")"
[ -f "$MODEL" ] || "$MINT" gguf synth --preset smollm2-135m --type q8_0 --shared-dir ../shared -o "$MODEL"
NAME=$(basename "$MODEL" .gguf)
source scripts/lib/cluster.sh
trap stop_all EXIT
date -u
git log -1 --format='mint %h %s' || true
for mode in $MODES; do
  port=$(free_port)
  "$MINT" serve --model "$MODEL" --port "$port" --workers "$WORKERS" -t "$THREADS" \
    --router-mode "$mode" --max-model-len "${MAX_MODEL_LEN:-2048}" ${ROUTER_ARGS:-} \
    >"$OUT/serve-$mode.log" 2>&1 &
  PIDS+=($!)
  wait_health "$port"
  if [ -n "${TRACE:-}" ]; then
    "$MINT" bench --url "http://127.0.0.1:$port" --model "$NAME" --trace "$TRACE" \
      --speedup "${TRACE_SPEEDUP:-1}" --trace-token-ids "${VOCAB:-49152}" --seed 1 \
      --output "$OUT/$mode.json"
  else
    "$MINT" bench --url "http://127.0.0.1:$port" --model "$NAME" --concurrency "$CONCURRENCY" \
      --num-requests "$NUM" --prefix-groups "$GROUPS_N" --prefix-len "$PREFIX" \
      --input-len "$INPUT" --output-len "$OUTPUT" --seed 1 --output "$OUT/$mode.json"
  fi
  curl -s "http://127.0.0.1:$port/metrics" | grep -E '^mint_router_(predicted|actual)_hit_rate' || true
  stop_all
done
"$MINT" bench --compare "$OUT/round-robin.json" "$OUT/kv.json"
