#!/usr/bin/env bash
# The test command: installs dependencies, builds Mint, runs the test suite, then (when there is
# time, as in CI) the suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
#   scripts/test.sh            release build + all tests, then the sanitizer pass
#   MINT_SKIP_SANITIZERS=1 scripts/test.sh   release only
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
JOBS=${JOBS:-$(nproc)}

cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS"
ctest --preset release -j "$JOBS" --timeout 900

if [ "${MINT_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== sanitizer pass (address,undefined): unit tests =="
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$JOBS"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --preset asan -j "$JOBS" -L unit --timeout 900
fi
