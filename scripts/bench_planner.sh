#!/bin/bash
# The SLA planner against static provisioning under a day-shaped load (issue 22): mockers behind
# `mint frontend`, `mint bench --rate-schedule` (quiet, ramp to a peak, plateau, fall), three
# layouts in turn:
#   planner      `mint planner` with the local connector starts and stops prefill/decode mockers
#   static-peak  PEAK_P prefill + PEAK_D decode mockers, sized for the peak
#   static-mean  MEAN_P prefill + MEAN_D decode mockers, sized for the mean
# Per layout: the bench report (SLA attainment, failures), a timeline CSV (workers, interval TTFT
# and ITL, the planner's replicas), worker-seconds and utilization (busy step time / worker time).
#
#   scripts/bench_planner.sh OUT_DIR
# Environment (defaults below): SCHEDULE, INPUT, OUTPUT, SLA, SPEEDUP, INTERVAL, LAYOUTS, PEAK_P,
# PEAK_D, MEAN_P, MEAN_D, MAX_P, MAX_D, PLANNER_ARGS, FRONTEND_ARGS, START_WORKERS, MINT, TOKENIZER.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cluster.sh
OUT=${1:?usage: scripts/bench_planner.sh OUT_DIR}
mkdir -p "$OUT"
MINT=${MINT:-$PWD/build/apps/mint}
TOKENIZER=${TOKENIZER:-../shared/models/stories260K.gguf}
SCHEDULE=${SCHEDULE:-60:2,60:2-12,90:12,60:12-2,60:2}
INPUT=${INPUT:-uniform:512:4096}
OUTPUT=${OUTPUT:-uniform:32:256}
SLA=${SLA:-ttft=2,tpot=0.05}
SPEEDUP=${SPEEDUP:-1}
INTERVAL=${INTERVAL:-10}
PLANNER_SLA=${PLANNER_SLA:-ttft=2,itl=0.05}  # what the planner sizes for (mean TTFT and ITL)
LAYOUTS=${LAYOUTS:-planner static-peak static-mean}
PEAK_P=${PEAK_P:-2} PEAK_D=${PEAK_D:-2} MEAN_P=${MEAN_P:-1} MEAN_D=${MEAN_D:-1}
MAX_P=${MAX_P:-4} MAX_D=${MAX_D:-4}
trap 'stop_all; pkill -f "served-model-name planner-day" || true' EXIT

MOCK=("$MINT" mocker --served-model-name planner-day --vocab 512 --speedup "$SPEEDUP"
      --max-model-len 16384 --metrics-port 0 --drain-timeout 30)
git log -1 --format='mint %h %s' || true
echo "schedule $SCHEDULE, input $INPUT, output $OUTPUT, SLA $SLA, mocker speedup $SPEEDUP, interval $INTERVAL s"

for layout in $LAYOUTS; do
  start_etcd "$OUT/etcd-data" "$OUT/etcd-$layout.log"
  port=$(free_port)
  # shellcheck disable=SC2086  # FRONTEND_ARGS is a list of flags
  "$MINT" frontend --model "$TOKENIZER" --served-model-name planner-day --etcd "$ETCD_ADDR" \
    --port "$port" --max-model-len 16384 ${FRONTEND_ARGS:-} >"$OUT/frontend-$layout.log" 2>&1 &
  PIDS+=($!)
  planner_url=""
  case $layout in
    planner)
      pport=$(free_port)
      # shellcheck disable=SC2086  # PLANNER_ARGS is a list of flags
      "$MINT" planner --model planner-day --etcd "$ETCD_ADDR" \
        --frontend "http://127.0.0.1:$port/metrics" --sla "$PLANNER_SLA" --speedup "$SPEEDUP" \
        --adjustment-interval "$INTERVAL" --max-prefill "$MAX_P" --max-decode "$MAX_D" \
        --prefill-command "exec ${MOCK[*]} --etcd $ETCD_ADDR --role prefill" \
        --decode-command "exec ${MOCK[*]} --etcd $ETCD_ADDR --role decode" \
        --log-dir "$OUT" --metrics-port "$pport" ${PLANNER_ARGS:-} >"$OUT/planner.log" 2>&1 &
      PIDS+=($!)
      planner_url="http://127.0.0.1:$pport/metrics"
      wait_workers "$port" "${START_WORKERS:-2}" ;;  # the planner's minimum per role, summed
    static-peak|static-mean)
      if [ "$layout" = static-peak ]; then np=$PEAK_P nd=$PEAK_D; else np=$MEAN_P nd=$MEAN_D; fi
      for ((i = 0; i < np; i++)); do
        "${MOCK[@]}" --etcd "$ETCD_ADDR" --role prefill >"$OUT/mocker-$layout-p$i.log" 2>&1 &
        PIDS+=($!)
      done
      for ((i = 0; i < nd; i++)); do
        "${MOCK[@]}" --etcd "$ETCD_ADDR" --role decode >"$OUT/mocker-$layout-d$i.log" 2>&1 &
        PIDS+=($!)
      done
      wait_workers "$port" $((np + nd)) ;;
  esac
  scripts/planner_timeline.py --frontend "http://127.0.0.1:$port/metrics" \
    ${planner_url:+--planner "$planner_url"} --interval 2 --out "$OUT/timeline-$layout.csv" &
  sampler=$!
  started=$(date +%s.%N)
  echo "== $layout"
  "$MINT" bench --url "http://127.0.0.1:$port" --model planner-day --rate-schedule "$SCHEDULE" \
    --input-len "$INPUT" --output-len "$OUTPUT" --slo "$SLA" --seed 1 \
    --output "$OUT/$layout.json" >"$OUT/$layout.txt" 2>&1
  ended=$(date +%s.%N)
  kill "$sampler" 2>/dev/null || true
  grep -E "requests|TTFT|ITL|goodput" "$OUT/$layout.txt" | head -6 || true
  # Worker time and busy time over the run, per role.
  for role in prefill decode; do
    if [ "$layout" = planner ]; then
      m=$(curl -s "$planner_url")
      ws=$(echo "$m" | sed -n "s/^mint_planner_worker_seconds_total{role=\"$role\"} \(.*\)/\1/p")
      busy=$(echo "$m" | sed -n "s/^mint_planner_busy_seconds_total{role=\"$role\"} \(.*\)/\1/p")
    else
      if [ "$role" = prefill ]; then n=$np; else n=$nd; fi
      ws=$(python3 -c "print($n * ($ended - $started))")
      busy=0
      for f in "$OUT"/mocker-"$layout"-"${role:0:1}"*.log; do
        url=$(grep -o 'http://[0-9.:]*/metrics' "$f" | head -1)
        b=$(curl -s "$url" | sed -n 's/^mint_engine_busy_seconds_total.* \(.*\)/\1/p' | head -1)
        busy=$(python3 -c "print($busy + ${b:-0})")
      done
    fi
    echo "$role ${ws:-0} ${busy:-0}"
  done | python3 -c "
import sys
rows = [l.split() for l in sys.stdin]
ws = sum(float(r[1]) for r in rows); b = sum(float(r[2]) for r in rows)
pct = lambda b, w: 100 * b / w if w else 0
print(f'worker-seconds {ws:.0f}, busy {b:.0f} s, utilization {pct(b, ws):.1f} % (' +
      ', '.join(f'{r[0]} {float(r[1]):.0f} worker-s, {pct(float(r[2]), float(r[1])):.1f} %' for r in rows) + ')')
" | tee "$OUT/$layout.util"
  stop_all
  pkill -f "served-model-name planner-day" || true
  sleep 2
done
