#!/usr/bin/env bash
# Mint's matmul kernels against ggml's on the same shape, per weight type (issue 16):
#   GGML_BIN=/path/to/llama.cpp/build/bin scripts/kernel_vs_ggml.sh [TYPE...]
# The shape is ggml's own `test-backend-ops perf -o MUL_MAT` case, m 4096 rows x k 14336 columns
# (Llama-3.1-8B's ffn_down), at 1 token (decode) and 512 tokens (prefill); f32 activations,
# quantized inside the call by both. Mint: `matmul_bench` (the faster of the GGUF layout and the
# packed one, best call); ggml: test-backend-ops (mean per run; its weights are not repacked
# there, unlike in llama.cpp's model loads). Both with the machine's thread count (ggml's
# test-backend-ops takes no thread option).
# Env: GGML_BIN (directory holding test-backend-ops; required), ISA (avx512 | avx2: Mint's
# kernels; default avx512; build ggml for the same ISA), MINT_BENCH (build/bench/matmul_bench),
# MIN_TIME (0.5: seconds per Mint case).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GGML_BIN:?set GGML_BIN to the directory of test-backend-ops}"
ISA=${ISA:-avx512}
MINT_BENCH=${MINT_BENCH:-build/bench/matmul_bench}
MIN_TIME=${MIN_TIME:-0.5}
THREADS=$(nproc)
TYPES=("$@")
if [ ${#TYPES[@]} -eq 0 ]; then
  TYPES=(Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS MXFP4 F16 BF16 F32)
fi
# ggml's name of a type: lower case, but K-quants keep their upper-case K.
ggml_name() { echo "$1" | tr 'A-Z' 'a-z' | sed 's/_k$/_K/'; }
mint_gflops() {  # mode type -> "GFLOP/s layout" of the faster variant
  "$MINT_BENCH" --benchmark_min_time="${MIN_TIME}s" \
    --benchmark_filter="^$1/$2/$ISA(-packed)?/4096x14336/threads:$THREADS/" 2>/dev/null |
    awk '/best_GFLOP\/s=/ {
           split($1, n, "/"); for (i = 1; i <= NF; ++i) if ($i ~ /^best_GFLOP/) { split($i, v, "="); g = v[2] }
           if (g + 0 > best) { best = g + 0; lay = (n[3] ~ /packed/) ? "packed" : "gguf" } }
         END { if (best > 0) printf "%.1f %s", best, lay; else printf "- -" }'
}
ggml_gflops() {  # n type -> GFLOP/s
  "$GGML_BIN/test-backend-ops" perf -o MUL_MAT -b CPU \
    -p "type_a=$(ggml_name "$2"),type_b=f32,m=4096,n=$1,k=14336," 2>&1 |
    sed 's/\x1b\[[0-9;]*m//g' | awk '/GFLOPS/ { print $(NF - 1); found = 1 } END { if (!found) print "-" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $THREADS threads," \
  "Mint ISA $ISA, ggml from $GGML_BIN"
echo "| type | decode Mint (layout) | decode ggml | ratio | prefill512 Mint (layout) | prefill512 ggml | ratio |"
echo "|---|---|---|---|---|---|---|"
for t in "${TYPES[@]}"; do
  read -r md ml <<<"$(mint_gflops decode "$t")"
  read -r mp pl <<<"$(mint_gflops prefill512 "$t")"
  gd=$(ggml_gflops 1 "$t")
  gp=$(ggml_gflops 512 "$t")
  echo "| $t | $md ($ml) | $gd | $(ratio "$md" "$gd") | $mp ($pl) | $gp | $(ratio "$mp" "$gp") |"
done
