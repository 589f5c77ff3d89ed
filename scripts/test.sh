#!/usr/bin/env bash
# The test command: installs dependencies, builds Mint, runs the test suite, then the unit tests
# again under AddressSanitizer + UndefinedBehaviorSanitizer when there is time for them.
#   scripts/test.sh                          release build + all tests, then the sanitizer pass
#   MINT_SKIP_SANITIZERS=1 scripts/test.sh   release only
#   MINT_TIME_BUDGET_S=N scripts/test.sh     skip the sanitizer pass when the release pass took so
#                                            long that both would not fit in N seconds (CI: 1800)
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
bash scripts/install-deps.sh
JOBS=${JOBS:-$(nproc)}
budget=${MINT_TIME_BUDGET_S:-$([ -n "${CI:-}" ] && echo 1800 || echo 0)}

t0=$(date +%s)
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS"
t1=$(date +%s)
ctest --preset release -j "$JOBS" --timeout 900 -LE soak
t2=$(date +%s)
echo "== release: build $((t1 - t0)) s, tests $((t2 - t1)) s (since start: $((t2 - start)) s) =="

if [ "${MINT_SKIP_SANITIZERS:-0}" = "1" ]; then
  echo "== sanitizer pass skipped (MINT_SKIP_SANITIZERS=1) =="
  exit 0
fi
# The sanitizer pass: its build takes about twice the release build, its unit tests about three
# times the release tests (measured on 2 cores: build 524 s -> ~980 s, tests 171 s -> 476 s).
estimate=$((2 * (t1 - t0) + 3 * (t2 - t1)))
if [ "$budget" -gt 0 ] && [ $((t2 - start + estimate)) -gt "$budget" ]; then
  echo "== sanitizer pass skipped: about ${estimate} s more would pass the ${budget} s budget" \
       "(run it alone: cmake --preset asan && cmake --build --preset asan &&" \
       "ctest --preset asan -L unit) =="
  exit 0
fi
echo "== sanitizer pass (address,undefined): unit tests =="
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --preset asan -j "$JOBS" -L unit --timeout 900
echo "== done in $(($(date +%s) - start)) s =="
