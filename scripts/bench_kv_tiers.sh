#!/bin/bash
# The tiered KV cache A/B on a real engine (docs/perf.md, "Tiered KV cache"): multi-turn chat
# against `mint serve` with tiers off, a host tier only, and host + disk, the device pool holding
# about 10 % of the live histories.
#   scripts/bench_kv_tiers.sh MODEL.gguf OUT_DIR [extra mint bench flags...]
set -euo pipefail
MODEL=$1 OUT=$2; shift 2
MINT=${MINT:-$(dirname "$0")/../build/apps/mint}
PORT=${PORT:-18100}
POOL=${POOL:-45M}          # device pool (SmolLM2-135M F16 KV: 128 blocks of 16 tokens)
HOST=${HOST:-128M}         # host tier of the host-only and host+disk arms
CONV=${CONV:-16} TURNS=${TURNS:-4} RATE=${RATE:-0.15} THINK=${THINK:-10}
mkdir -p "$OUT"
run_arm() {
  local name=$1; shift
  rm -rf "$OUT/disk"
  "$MINT" serve -m "$MODEL" --served-model-name m --port "$PORT" -t 2 --kv-cache-memory "$POOL" "$@" > "$OUT/$name.serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break; sleep 0.2; done
  "$MINT" bench --url "http://127.0.0.1:$PORT" --model m --conversations "$CONV" --turns "$TURNS" \
    --rate "$RATE" --think-time "$THINK" --first-len 768 --input-len 64 --output-len 32 --seed 1 \
    --output "$OUT/$name.json" "${EXTRA[@]}" > "$OUT/$name.txt" 2> "$OUT/$name.bench.log"
  curl -s "http://127.0.0.1:$PORT/metrics" > "$OUT/$name.metrics"
  kill -INT $pid; wait $pid || true
  echo "== $name"; grep -E "TTFT|prefix|tier" "$OUT/$name.txt"
}
EXTRA=("$@")
run_arm off
run_arm host --kv-host-memory "$HOST"
run_arm host_disk --kv-host-memory "$HOST" --kv-disk-dir "$OUT/disk" --kv-disk-size 4G
# The other offload point (every full block copied to host at once), for the choice of default.
[ -n "${COMPLETION:-}" ] && run_arm host_disk_completion --kv-host-memory "$HOST" --kv-disk-dir "$OUT/disk" \
  --kv-disk-size 4G --kv-offload completion
true
