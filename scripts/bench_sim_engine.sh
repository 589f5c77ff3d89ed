#!/usr/bin/env bash
# mint simulate against real engines (issue 21, "accuracy against the real engine"): a timing
# profile of a synthetic SmolLM2-135M-shaped model (`mint profile`, one thread), then at each
# rate a Poisson tenants trace (scripts/gen_trace.py: shared system prompts, own questions)
# served by 2 real `mint worker`s (one thread each) behind `mint frontend` and measured with
# `mint bench`, and predicted by `mint simulate` with that profile; prints scripts/compare_sim.py
# rows per rate.
#   scripts/bench_sim_engine.sh [OUT_DIR]
# Env: RATES ("0.5 1 1.5"), REQUESTS (80), SYSTEM (256), USER (128), OUTPUT (32), TYPE (q8_0),
#      MAX_BATCHED (2048), BLOCKS (8192), MINT, ETCD.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/mint-sim-engine}
RATES=${RATES:-0.5 1 1.5}
REQUESTS=${REQUESTS:-80} SYSTEM=${SYSTEM:-256} USER=${USER_TOKENS:-128} OUTPUT=${OUTPUT:-32}
TYPE=${TYPE:-q8_0} MAX_BATCHED=${MAX_BATCHED:-2048} BLOCKS=${BLOCKS:-8192}
MINT=${MINT:-build/apps/mint}
VOCAB=49152  # SmolLM2's
mkdir -p "$OUT"
source scripts/lib/cluster.sh
trap stop_all EXIT
date -u
git log -1 --format='mint %h %s' || true
MODEL=$OUT/smollm2-135m-$TYPE.gguf
[ -f "$MODEL" ] || "$MINT" gguf synth --preset smollm2-135m --type "$TYPE" -o "$MODEL" >/dev/null
"$MINT" profile -m "$MODEL" -t 1 --max-prefill 2048 --max-batch 32 -o "$OUT/profile.json" 2>"$OUT/profile.log"
engine=(--block-size 16 --max-num-batched-tokens "$MAX_BATCHED" --max-num-seqs 32)
for rate in $RATES; do
  python3 scripts/gen_trace.py tenants --sessions "$REQUESTS" --rate "$rate" --tenants 6 \
    --system-tokens "$SYSTEM" --user-tokens "$USER" --output-tokens "$OUTPUT" --sigma 0.3 \
    --seed 7 >"$OUT/trace-$rate.jsonl"
  start_etcd "$OUT/etcd-data" "$OUT/etcd-$rate.log"
  for i in 1 2; do
    "$MINT" worker -m "$MODEL" --served-model-name smol --etcd "$ETCD_ADDR" -t 1 "${engine[@]}" \
      >"$OUT/worker$i-$rate.log" 2>&1 &
    PIDS+=($!)
  done
  port=$(free_port)
  "$MINT" frontend -m "$MODEL" --served-model-name smol --etcd "$ETCD_ADDR" --port "$port" \
    --kv-block-size 16 >"$OUT/frontend-$rate.log" 2>&1 &
  PIDS+=($!)
  wait_workers "$port" 2
  "$MINT" bench --url "http://127.0.0.1:$port" --model smol --trace "$OUT/trace-$rate.jsonl" \
    --trace-token-ids "$VOCAB" --seed 1 --output "$OUT/real-$rate.json" >"$OUT/real-$rate.txt"
  stop_all
  "$MINT" simulate --trace "$OUT/trace-$rate.jsonl" --vocab "$VOCAB" --seed 1 --workers 2 \
    --block-size 16 --num-blocks "$BLOCKS" --max-num-seqs 32 --max-num-batched-tokens "$MAX_BATCHED" \
    --timing-profile "$OUT/profile.json" -o "$OUT/sim-$rate.json" >"$OUT/sim-$rate.txt"
  python3 scripts/compare_sim.py "$OUT/sim-$rate.json" "$OUT/real-$rate.json" --label "$rate req/s"
done
