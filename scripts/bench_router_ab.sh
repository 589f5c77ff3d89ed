#!/usr/bin/env bash
# KV-aware routing A/B on the Mooncake trace: 8 mocker workers (simulated engines: real scheduler,
# block pool, prefix cache and KV events; Dynamo's timing model) behind `mint frontend`, replayed
# once per router mode with the same seeded token-id prompts; prints each mode against kv.
#   scripts/bench_router_ab.sh [OUT_DIR]
# Env: MODES ("kv round-robin random"), WORKERS (8), BLOCKS (16384), BLOCK (64),
#      MOCK_SPEEDUP (mocker time / wall time, 5), LOAD (arrival compression on top, 3: trace
#      speedup = MOCK_SPEEDUP x LOAD), MAX_BATCHED (8192), TRACE (../shared/traces/...),
#      LIMIT (requests, 0 = all), FRONTEND_ARGS (extra router flags, e.g. --prefill-load-scale 2),
#      MINT (build/apps/mint), ETCD (/usr/bin/etcd).
# Wall-clock latencies in the reports are in scaled time: multiply by MOCK_SPEEDUP for the
# simulated hardware's.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/mint-router-ab}
MODES=${MODES:-kv round-robin random}
WORKERS=${WORKERS:-8}
BLOCKS=${BLOCKS:-16384}
BLOCK=${BLOCK:-64}
MOCK_SPEEDUP=${MOCK_SPEEDUP:-5}
LOAD=${LOAD:-3}
MAX_BATCHED=${MAX_BATCHED:-8192}
TRACE=${TRACE:-../shared/traces/mooncake_synthetic_trace.jsonl}
MINT=${MINT:-build/apps/mint}
ETCD=${ETCD:-/usr/bin/etcd}
TOKENIZER=${TOKENIZER:-../shared/models/stories260K.gguf}  # the frontend's tokenizer (vocab 512)
VOCAB=512
mkdir -p "$OUT"
source scripts/lib/cluster.sh
trap stop_all EXIT

TRACE_SPEEDUP=$(python3 -c "print($MOCK_SPEEDUP * $LOAD)")
date -u
git log -1 --format='mint %h %s' || true
echo "trace $TRACE, $WORKERS mockers x $BLOCKS blocks of $BLOCK tokens, mocker speedup $MOCK_SPEEDUP, trace speedup $TRACE_SPEEDUP"
python3 scripts/trace_hit_rate.py "$TRACE" | sed 's/^/theoretical (infinite cache): /'
python3 scripts/trace_hit_rate.py "$TRACE" --capacity-tokens $((WORKERS * BLOCKS * BLOCK)) | sed 's/^/theoretical (pooled LRU at this capacity): /'

for mode in $MODES; do
  start_etcd "$OUT/etcd-data" "$OUT/etcd-$mode.log"
  # Fresh mockers per mode: every run starts with empty caches.
  "$MINT" mocker --served-model-name mooncake --count "$WORKERS" --etcd "$ETCD_ADDR" \
    --block-size "$BLOCK" --num-blocks "$BLOCKS" --max-model-len 262144 \
    --max-num-batched-tokens "$MAX_BATCHED" --vocab "$VOCAB" --speedup "$MOCK_SPEEDUP" \
    >"$OUT/mocker-$mode.log" 2>&1 &
  PIDS+=($!)
  port=$(free_port)
  "$MINT" frontend --model "$TOKENIZER" --served-model-name mooncake --etcd "$ETCD_ADDR" \
    --port "$port" --router-mode "$mode" --kv-block-size "$BLOCK" --max-model-len 262144 \
    --max-body 64M ${FRONTEND_ARGS:-} >"$OUT/frontend-$mode.log" 2>&1 &
  PIDS+=($!)
  wait_workers "$port" "$WORKERS"
  limit=()
  [ "${LIMIT:-0}" -gt 0 ] && limit=(--num-requests "$LIMIT")
  "$MINT" bench --url "http://127.0.0.1:$port" --model mooncake --trace "$TRACE" \
    --speedup "$TRACE_SPEEDUP" --trace-token-ids "$VOCAB" "${limit[@]}" --seed 1 \
    --output "$OUT/$mode.json" --csv "$OUT/$mode.csv"
  curl -s "http://127.0.0.1:$port/metrics" > "$OUT/frontend-$mode.metrics"
  grep -E '^mint_router_(predicted|actual)_hit_rate|^mint_router_decision_seconds' "$OUT/frontend-$mode.metrics" || true
  stop_all
done
for mode in $MODES; do
  [ "$mode" = kv ] || [ ! -f "$OUT/kv.json" ] && continue
  echo "== $mode (a) vs kv (b)"
  "$MINT" bench --compare "$OUT/$mode.json" "$OUT/kv.json"
done
rm -rf "$OUT/etcd-data"
