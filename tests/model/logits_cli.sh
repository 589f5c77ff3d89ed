#!/usr/bin/env bash
# `mint gguf logits` as a parity rerun uses it: a synthetic Q8_0 file and its F32 dequantization
# dump and compare last-position logits; a bound the two cannot meet fails the command; a
# reference of the wrong length and an id outside the vocabulary are clear errors.
#   logits_cli.sh MINT
set -euo pipefail
MINT=$1
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$MINT" gguf synth --preset tiny --vocab builtin --type q8_0 -o "$OUT/q8.gguf" 2>/dev/null
"$MINT" gguf dequantize "$OUT/q8.gguf" "$OUT/f32.gguf"
"$MINT" gguf logits "$OUT/f32.gguf" -n 16 -o "$OUT/ref.f32" 2>"$OUT/log.txt"
grep -q "16 tokens (spread ids)" "$OUT/log.txt"
"$MINT" gguf logits "$OUT/q8.gguf" -n 16 --compare "$OUT/ref.f32" --max-nmse 1e-2 >"$OUT/cmp.txt"
cat "$OUT/cmp.txt"
nmse=$(awk '{print $2}' "$OUT/cmp.txt")
/usr/bin/python3 -c "import sys; v = float('$nmse'); assert 0 < v < 1e-2, v"
# The same file against itself is exact.
"$MINT" gguf logits "$OUT/f32.gguf" -n 16 --compare "$OUT/ref.f32" --max-nmse 1e-30 | grep -q "^NMSE 0 "
if "$MINT" gguf logits "$OUT/q8.gguf" -n 16 --compare "$OUT/ref.f32" --max-nmse 1e-30 \
    >/dev/null 2>"$OUT/err.txt"; then
  echo "a bound of 1e-30 passed"; exit 1
fi
grep -q "over --max-nmse" "$OUT/err.txt"
head -c 100 "$OUT/ref.f32" >"$OUT/short.f32"
if "$MINT" gguf logits "$OUT/q8.gguf" -n 16 --compare "$OUT/short.f32" 2>"$OUT/err.txt"; then
  echo "a short reference passed"; exit 1
fi
grep -q "holds 100 bytes" "$OUT/err.txt"
if "$MINT" gguf logits "$OUT/q8.gguf" --ids 1,2,99999999 2>"$OUT/err.txt"; then
  echo "an id outside the vocabulary passed"; exit 1
fi
grep -qi "vocab" "$OUT/err.txt"
echo "logits cli ok"
