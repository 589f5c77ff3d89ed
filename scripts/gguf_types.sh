#!/usr/bin/env bash
# Per-tensor types of GGUF files, side by side, to compare Mint's synth recipes with the files
# llama-quantize makes for the same shapes (docs/perf.md, issue 16).
#   scripts/gguf_types.sh A.gguf B.gguf   -> the tensors whose types differ, then a summary
#   scripts/gguf_types.sh A.gguf          -> each tensor kind's types by layer
set -euo pipefail
cd "$(dirname "$0")/.."
MINT=${MINT:-build/apps/mint}
types() { "$MINT" gguf info "$1" 2>/dev/null | awk '$2 ~ /\.(weight|bias)$/ {print $2, $3}' | sort; }
if [ $# -eq 1 ]; then
  types "$1" | awk '{n=$1; l="-"; if (match(n, /blk\.[0-9]+\./)) {l=substr(n, RSTART+4, RLENGTH-5);
    n=substr(n, RSTART+RLENGTH)} k=n" "$2; a[k]=a[k]" "l} END {for (k in a) print k":"a[k]}' | sort
  exit 0
fi
join <(types "$1") <(types "$2") | awk '$2 != $3 {print "differs:", $0; d++} END {
  printf "%d tensors, %d with different types\n", NR, d}'
