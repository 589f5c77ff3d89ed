# shellcheck shell=bash
# Helpers the cluster benchmark scripts share (source it; bash only). The caller keeps the
# background processes it starts in the PIDS array and stops them with stop_all (or its trap).

PIDS=()

stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}

# A TCP port free on 127.0.0.1 right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# free_port_range N: the first of N consecutive TCP ports free on 127.0.0.1 right now (for
# `mint mocker --count N --metrics-port BASE`, which listens on BASE + i).
free_port_range() {
  python3 -c 'import random, socket, sys
n = int(sys.argv[1])
while True:
    base = random.randint(20000, 60000 - n)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()' "$1"
}

# start_etcd DATA_DIR LOG: a one-member etcd on free loopback ports (binary: $ETCD, default
# /usr/bin/etcd), data in DATA_DIR (wiped first). Sets ETCD_ADDR (host:port for --etcd) and adds
# the process to PIDS.
start_etcd() {
  local ec ep
  ec=$(free_port)
  ep=$(free_port)
  rm -rf "$1"
  "${ETCD:-/usr/bin/etcd}" --name default --data-dir "$1" --listen-client-urls "http://127.0.0.1:$ec" \
    --advertise-client-urls "http://127.0.0.1:$ec" --listen-peer-urls "http://127.0.0.1:$ep" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ep" --initial-cluster "default=http://127.0.0.1:$ep" \
    >"$2" 2>&1 &
  PIDS+=($!)
  # shellcheck disable=SC2034  # read by the sourcing script
  ETCD_ADDR="127.0.0.1:$ec"
}

# wait_workers PORT N [TRIES]: until the frontend on PORT reports N workers (polls every 0.1 s,
# TRIES times, default 600).
wait_workers() {
  for _ in $(seq 1 "${3:-600}"); do
    [ "$(curl -s "http://127.0.0.1:$1/metrics" | sed -n 's/^mint_workers \([0-9]*\)$/\1/p')" = "$2" ] && return 0
    sleep 0.1
  done
  echo "frontend on port $1 never saw $2 worker(s)" >&2
  return 1
}

# wait_health PORT: until GET /health on PORT succeeds (60 s at most).
wait_health() {
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "no server answered /health on port $1" >&2
  return 1
}
