#!/usr/bin/env bash
# The same synthetic model and the same seeded workload against `mint serve` and against
# llama.cpp's `llama-server`, one server at a time on loopback; writes both JSON reports and
# prints `mint bench --compare` (Mint / llama.cpp).
#   LLAMA_SERVER=/path/to/llama-server scripts/bench_compare.sh [MODEL_DIR] [OUT_DIR]
# Env: THREADS (2), SLOTS (16: llama-server -np, mint --max-num-seqs), CONCURRENCY (8),
#      NUM (64 measured requests), INPUT (128), OUTPUT (64), MINT (build/apps/mint).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/mint-models}
OUT=${2:-/tmp/mint-bench-compare}
THREADS=${THREADS:-2}
SLOTS=${SLOTS:-16}
CONCURRENCY=${CONCURRENCY:-8}
NUM=${NUM:-64}
INPUT=${INPUT:-128}
OUTPUT=${OUTPUT:-64}
MINT=${MINT:-build/apps/mint}
: "${LLAMA_SERVER:?set LLAMA_SERVER to a llama-server binary}"
mkdir -p "$DIR" "$OUT"
f="$DIR/smollm2-135m-q8_0.gguf"
[ -f "$f" ] || "$MINT" gguf synth --preset smollm2-135m --type q8_0 --shared-dir ../shared -o "$f"
CTX=1024

source scripts/lib/cluster.sh
bench() {  # port report
  "$MINT" bench --url "http://127.0.0.1:$1" --model smollm2-135m-q8_0 --concurrency "$CONCURRENCY" \
    --num-requests "$NUM" --warmup 2 --input-len "$INPUT" --output-len "$OUTPUT" --seed 1 \
    --output "$2"
}

date -u
port=$(free_port)
"$MINT" serve --model "$f" --host 127.0.0.1 --port "$port" -t "$THREADS" --max-num-seqs "$SLOTS" \
  --max-model-len "$CTX" > "$OUT/mint-serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_health "$port"
bench "$port" "$OUT/mint.json"
kill "$pid"; wait "$pid" 2>/dev/null || true

port=$(free_port)
"$LLAMA_SERVER" -m "$f" --host 127.0.0.1 --port "$port" -t "$THREADS" -np "$SLOTS" \
  -c $((SLOTS * CTX)) --no-jinja --reasoning-format none > "$OUT/llama-server.log" 2>&1 &
pid=$!
wait_health "$port"
bench "$port" "$OUT/llama.json"
kill "$pid"; wait "$pid" 2>/dev/null || true

"$MINT" bench --compare "$OUT/mint.json" "$OUT/llama.json"
