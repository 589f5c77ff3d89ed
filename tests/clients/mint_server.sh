# Sourced by run.sh and prometheus_scrape.sh: start `mint serve` on a free port, wait until it is
# ready, and stop it again. Sets MINT_PID, MINT_PORT, MINT_LOG.
#
#   start_mint <mint binary> <gguf model> [extra serve args...]   (returns non-zero on failure)
#   stop_mint                                                    (SIGTERM; non-zero if unclean)
#   finish_mint <test status>    (stop_mint after a test run; the log's tail on failure, else the
#                                 log removed; returns the combined status)
#   ensure_npm_package <dir> <package> [env...]   (npm install in <dir> unless it has <package>)
#   http_status <url>                                            (prints the HTTP status, 000 on none)

http_status() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" || true
  else
    python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).status, end="")
except urllib.error.HTTPError as e:
    print(e.code, end="")
except Exception:
    print("000", end="")
PY
  fi
}

# Body of a GET, empty on failure.
http_get() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -m 5 "$1" || true
  else
    python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1" 2>/dev/null || true
  fi
}

# POST a JSON body; prints the response body.
http_post_json() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -m 30 -H 'Content-Type: application/json' -d "$2" "$1"
  else
    python3 -c 'import sys, urllib.request
r = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(r, timeout=30).read().decode())' "$1" "$2"
  fi
}

start_mint() {
  local bin=$1 model=$2
  shift 2
  MINT_LOG=$(mktemp -t mint-serve.XXXXXX.log)
  # --port 0: the kernel picks a free port; the server logs it ("listening on http://HOST:PORT").
  "$bin" serve -m "$model" --host 127.0.0.1 --port 0 -t 2 "$@" >"$MINT_LOG" 2>&1 &
  MINT_PID=$!
  MINT_PORT=""
  local i
  for ((i = 0; i < 300; i++)); do  # 30 s
    MINT_PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$MINT_LOG" | head -n1)
    [ -n "$MINT_PORT" ] && break
    if ! kill -0 "$MINT_PID" 2>/dev/null; then
      echo "mint serve exited before listening:" >&2
      cat "$MINT_LOG" >&2
      return 1
    fi
    sleep 0.1
  done
  if [ -z "$MINT_PORT" ]; then
    echo "mint serve did not log its port within 30 s:" >&2
    cat "$MINT_LOG" >&2
    return 1
  fi
  for ((i = 0; i < 600; i++)); do  # 60 s: /health is 503 until the model is loaded
    [ "$(http_status "http://127.0.0.1:$MINT_PORT/health")" = 200 ] && return 0
    if ! kill -0 "$MINT_PID" 2>/dev/null; then
      echo "mint serve exited while loading:" >&2
      cat "$MINT_LOG" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "mint serve: /health not 200 within 60 s:" >&2
  cat "$MINT_LOG" >&2
  return 1
}

# Stops the server with SIGTERM (its documented clean shutdown), SIGKILL after 10 s. Returns
# non-zero when the shutdown was not clean. Safe to call twice.
stop_mint() {
  [ -n "${MINT_PID:-}" ] || return 0
  local pid=$MINT_PID rc=0 i
  MINT_PID=""
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "mint serve did not stop within 10 s of SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 1
  fi
  wait "$pid" 2>/dev/null || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "mint serve exited with status $rc after SIGTERM" >&2
    tail -n 20 "$MINT_LOG" >&2
  fi
  return "$rc"
}

# Stops the server after a test run that ended with status $1: an unclean shutdown fails it too.
# On failure prints the server log's tail; on success removes the log. Returns the status.
finish_mint() {
  local rc=$1
  stop_mint || { echo "FAIL: mint serve did not shut down cleanly" >&2; [ "$rc" -ne 0 ] || rc=1; }
  if [ "$rc" -ne 0 ]; then
    echo "--- mint serve log (last 40 lines) ---"
    tail -n 40 "$MINT_LOG"
  else
    rm -f "$MINT_LOG"
  fi
  return "$rc"
}

# Installs the npm packages of <dir>/package.json on first use (needs the npm registry once).
# Extra arguments are environment settings for npm (e.g. PUPPETEER_SKIP_DOWNLOAD=1).
ensure_npm_package() {
  local dir=$1 package=$2
  shift 2
  [ -d "$dir/node_modules/$package" ] && return 0
  echo "installing $package (npm install in $dir)"
  (cd "$dir" && env "$@" npm install --no-audit --no-fund) || { echo "npm install failed" >&2; return 1; }
}
