#!/usr/bin/env bash
# The stack behind docs/perf.md "Held SSE streams": etcd, one `mint mocker` timed by
# scripts/hold_streams_profile.json, and `mint frontend` on the tiny stories260K tokenizer; then
# scripts/hold_streams.py with N held streams. Threads and RSS of both servers are sampled every
# 5 s into OUT/threads.log; a server past 3,000 threads is killed (the old thread-per-stream
# failure took the machine down). Ends with how long the mocker took to exit after SIGTERM.
#   scripts/hold_streams_stack.sh N [OUT]      (build first: cmake --build --preset release)
set -uo pipefail
N=${1:?usage: hold_streams_stack.sh N [OUT]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MINT=${MINT:-$ROOT/build/apps/mint}
MODEL=${MODEL:-$ROOT/../shared/models/stories260K.gguf}
OUT=${2:-/tmp/hold_streams/$N}
rm -rf "$OUT" && mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"
etcd --data-dir "$OUT/etcd" --listen-client-urls http://127.0.0.1:23790 \
  --advertise-client-urls http://127.0.0.1:23790 --listen-peer-urls http://127.0.0.1:23800 \
  >"$OUT/etcd.log" 2>&1 &
EP=$!
sleep 2
"$MINT" mocker --etcd 127.0.0.1:23790 --timing-profile "$ROOT/scripts/hold_streams_profile.json" \
  --max-num-seqs 10240 --max-num-batched-tokens 16384 --num-blocks 400000 --max-queued 20000 \
  --max-model-len 100000 --vocab 512 --served-model-name stories260K >"$OUT/mocker.log" 2>&1 &
MP=$!
"$MINT" frontend --etcd 127.0.0.1:23790 -m "$MODEL" --port 18000 >"$OUT/frontend.log" 2>&1 &
FP=$!
sleep 4
kill -0 "$MP" 2>/dev/null || { echo "the mocker did not start:"; tail -n 3 "$OUT/mocker.log"; }
(
  while kill -0 "$FP" 2>/dev/null; do
    ft=$(ls /proc/$FP/task 2>/dev/null | wc -l)
    mt=$(ls /proc/$MP/task 2>/dev/null | wc -l)
    frss=$(awk '/VmRSS/ {print $2}' /proc/$FP/status 2>/dev/null)
    mrss=$(awk '/VmRSS/ {print $2}' /proc/$MP/status 2>/dev/null)
    echo "$(date +%T) frontend_threads $ft mocker_threads $mt load $(cut -d' ' -f1 /proc/loadavg)" \
      "frontend_rss_kb $frss mocker_rss_kb $mrss" >>"$OUT/threads.log"
    if [ "$ft" -gt 3000 ] || [ "$mt" -gt 3000 ]; then
      echo "over 3000 threads: killed" >>"$OUT/threads.log"
      kill -9 "$FP" "$MP"
    fi
    sleep 5
  done
) &
WP=$!
timeout 900 python3 "$ROOT/scripts/hold_streams.py" --port 18000 --model stories260K --streams "$N" \
  --probes 100 --rate 1000 --max-tokens 50000 >"$OUT/result.json" 2>"$OUT/client.err"
client=$?
echo "client exit status $client"
cat "$OUT/result.json"
# Passes when every stream got its header and none was closed by the server.
python3 - "$OUT/result.json" "$N" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["streams_with_header"] == int(sys.argv[2]) and r["streams_closed_by_server"] == 0
sys.exit(0 if ok else 1)
PY
verdict=$(( client != 0 || $? != 0 ))
tail -n 2 "$OUT/threads.log"
kill -TERM "$FP"
sleep 1
kill -TERM "$MP"
for i in $(seq 1 30); do kill -0 "$MP" 2>/dev/null || break; sleep 1; done
if kill -0 "$MP" 2>/dev/null; then
  echo "the mocker did not exit within 30 s of SIGTERM"
  kill -9 "$MP"
else
  echo "the mocker exited ${i} s after SIGTERM"
fi
kill -9 "$FP" 2>/dev/null
kill "$EP" "$WP" 2>/dev/null
wait 2>/dev/null
grep -q "killed" "$OUT/threads.log" && verdict=1
exit "$verdict"
