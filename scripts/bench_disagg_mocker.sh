#!/usr/bin/env bash
# Disaggregated against aggregated on mockers (docs/perf.md, "Disaggregation on mockers"): the
# Mooncake trace replayed through `mint frontend` (kv router) to xP + yD mockers (`mint mocker
# --role prefill|decode`: KV moves over a simulated link) and to x + y aggregated mockers, same
# seeded token-id prompts. Prints each layout's report (goodput under --slo) and the frontend's
# disaggregation counters and the decode mockers' transfer totals.
#   scripts/bench_disagg_mocker.sh [OUT_DIR]
# Env: LAYOUTS ("0:8 1:7 2:6 3:5 4:4": prefill:decode, 0 prefill = all aggregated),
#      BLOCKS (16384), BLOCK (64), MOCK_SPEEDUP (5), LOAD (3; trace speedup = MOCK_SPEEDUP x
#      LOAD), MAX_BATCHED (8192), GBPS (25), LATENCY_MS (1), BYTES_PER_TOKEN (131072:
#      Llama-3-8B F16), SLO (simulated seconds, "ttft=2,tpot=0.05"), LIMIT (requests, 0 = all),
#      FRONTEND_ARGS (e.g. --remote-prefill-min-tokens 2048), TRACE, MINT, ETCD.
# Latencies in the reports are wall-clock, in scaled time: multiply by MOCK_SPEEDUP for the
# simulated hardware's (the SLO is given in simulated seconds and scaled here).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/mint-disagg-mocker}
LAYOUTS=${LAYOUTS:-0:8 1:7 2:6 3:5 4:4}
BLOCKS=${BLOCKS:-16384} BLOCK=${BLOCK:-64}
MOCK_SPEEDUP=${MOCK_SPEEDUP:-5} LOAD=${LOAD:-3} MAX_BATCHED=${MAX_BATCHED:-8192}
GBPS=${GBPS:-25} LATENCY_MS=${LATENCY_MS:-1} BYTES_PER_TOKEN=${BYTES_PER_TOKEN:-131072}
SLO=${SLO:-ttft=2,tpot=0.05}
TRACE=${TRACE:-../shared/traces/mooncake_synthetic_trace.jsonl}
MINT=${MINT:-build/apps/mint}
TOKENIZER=${TOKENIZER:-../shared/models/stories260K.gguf}  # the frontend's tokenizer (vocab 512)
VOCAB=512
mkdir -p "$OUT"
source scripts/lib/cluster.sh
trap stop_all EXIT

TRACE_SPEEDUP=$(python3 -c "print($MOCK_SPEEDUP * $LOAD)")
# The SLO in wall-clock seconds: each simulated second takes 1 / MOCK_SPEEDUP.
WALL_SLO=$(python3 -c "import sys
print(','.join(f'{k}={float(v) / $MOCK_SPEEDUP:g}' for k, v in (p.split('=') for p in sys.argv[1].split(','))))" "$SLO")
date -u
git log -1 --format='mint %h %s' || true
echo "trace $TRACE, mockers of $BLOCKS blocks x $BLOCK tokens, mocker speedup $MOCK_SPEEDUP, trace speedup $TRACE_SPEEDUP; link $GBPS GB/s + $LATENCY_MS ms, $BYTES_PER_TOKEN B/token; SLO $SLO simulated ($WALL_SLO wall)"

mocker() {  # mocker ROLE COUNT METRICS_PORT LOG
  "$MINT" mocker --served-model-name mooncake --count "$2" --etcd "$ETCD_ADDR" --role "$1" \
    --block-size "$BLOCK" --num-blocks "$BLOCKS" --max-model-len 262144 \
    --max-num-batched-tokens "$MAX_BATCHED" --vocab "$VOCAB" --speedup "$MOCK_SPEEDUP" \
    --kv-transfer-gbps "$GBPS" --kv-transfer-latency-ms "$LATENCY_MS" \
    --kv-bytes-per-token "$BYTES_PER_TOKEN" --metrics-port "$3" >"$4" 2>&1 &
  PIDS+=($!)
}

for layout in $LAYOUTS; do
  p=${layout%%:*} d=${layout##*:}
  name="${p}p${d}d"
  [ "$p" = 0 ] && name="${d}agg"
  start_etcd "$OUT/etcd-data" "$OUT/etcd-$name.log"
  dport=$(free_port_range "$d")
  if [ "$p" = 0 ]; then
    mocker agg "$d" "$dport" "$OUT/mocker-$name.log"
  else
    mocker prefill "$p" "$(free_port_range "$p")" "$OUT/mocker-$name-prefill.log"
    mocker decode "$d" "$dport" "$OUT/mocker-$name-decode.log"
  fi
  port=$(free_port)
  # shellcheck disable=SC2086  # FRONTEND_ARGS is a list of flags
  "$MINT" frontend --model "$TOKENIZER" --served-model-name mooncake --etcd "$ETCD_ADDR" \
    --port "$port" --kv-block-size "$BLOCK" --max-model-len 262144 --max-body 64M \
    ${FRONTEND_ARGS:-} >"$OUT/frontend-$name.log" 2>&1 &
  PIDS+=($!)
  wait_workers "$port" $((p + d))
  limit=()
  [ "${LIMIT:-0}" -gt 0 ] && limit=(--num-requests "$LIMIT")
  echo "== $name"
  "$MINT" bench --url "http://127.0.0.1:$port" --model mooncake --trace "$TRACE" \
    --speedup "$TRACE_SPEEDUP" --trace-token-ids "$VOCAB" "${limit[@]}" --seed 1 \
    --slo "$WALL_SLO" --output "$OUT/$name.json" --csv "$OUT/$name.csv" >"$OUT/$name.txt"
  grep -E "requests|TTFT|TPOT|ITL|goodput|output tok|disaggregation" "$OUT/$name.txt" | head -12 || true
  curl -s "http://127.0.0.1:$port/metrics" >"$OUT/frontend-$name.metrics"
  for ((i = 0; i < d; i++)); do curl -s "http://127.0.0.1:$((dport + i))/metrics"; done >"$OUT/decode-$name.metrics"
  python3 - "$OUT/decode-$name.metrics" <<'PY'
import sys
t = {}
for l in open(sys.argv[1]):
    if l.startswith("mint_kv_transfer_") and not l.startswith("mint_kv_transfer_pull_seconds_bucket"):
        k, v = l.split()[0], float(l.split()[-1])
        t[k] = t.get(k, 0) + v
if t.get("mint_kv_transfer_loads_total"):
    print(f"transfers: {t['mint_kv_transfer_loads_total']:.0f} loads, "
          f"{t['mint_kv_transfer_pulled_blocks_total']:.0f} blocks pulled, "
          f"{t['mint_kv_transfer_skipped_blocks_total']:.0f} skipped (cached), "
          f"{t['mint_kv_transfer_pulled_bytes_total'] / 1e9:.1f} GB, "
          f"mean {t['mint_kv_transfer_pull_seconds_sum'] / t['mint_kv_transfer_pull_seconds_count'] * 1e3:.1f} ms simulated")
PY
  stop_all
done
rm -rf "$OUT/etcd-data"
