#!/usr/bin/env bash
# Tiered KV cache A/B at fleet scale, on mockers (docs/perf.md, "Tiered KV cache"): 8 `mint
# mocker`s behind `mint frontend` (kv router) replay a multi-turn conversation trace with no
# tiers, a host tier, and host + disk tiers (simulated: same indexes and policies as the real
# ones, loads timed by bandwidth). Reports TTFT and the prefix hit rate (device + tiers, summed
# over the mockers' /metrics) against the trace's infinite-cache ceiling.
#   scripts/bench_kv_tiers_mocker.sh TRACE.jsonl [OUT_DIR]
# Env: WORKERS (8), BLOCKS (1024 device blocks per mocker), BLOCK (64), HOST_BLOCKS (4096),
#      DISK_BLOCKS (65536), MOCK_SPEEDUP (10), LOAD (2), BYTES_PER_TOKEN (131072: Llama-3-8B F16),
#      HOST_GBPS (20), DISK_GBPS (3), ARMS ("none host host_disk").
set -euo pipefail
cd "$(dirname "$0")/.."
TRACE=$1
OUT=${2:-/tmp/mint-kv-tiers-mocker}
WORKERS=${WORKERS:-8} BLOCKS=${BLOCKS:-1024} BLOCK=${BLOCK:-64}
HOST_BLOCKS=${HOST_BLOCKS:-4096} DISK_BLOCKS=${DISK_BLOCKS:-65536}
MOCK_SPEEDUP=${MOCK_SPEEDUP:-10} LOAD=${LOAD:-2}
BYTES_PER_TOKEN=${BYTES_PER_TOKEN:-131072} HOST_GBPS=${HOST_GBPS:-20} DISK_GBPS=${DISK_GBPS:-3}
ARMS=${ARMS:-none host host_disk}
MINT=${MINT:-build/apps/mint}
TOKENIZER=${TOKENIZER:-../shared/models/stories260K.gguf}
VOCAB=512
mkdir -p "$OUT"
source scripts/lib/cluster.sh
trap stop_all EXIT
TRACE_SPEEDUP=$(python3 -c "print($MOCK_SPEEDUP * $LOAD)")
date -u
git log -1 --format='mint %h %s' || true
echo "trace $TRACE, $WORKERS mockers x $BLOCKS blocks of $BLOCK tokens; host $HOST_BLOCKS blocks at $HOST_GBPS GB/s, disk $DISK_BLOCKS at $DISK_GBPS GB/s, $BYTES_PER_TOKEN B/token; mocker speedup $MOCK_SPEEDUP, trace speedup $TRACE_SPEEDUP"
python3 scripts/trace_hit_rate.py "$TRACE" | sed 's/^/ceiling (infinite cache): /'

for arm in $ARMS; do
  case $arm in
    none) tiers=() ;;
    host) tiers=(--kv-host-blocks "$HOST_BLOCKS") ;;
    host_disk) tiers=(--kv-host-blocks "$HOST_BLOCKS" --kv-disk-blocks "$DISK_BLOCKS") ;;
    *) echo "unknown arm $arm" >&2; exit 2 ;;
  esac
  start_etcd "$OUT/etcd-data" "$OUT/etcd-$arm.log"
  # WORKERS consecutive free ports for the mockers' /metrics (mocker i listens on base + i).
  mport=$(free_port_range "$WORKERS")
  "$MINT" mocker --served-model-name conv --count "$WORKERS" --etcd "$ETCD_ADDR" \
    --block-size "$BLOCK" --num-blocks "$BLOCKS" --max-model-len 262144 --vocab "$VOCAB" \
    --speedup "$MOCK_SPEEDUP" --metrics-port "$mport" "${tiers[@]}" \
    --kv-host-gbps "$HOST_GBPS" --kv-disk-gbps "$DISK_GBPS" --kv-bytes-per-token "$BYTES_PER_TOKEN" \
    >"$OUT/mocker-$arm.log" 2>&1 &
  PIDS+=($!)
  port=$(free_port)
  "$MINT" frontend --model "$TOKENIZER" --served-model-name conv --etcd "$ETCD_ADDR" \
    --port "$port" --kv-block-size "$BLOCK" --max-model-len 262144 --max-body 64M \
    >"$OUT/frontend-$arm.log" 2>&1 &
  PIDS+=($!)
  wait_workers "$port" "$WORKERS"
  "$MINT" bench --url "http://127.0.0.1:$port" --model conv --trace "$TRACE" \
    --speedup "$TRACE_SPEEDUP" --trace-token-ids "$VOCAB" --seed 1 --no-metrics \
    --output "$OUT/$arm.json" > "$OUT/$arm.txt"
  for ((i = 0; i < WORKERS; i++)); do curl -s "http://127.0.0.1:$((mport + i))/metrics"; done > "$OUT/mockers-$arm.metrics"
  python3 - "$OUT/mockers-$arm.metrics" "$OUT/$arm.json" "$arm" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
def total(name, label=""):
    s = 0.0
    for l in text.splitlines():
        if l.startswith(name) and l[len(name)] in " {" and label in l:
            s += float(l.split()[-1])
    return s
q = total("mint_prefix_cache_queries_total")
dev = total("mint_prefix_cache_hits_total") / q
host = total("mint_kv_tier_hit_blocks_total", 'tier="host"') / q
disk = total("mint_kv_tier_hit_blocks_total", 'tier="disk"') / q
r = json.load(open(sys.argv[2]))
t = r["latency_s"]["ttft"]
print(f"{sys.argv[3]}: TTFT mean {t['mean']*1e3:.1f} ms p99 {t['p99']*1e3:.1f} ms (wall, x speedup for simulated); "
      f"hit rate device {dev*100:.1f} % host {host*100:.1f} % disk {disk*100:.1f} % total {(dev+host+disk)*100:.1f} %")
PY
  stop_all
done
rm -rf "$OUT/etcd-data"
