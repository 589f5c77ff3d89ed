#!/usr/bin/env bash
# Scale: N mocker workers (one `mint mocker --count N` process) behind one `mint frontend` with
# KV routing, under a bounded shared-prefix load; reports the frontend's CPU time per request and
# how the router spread the requests.
#   scripts/bench_scale.sh [OUT_DIR]
# Env: N (100), SPEEDUP (20), CONCURRENCY (64), NUM (2000), PREFIX_GROUPS (50), MINT, ETCD.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/mint-scale}
N=${N:-100}
SPEEDUP=${SPEEDUP:-20}
CONCURRENCY=${CONCURRENCY:-64}
NUM=${NUM:-2000}
PG=${PREFIX_GROUPS:-50}
MINT=${MINT:-build/apps/mint}
ETCD=${ETCD:-/usr/bin/etcd}
TOKENIZER=../shared/models/stories260K.gguf
mkdir -p "$OUT"
source scripts/lib/cluster.sh
trap stop_all EXIT
cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }  # utime + stime, clock ticks of 10 ms
date -u
git log -1 --format='mint %h %s' || true
start_etcd "$OUT/etcd-data" "$OUT/etcd.log"
"$MINT" mocker --served-model-name scale --count "$N" --etcd "$ETCD_ADDR" --vocab 512 \
  --speedup "$SPEEDUP" --num-blocks 4096 >"$OUT/mockers.log" 2>&1 &
PIDS+=($!)
port=$(free_port)
"$MINT" frontend --model "$TOKENIZER" --served-model-name scale --etcd "$ETCD_ADDR" \
  --port "$port" >"$OUT/frontend.log" 2>&1 &
fe=$!
PIDS+=($fe)
wait_workers "$port" "$N" || true
echo "frontend sees $(curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^mint_workers \([0-9]*\)$/\1/p') workers"
c0=$(cpu_s $fe)
"$MINT" bench --url "http://127.0.0.1:$port" --model scale --concurrency "$CONCURRENCY" \
  --num-requests "$NUM" --prefix-groups "$PG" --prefix-len 256 --input-len 320 --output-len 32 \
  --seed 1 --output "$OUT/scale.json"
c1=$(cpu_s $fe)
curl -s "http://127.0.0.1:$port/metrics" >"$OUT/frontend.metrics"
python3 - "$c0" "$c1" "$NUM" "$OUT/frontend.metrics" <<'PY'
import sys
c0, c1, n, path = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
chosen = []
for line in open(path):
    if line.startswith("mint_router_chosen_total{"):
        chosen.append(float(line.rsplit(" ", 1)[1]))
    if line.startswith(("mint_router_predicted_hit_rate", "mint_router_actual_hit_rate",
                        "mint_requests_failed_total", "mint_router_decision_seconds{")):
        print(line.strip())
used = sum(1 for c in chosen if c > 0)
print(f"frontend CPU: {c1 - c0:.2f} s for {n} requests = {1000 * (c1 - c0) / n:.2f} ms per request")
print(f"router chose {used} of {len(chosen)} workers; requests per worker min {min(chosen):.0f} max {max(chosen):.0f}")
PY
rm -rf "$OUT/etcd-data"
