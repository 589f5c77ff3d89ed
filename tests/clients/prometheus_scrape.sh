#!/usr/bin/env bash
# Debian's Prometheus scrapes `mint serve`'s /metrics: the target must come up (up == 1) and the
# output-token counter must arrive with the served model's label. Skips (exit 77) without
# prometheus.
#
#   bash tests/clients/prometheus_scrape.sh <mint binary> <shared dir>   (ctest: clients_prometheus_scrape)
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 <mint binary> <shared dir with models/stories260K.gguf>" >&2
  exit 2
fi
PROMETHEUS=$(command -v prometheus || true)
if [ -z "$PROMETHEUS" ]; then
  echo "SKIP: prometheus is not installed (apt-get install prometheus)"
  exit 77
fi
MINT_BIN=$(realpath "$1")
MODEL=$(realpath "$2")/models/stories260K.gguf
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/mint_server.sh"
[ -f "$MODEL" ] || { echo "skipped: missing model $MODEL (the shared data is not beside this checkout)" >&2; exit 77; }

WORK=$(mktemp -d -t mint-prometheus.XXXXXX)
PROM_PID=""
cleanup() {
  if [ -n "$PROM_PID" ]; then
    kill -TERM "$PROM_PID" 2>/dev/null
    wait "$PROM_PID" 2>/dev/null
  fi
  stop_mint >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- prometheus log (last 20 lines) ---" >&2
  tail -n 20 "$WORK/prometheus.log" >&2
  echo "--- mint serve log (last 20 lines) ---" >&2
  tail -n 20 "$MINT_LOG" >&2
  exit 1
}

start_mint "$MINT_BIN" "$MODEL" || exit 1
echo "mint serve on port $MINT_PORT"

cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mint
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['127.0.0.1:$MINT_PORT']
YML

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A port found free can be taken before prometheus binds it: try a few.
PROM_PORT=""
for attempt in 1 2 3; do
  port=$(free_port)
  "$PROMETHEUS" --config.file="$WORK/prometheus.yml" --web.listen-address="127.0.0.1:$port" \
    --storage.tsdb.path="$WORK/tsdb" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  for ((i = 0; i < 200; i++)); do  # 20 s
    [ "$(http_status "http://127.0.0.1:$port/-/ready")" = 200 ] && { PROM_PORT=$port; break; }
    kill -0 "$PROM_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$PROM_PORT" ] && break
  kill -TERM "$PROM_PID" 2>/dev/null
  wait "$PROM_PID" 2>/dev/null
  PROM_PID=""
done
[ -n "$PROM_PORT" ] || fail "prometheus did not become ready"
echo "prometheus on port $PROM_PORT"

# A couple of requests so the token counters move.
for prompt in "Once upon a time" "The cat"; do
  body=$(http_post_json "http://127.0.0.1:$MINT_PORT/v1/completions" \
    "{\"model\":\"stories260K\",\"prompt\":\"$prompt\",\"max_tokens\":16,\"temperature\":0}")
  case "$body" in
    *'"text_completion"'*) ;;
    *) fail "completion request failed: $body" ;;
  esac
done
body=$(http_post_json "http://127.0.0.1:$MINT_PORT/v1/chat/completions" \
  '{"model":"stories260K","messages":[{"role":"user","content":"Hi"}],"max_tokens":8}')
case "$body" in
  *'"chat.completion"'*) ;;
  *) fail "chat request failed: $body" ;;
esac

# The value of an instant query's first sample (empty when none), through Prometheus's HTTP API.
query() {
  local q
  q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1")
  http_get "http://127.0.0.1:$PROM_PORT/api/v1/query?query=$q" | python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
res = r.get("data", {}).get("result", []) if r.get("status") == "success" else []
if res:
    print(res[0]["value"][1])'
}

up="" tokens=""
for ((i = 0; i < 300; i++)); do  # 30 s
  up=$(query 'up{job="mint"}')
  tokens=$(query 'sum(mint_frontend_output_tokens_total{job="mint",model="stories260K"})')
  if [ "$up" = 1 ] && [ -n "$tokens" ] && python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$tokens"; then
    echo "PASS: up=$up, mint_frontend_output_tokens_total=$tokens"
    inflight=$(query 'mint_frontend_inflight_requests{job="mint"}')
    [ -n "$inflight" ] || fail "mint_frontend_inflight_requests not scraped"
    exit 0
  fi
  sleep 0.1
done
fail "after 30 s: up='$up', mint_frontend_output_tokens_total='$tokens'"
