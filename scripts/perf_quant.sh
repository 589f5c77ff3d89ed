#!/usr/bin/env bash
# The issue-16 table: Mint against llama.cpp on the same GGUF files, in the same run.
#   scripts/perf_quant.sh FILE...
# For each file: ROUNDS interleaved rounds of `mint perf` / `llama-bench` (pp512, tg128), then
# aggregate decode at NPL sequences (`mint run --parallel` / `llama-batched-bench`), then pp512 and
# tg128 at each context depth in DEPTHS (`mint perf -d` / `llama-bench -d`, flash attention on).
# Env: THREADS (2), ROUNDS (3; 0: none), NPL ("1 4 16"; empty: no aggregate pass), DEPTHS ("4096";
# empty: none), MINT (build/apps/mint), LLAMA_BIN (directory holding llama-bench and
# llama-batched-bench; required). Depth rows only: ROUNDS=0 NPL="" DEPTHS="4096 16384".
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
NPL=${NPL-"1 4 16"}
DEPTHS=${DEPTHS-4096}
MINT=${MINT:-build/apps/mint}
: "${LLAMA_BIN:?set LLAMA_BIN to the directory of llama-bench and llama-batched-bench}"
for f in "$@"; do
  echo "## $f ($(date -u +%FT%TZ), load $(cut -d' ' -f1 /proc/loadavg))"
  for r in $(seq "$ROUNDS"); do
    echo "# round $r"
    "$MINT" perf -m "$f" -p 512 -n 128 -r 1 -t "$THREADS" --no-triad 2>&1 | grep -E '^\| (pp|tg)'
    "$LLAMA_BIN/llama-bench" -m "$f" -p 512 -n 128 -r 1 -t "$THREADS" 2>&1 | grep -E '(pp|tg)[0-9]'
  done
  if [ -n "$NPL" ]; then
    echo "# aggregate decode (128-token prompts, 128 tokens per sequence)"
    for n in $NPL; do
      "$MINT" run -m "$f" --parallel "$n" --random-prompt 128 -n 128 --ignore-eos --temp 0 \
        -t "$THREADS" --max-model-len 272 --max-num-seqs "$n" --max-num-batched-tokens 512 2>&1 |
        grep -ao 'parallel [0-9]*: .*'  # the summary (stderr) can land after unflushed text
    done
    max=$(echo "$NPL" | tr ' ' '\n' | sort -n | tail -1)
    "$LLAMA_BIN/llama-batched-bench" -m "$f" -c $((256 * max)) -b 512 -ub 512 -npp 128 -ntg 128 \
      -npl "$(echo "$NPL" | tr ' ' ',')" -t "$THREADS" 2>&1 | grep -E '^\|'
  fi
  for d in $DEPTHS; do
    echo "# depth $d ($(date -u +%T))"
    "$MINT" perf -m "$f" -p 512 -n 128 -d "$d" -r 1 -t "$THREADS" --no-triad 2>&1 |
      grep -E '^\| (pp|tg)'
    "$LLAMA_BIN/llama-bench" -m "$f" -p 512 -n 128 -d "$d" -fa 1 -r 1 -t "$THREADS" 2>&1 |
      grep -E '(pp|tg)[0-9]'
  done
done
