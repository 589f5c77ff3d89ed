#!/usr/bin/env bash
# Multi-host test of the distributed runtime: five network namespaces joined by veth pairs to a
# bridge (itself in a sixth namespace, so the host's own network is never touched) play five
# hosts: etcd, the frontend, two workers and a client, each on its own private 10.213.x address.
# Requests cross hosts (client -> frontend -> workers over gRPC), and so do KV events (workers'
# ZeroMQ PUB -> the frontend's subscriber). Greedy outputs must equal a single-process
# `mint serve` run on the same prompts. Then the two workers are replaced by a prefill worker
# and a decode worker on the same two hosts: prompts are prefilled on one host and their KV
# blocks pulled by the other over TCP, then over UCX, with the same outputs. Everything the test creates is
# removed on exit.
#
#   bash tests/clients/distributed/multihost.sh <mint binary> <shared dir>   (ctest: distributed_multihost)
#
# Needs root (CAP_NET_ADMIN/CAP_SYS_ADMIN) for `ip netns`, etcd and curl; exits 77 (skipped)
# without them.
set -uo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 <mint binary> <shared dir>" >&2
  exit 2
fi
MINT=$(realpath "$1")
MODEL=$(realpath "$2")/models/stories260K.gguf
ETCD=${MINT_ETCD:-/usr/bin/etcd}
[ -f "$MODEL" ] || { echo "skipped: missing model $MODEL (the shared data is not beside this checkout)" >&2; exit 77; }
for tool in ip curl python3; do
  command -v $tool >/dev/null || { echo "$tool not installed: skipped"; exit 77; }
done
[ -x "$ETCD" ] || { echo "etcd not installed: skipped"; exit 77; }

TAG=m$$
NS_SW=$TAG-sw
HOSTS=(etcd fe w1 w2 cl)
declare -A ADDR=([etcd]=10.213.0.1 [fe]=10.213.0.2 [w1]=10.213.0.3 [w2]=10.213.0.4 [cl]=10.213.0.5)
TMP=$(mktemp -d -t mint-multihost.XXXXXX)
PIDS=()

cleanup() {
  # Every process in the test's namespaces (whatever started it), then the reference server.
  local nspids=()
  for h in "${HOSTS[@]}"; do nspids+=($(ip netns pids "$TAG-$h" 2>/dev/null)); done
  for p in "${nspids[@]}" "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  local i p alive
  for ((i = 0; i < 50; i++)); do  # up to 5 s for clean exits (workers drain for 0.5 s)
    alive=0
    for p in "${nspids[@]}" "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for p in "${nspids[@]}" "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  for h in "${HOSTS[@]}"; do ip netns del "$TAG-$h" 2>/dev/null; done
  ip netns del "$NS_SW" 2>/dev/null
}
trap cleanup EXIT

if ! ip netns add "$NS_SW" 2>/dev/null; then
  echo "cannot create network namespaces here (needs root / CAP_SYS_ADMIN): skipped"
  exit 77
fi
# The virtual network. A sandbox that allows namespaces but not bridges/veths (or entering a
# namespace) cannot run this test: that is a skip, not a Mint failure.
setup_network() {
  ip -n "$NS_SW" link add br0 type bridge || return 1
  ip -n "$NS_SW" link set br0 up || return 1
  local i=0 h ns
  for h in "${HOSTS[@]}"; do
    ns=$TAG-$h
    ip netns add "$ns" || return 1
    ip link add "$TAG$i" netns "$NS_SW" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$NS_SW" link set "$TAG$i" master br0 up || return 1
    ip -n "$ns" addr add "${ADDR[$h]}/24" dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
    ip -n "$ns" link set lo up || return 1
    ip netns exec "$ns" true || return 1
    i=$((i + 1))
  done
}
if ! setup_network; then
  echo "cannot build a virtual network of namespaces here (bridge/veth/netns exec refused): skipped"
  exit 77
fi
on() { local h=$1; shift; ip netns exec "$TAG-$h" "$@"; }

