#!/usr/bin/env bash
# Overhead of the distributed path: the same model and seeded workload against `mint serve` (one
# process) and against `mint frontend` + one `mint worker` found through a local etcd (HTTP ->
# gRPC -> engine), one setup at a time on loopback; prints `mint bench --compare`
# (distributed / single process): the added TTFT and per-token latency.
#   scripts/bench_distributed.sh [MODEL] [OUT_DIR]
# Env: THREADS (2), CONCURRENCY (1 and 8 are both run), NUM (64), INPUT (64), OUTPUT (64),
#      MINT (build/apps/mint), ETCD (/usr/bin/etcd).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-../shared/models/stories260K.gguf}
OUT=${2:-/tmp/mint-bench-distributed}
THREADS=${THREADS:-2}
NUM=${NUM:-64}
INPUT=${INPUT:-64}
OUTPUT=${OUTPUT:-64}
MINT=${MINT:-build/apps/mint}
ETCD=${ETCD:-/usr/bin/etcd}
NAME=$(basename "$MODEL" .gguf)
mkdir -p "$OUT"
source scripts/lib/cluster.sh
trap stop_all EXIT

bench() {  # port concurrency report
  "$MINT" bench --url "http://127.0.0.1:$1" --model "$NAME" --concurrency "$2" \
    --num-requests "$NUM" --warmup 4 --input-len "$INPUT" --output-len "$OUTPUT" --seed 1 \
    --output "$3"
}

date -u
git log -1 --format='mint %h %s' || true
port=$(free_port)
"$MINT" serve --model "$MODEL" --port "$port" -t "$THREADS" >"$OUT/serve.log" 2>&1 &
PIDS+=($!)
wait_health "$port"
for c in 1 8; do bench "$port" "$c" "$OUT/single-c$c.json"; done
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

start_etcd "$OUT/etcd-data" "$OUT/etcd.log"
"$MINT" worker --model "$MODEL" --etcd "$ETCD_ADDR" -t "$THREADS" >"$OUT/worker.log" 2>&1 &
PIDS+=($!)
port=$(free_port)
"$MINT" frontend --model "$MODEL" --etcd "$ETCD_ADDR" --port "$port" >"$OUT/frontend.log" 2>&1 &
PIDS+=($!)
wait_workers "$port" 1
for c in 1 8; do bench "$port" "$c" "$OUT/distributed-c$c.json"; done
for c in 1 8; do
  echo "== concurrency $c: distributed (frontend + worker) vs single process"
  "$MINT" bench --compare "$OUT/distributed-c$c.json" "$OUT/single-c$c.json"
done
rm -rf "$OUT/etcd-data"
