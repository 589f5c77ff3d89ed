#!/usr/bin/env bash
# Disaggregated against aggregated serving on real engines, in one `mint serve` each, with the
# same seeded Poisson workload per rate:
#   agg:    --workers 2                      (two engines, each prefills and decodes)
#   disagg: --workers 1 --prefill-workers 1  (one engine prefills, the other decodes with its KV)
# Both: -t 2 (one thread per engine), the kv router, engine defaults. Prints one line per run and
# writes each `mint bench` JSON report into OUT.
#   scripts/bench_disagg_ab.sh MODEL.gguf [OUT_DIR]
# Env: RATES ("0.04 0.08 0.12"), REQUESTS (8 per rate), INPUT (uniform:1024:4096), OUTPUT (128),
#      SLO (itl=0.05: the goodput SLA), LAYOUTS ("agg disagg"), DISAGG_ARGS (more flags for the
#      disaggregated layout, e.g. --prefill-nice 10), MINT (build/apps/mint).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:?usage: bench_disagg_ab.sh MODEL.gguf [OUT_DIR]}
OUT=${2:-/tmp/mint-disagg-ab}
RATES=${RATES:-0.04 0.08 0.12}
REQUESTS=${REQUESTS:-8}
INPUT=${INPUT:-uniform:1024:4096}
OUTPUT=${OUTPUT:-128}
SLO=${SLO:-itl=0.05}
MINT=${MINT:-build/apps/mint}
PORT=18301
mkdir -p "$OUT"
date -u
git log -1 --format='mint %h %s' || true
echo "model $MODEL, input $INPUT, output $OUTPUT, $REQUESTS requests per rate, SLO $SLO"

declare -A LAYOUT=(
  [agg]="--workers 2"
  [disagg]="--workers 1 --prefill-workers 1 --remote-prefill-min-tokens 512 ${DISAGG_ARGS:-}"
)
for rate in $RATES; do
  for name in ${LAYOUTS:-agg disagg}; do
    # shellcheck disable=SC2086
    "$MINT" serve -m "$MODEL" --port $PORT -t 2 --served-model-name m ${LAYOUT[$name]} \
      >"$OUT/serve-$name-$rate.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
      sleep 0.2
    done
    "$MINT" bench --url "http://127.0.0.1:$PORT" --model m --rate "$rate" --arrival poisson \
      --num-requests "$REQUESTS" --input-len "$INPUT" --output-len "$OUTPUT" --seed 1 \
      --slo "$SLO" --output "$OUT/$name-$rate.json" >"$OUT/bench-$name-$rate.txt" 2>&1
    remote=$(curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^mint_remote_prefills_total //p')
    kill -TERM $pid
    wait $pid || true
    python3 - "$OUT/$name-$rate.json" "$name" "$rate" "${remote:-0}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lat = r["latency_s"]
ms = lambda k, q: round(lat[k][q] * 1000, 1)
print(f"{sys.argv[2]:6} rate {float(sys.argv[3]):.2f}/s: ok {r['requests']['succeeded']}/{r['requests']['total']}, "
      f"TTFT p50/p99 {ms('ttft', 'p50')}/{ms('ttft', 'p99')} ms, ITL p50/p99 {ms('itl', 'p50')}/{ms('itl', 'p99')} ms, "
      f"goodput {r['goodput']['good_requests']} req ({r['goodput']['requests_per_s']:.4f}/s), "
      f"throughput {r['throughput']['output_tokens_per_s']:.1f} tok/s, remote prefills {sys.argv[4]}")
PY
  done
done