fail() {
  echo "FAIL: $*" >&2
  for f in "$TMP"/*.log; do echo "--- $(basename "$f") (last 30 lines)"; tail -n 30 "$f"; done
  exit 1
}
wait_log() {  # file regex [seconds]
  local i
  for ((i = 0; i < ${3:-30} * 10; i++)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}


E=${ADDR[etcd]}
ip netns exec "$TAG-etcd" "$ETCD" --name default --data-dir "$TMP/etcd" \
  --listen-client-urls "http://$E:2379" --advertise-client-urls "http://$E:2379" \
  --listen-peer-urls "http://$E:2380" --initial-advertise-peer-urls "http://$E:2380" \
  --initial-cluster "default=http://$E:2380" >"$TMP/etcd.log" 2>&1 &
PIDS+=($!)
# etcd's host answers from the frontend's host: the "network" works.
for ((i = 0; i < 100; i++)); do
  on fe curl -s -m 1 "http://$E:2379/health" | grep -q true && break
  sleep 0.2
done
[ "$i" -lt 100 ] || fail "etcd on its host is not reachable from the frontend's host"

export MINT_CPU=scalar  # exact greedy outputs whatever the batch shape
# The request plane crosses hosts: mutual TLS with one cluster CA (a worker binding beyond
# loopback without it refuses to start).
"$MINT" certs --out "$TMP/certs" >"$TMP/certs.log" 2>&1 || fail "mint certs failed"
if "$MINT" worker -m "$MODEL" --etcd "$E:2379" --bind 0.0.0.0 >"$TMP/insecure.log" 2>&1; then
  fail "a worker started on 0.0.0.0 with neither --tls-dir nor --insecure-plane"
fi
grep -q "tls-dir" "$TMP/insecure.log" || fail "the refusal does not name --tls-dir"
for w in w1 w2; do
  ip netns exec "$TAG-$w" "$MINT" worker -m "$MODEL" --etcd "$E:2379" --bind "${ADDR[$w]}" -t 1 --lease-ttl 3 \
    --tls-dir "$TMP/certs" >"$TMP/$w.log" 2>&1 &
  PIDS+=($!)
done
ip netns exec "$TAG-fe" "$MINT" frontend -m "$MODEL" --etcd "$E:2379" --host "${ADDR[fe]}" --port 8000 \
  --tls-dir "$TMP/certs" --remote-prefill-min-tokens 8 >"$TMP/frontend.log" 2>&1 &
PIDS+=($!)
"$MINT" serve -m "$MODEL" --port 0 -t 1 >"$TMP/reference.log" 2>&1 &
PIDS+=($!)
wait_log "$TMP/reference.log" "serving '" || fail "the reference server did not start"
REF_PORT=$(sed -n "s|.*serving '[^']*' on http://127\.0\.0\.1:\([0-9]*\).*|\1|p" "$TMP/reference.log")
wait_log "$TMP/frontend.log" "serving '" || fail "the frontend did not start"
FE="http://${ADDR[fe]}:8000"
fe_workers() {  # N: until the frontend lists N workers (30 s at most)
  local i
  for ((i = 0; i < 300; i++)); do
    [ "$(on cl curl -s -m 2 "$FE/metrics" | sed -n 's/^mint_workers \([0-9]*\)$/\1/p')" = "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
fe_workers 2 || fail "the frontend did not discover both workers"
echo "etcd, frontend and 2 workers up on 4 hosts"

completion() {  # host url prompt
  on "$1" curl -s -m 60 "$2/v1/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"stories260K\",\"prompt\":\"$3\",\"max_tokens\":24,\"temperature\":0}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])'
}
mismatch=0
PROMPTS=("Once upon a time" "The little dog" "Lily wanted to" "One day, a big" "Tom and Sue"
         "The sun was" "In the park" "She looked at the" "The cat said" "A bird flew")
for round in 1 2; do  # the second round hits the workers' prefix caches
  for p in "${PROMPTS[@]}"; do
    got=$(completion cl "$FE" "$p") || fail "request failed: $p"
    want=$(curl -s -m 60 "http://127.0.0.1:$REF_PORT/v1/completions" -H 'Content-Type: application/json' \
      -d "{\"model\":\"stories260K\",\"prompt\":\"$p\",\"max_tokens\":24,\"temperature\":0}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])')
    if [ "$got" != "$want" ]; then
      echo "mismatch for '$p': got '$got' want '$want'"
      mismatch=$((mismatch + 1))
    fi
  done
done
[ $mismatch -eq 0 ] || fail "$mismatch outputs differ from the single-process server"

M=$(on cl curl -s -m 5 "$FE/metrics")
[ "$(echo "$M" | grep -cE 'mint_worker_requests_total\{worker="[^"]*"\} [1-9]')" -eq 2 ] ||
  fail "requests did not reach both workers"
EVENTS=$(echo "$M" | sed -n 's/^mint_kv_events_received_total \([0-9]*\)$/\1/p')
[ -n "$EVENTS" ] && [ "$EVENTS" -gt 0 ] || fail "no KV events reached the frontend (mint_kv_events_received_total=$EVENTS)"
echo "20 requests across 4 hosts equal the single-process server; $EVENTS KV events crossed to the frontend"

# Disaggregated across hosts: w1 prefills, w2 decodes and pulls each prompt's KV from w1, over
# TCP, then over UCX held to its TCP transport (UCX_TLS=tcp, as hosts without RDMA). A failed
# pull fails its request (--kv-load-failure-policy fail), so equal outputs mean every pull landed.
LONG=("Once upon a time there was a little girl named Lily. She loved to play outside in the sun"
      "Tom and his dog went to the park. They saw a big tree and a small bird. The bird was sad"
      "One day, a boy found a red ball in the garden. He wanted to show it to his mom, so he ran")
declare -A ROLE=([w1]=prefill [w2]=decode)
remote_total=0
disaggregated() {  # transport
  local w p got want
  for w in w1 w2; do
    for p in $(ip netns pids "$TAG-$w"); do kill "$p" 2>/dev/null; done
  done
  fe_workers 0 || fail "the frontend still lists the stopped workers"
  for w in w1 w2; do
    ip netns exec "$TAG-$w" env UCX_TLS=tcp "$MINT" worker -m "$MODEL" --etcd "$E:2379" \
      --bind "${ADDR[$w]}" -t 1 --lease-ttl 3 --tls-dir "$TMP/certs" --role "${ROLE[$w]}" \
      --kv-transport "$1" --kv-load-failure-policy fail >"$TMP/$w-${ROLE[$w]}-$1.log" 2>&1 &
    PIDS+=($!)
  done
  fe_workers 2 || fail "the frontend did not discover the prefill and decode workers ($1)"
  for p in "${LONG[@]}"; do
    got=$(completion cl "$FE" "$p") || fail "disaggregated request failed ($1): $p"
    want=$(curl -s -m 60 "http://127.0.0.1:$REF_PORT/v1/completions" -H 'Content-Type: application/json' \
      -d "{\"model\":\"stories260K\",\"prompt\":\"$p\",\"max_tokens\":24,\"temperature\":0}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])')
    [ "$got" = "$want" ] || fail "disaggregated output differs ($1) for '$p': got '$got' want '$want'"
  done
  remote_total=$((remote_total + ${#LONG[@]}))
  local remote
  remote=$(on cl curl -s -m 5 "$FE/metrics" | sed -n 's/^mint_remote_prefills_total \([0-9]*\)$/\1/p')
  [ "${remote:-0}" = $remote_total ] || fail "mint_remote_prefills_total=${remote:-missing}, want $remote_total"
}
disaggregated tcp
disaggregated ucx
grep -q "UCX started for KV pulls" "$TMP/w1-prefill-ucx.log" || fail "the prefill worker did not serve UCX"
echo "PASS: 20 requests across 4 hosts equal the single-process server; $EVENTS KV events crossed" \
  "to the frontend; ${#LONG[@]} prompts prefilled on one host and decoded on another, KV over TCP" \
  "and again over UCX"
exit 0
