#!/usr/bin/env bash
# `mint perf` as perf_quant.sh runs it: pp / tg rows at a depth, tg alone with the bandwidth bound,
# pp alone, and a clear error for a cache type it does not take.
#   perf_cli.sh MINT
set -euo pipefail
MINT=$1
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$MINT" gguf synth --preset tiny --vocab builtin --type q8_0 -o "$OUT/m.gguf" 2>/dev/null
"$MINT" perf -m "$OUT/m.gguf" -p 32 -n 8 -d 40 -r 2 --no-triad >"$OUT/a.txt" 2>/dev/null
grep -Eq '^\| pp32 @ d40 \| +[0-9.]+ ± [0-9.]+ \|$' "$OUT/a.txt"
grep -Eq '^\| tg8 @ d40 \| +[0-9.]+ ± [0-9.]+ \|$' "$OUT/a.txt"
! grep -q triad "$OUT/a.txt"
"$MINT" perf -m "$OUT/m.gguf" -p 0 -n 8 -r 1 -k q8_0 >"$OUT/b.txt" 2>/dev/null
! grep -q '^| pp' "$OUT/b.txt"
grep -Eq '^\| tg8 \|' "$OUT/b.txt"
grep -Eq 'read [0-9.]+ GB/s, triad [0-9.]+ GB/s -> decode bound [0-9.]+ t/s .*; measured decode = [0-9]+% of bound' "$OUT/b.txt"
"$MINT" perf -m "$OUT/m.gguf" -p 16 -n 4 -r 1 --no-bandwidth >"$OUT/c.txt" 2>/dev/null
! grep -q bandwidth "$OUT/c.txt"
"$MINT" perf -m "$OUT/m.gguf" -p 16 -n 0 -r 1 --no-triad >"$OUT/c.txt" 2>/dev/null
grep -Eq '^\| pp16 \|' "$OUT/c.txt"
! grep -q '^| tg' "$OUT/c.txt"
if "$MINT" perf -m "$OUT/m.gguf" -k q4_0 2>"$OUT/err.txt"; then
  echo "cache type q4_0 passed"; exit 1
fi
grep -q "cache-type" "$OUT/err.txt"
echo "perf cli ok"
