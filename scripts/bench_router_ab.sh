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
PIDS=()
stop_all() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }
trap stop_all EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_workers() {  # port n
  for _ in $(seq 1 600); do
    [ "$(curl -s "http://127.0.0.1:$1/metrics" | sed -n 's/^mint_workers \([0-9]*\)$/\1/p')" = "$2" ] && return 0
    sleep 0.1
  done
  echo "frontend on port $1 never saw $2 workers" >&2
  return 1
}

TRACE_SPEEDUP=$(python3 -c "print($MOCK_SPEEDUP * $LOAD)")
date -u
git log -1 --format='mint %h %s' || true
echo "trace $TRACE, $WORKERS mockers x $BLOCKS blocks of $BLOCK tokens, mocker speedup $MOCK_SPEEDUP, trace speedup $TRACE_SPEEDUP"
python3 scripts/trace_hit_rate.py "$TRACE" | sed 's/^/theoretical (infinite cache): /'
python3 scripts/trace_hit_rate.py "$TRACE" --capacity-tokens $((WORKERS * BLOCKS * BLOCK)) | sed 's/^/theoretical (pooled LRU at this capacity): /'

for mode in $MODES; do
  ec=$(free_port); ep=$(free_port)
  rm -rf "$OUT/etcd-data"
  "$ETCD" --name default --data-dir "$OUT/etcd-data" --listen-client-urls "http://127.0.0.1:$ec" \
    --advertise-client-urls "http://127.0.0.1:$ec" --listen-peer-urls "http://127.0.0.1:$ep" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ep" --initial-cluster "default=http://127.0.0.1:$ep" \
    >"$OUT/etcd-$mode.log" 2>&1 &
  PIDS+=($!)
  # Fresh mockers per mode: every run starts with empty caches.
  "$MINT" mocker --served-model-name mooncake --count "$WORKERS" --etcd "127.0.0.1:$ec" \
    --block-size "$BLOCK" --num-blocks "$BLOCKS" --max-model-len 262144 \
    --max-num-batched-tokens "$MAX_BATCHED" --vocab "$VOCAB" --speedup "$MOCK_SPEEDUP" \
    >"$OUT/mocker-$mode.log" 2>&1 &
  PIDS+=($!)
  port=$(free_port)
  "$MINT" frontend --model "$TOKENIZER" --served-model-name mooncake --etcd "127.0.0.1:$ec" \
    --port "$port" --router-mode "$mode" --kv-block-size "$BLOCK" --max-model-len 262144 \
    --max-body 64M ${FRONTEND_ARGS:-} >"$OUT/frontend-$mode.log" 2>&1 &
  PIDS+=($!)
  wait_workers "$port" "$WORKERS"
  limit=()
  [ "${LIMIT:-0}" -gt 0 ] && limit=(--num-requests "$LIMIT")
  "$MINT" bench --url "http://127.0.0.1:$port" --model mooncake --trace "$TRACE" \
    --speedup "$TRACE_SPEEDUP" --trace-token-ids "$VOCAB" "${limit[@]}" --seed 1 \
    --output "$OUT/$mode.json"
  curl -s "http://127.0.0.1:$port/metrics" > "$OUT/frontend-$mode.metrics"
  grep -E '^mint_router_(predicted|actual)_hit_rate|^mint_router_decision_seconds' "$OUT/frontend-$mode.metrics" || true
  stop_all
done
for mode in $MODES; do
  [ "$mode" = kv ] && continue
  echo "== $mode (a) vs kv (b)"
  "$MINT" bench --compare "$OUT/$mode.json" "$OUT/kv.json"
done
rm -rf "$OUT/etcd-data"
