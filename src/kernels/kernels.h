// Kernels: quantized and float math for the model forward pass, on CPU.
//
// Every op has a scalar reference and AVX2 / AVX-512 variants, compiled per file (*_avx2.cpp,
// *_avx512.cpp) and chosen at run time from CPU features. Callers normally pass Isa::kBest;
// the parity harness passes each available Isa explicitly and compares with kScalar.
//
// Thread-safety: all functions are reentrant. Functions that take a ThreadPool* use it for the
// duration of the call (ThreadPool::Run is not reentrant, so one forward pass owns its pool);
// a null pool means single-threaded.
//
// Layouts: a weight matrix W has `rows` rows of `cols` elements each, row-major, each row
// DTypeRowBytes(type, cols) bytes (GGUF: ne[0] = cols, ne[1] = rows). Activations are f32,
// row-major, one row per token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"

namespace mint::kernels {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kBest = 3 };
const char* IsaName(Isa isa);
// kBest resolved against this CPU (and MINT_CPU): kAvx512, kAvx2 or kScalar.
Isa BestIsa();
// Every concrete variant this CPU can run, kScalar first.
std::vector<Isa> AvailableIsas();

// ---- Scalar conversions -------------------------------------------------------------------
float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);  // round to nearest even
float BF16ToF32(uint16_t h);
uint16_t F32ToBF16(float f);  // round to nearest even, NaN preserved

// ---- Row (de)quantization: bit-exact GGUF block formats -----------------------------------
// n must be a multiple of DTypeBlockElements(t). Quantization uses the reference algorithms of
// ggml (quantize_row_*_ref), so files Mint writes load in llama.cpp with the same values.
// Every type Mint loads can be dequantized; QuantizeRow needs HasQuantizer(t) (not yet: Q2_K,
// Q3_K, MXFP4). IQ4_NL / IQ4_XS quantize as ggml does without an importance matrix.
void DequantizeRow(DType t, const void* src, float* dst, int64_t n);
void QuantizeRow(DType t, const float* src, void* dst, int64_t n);
bool HasQuantizer(DType t);

// ---- Matrix multiplication ------------------------------------------------------------------
struct WeightView {
  DType type = DType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;  // output features
  int64_t cols = 0;  // input features (contiguous)
  // Optional: the same matrix in the interleaved layout of PackWeights (64-byte aligned), for
  // the types and ISAs of PackedSupported. Those kernels read it instead of `data`; the others
  // ignore it.
  const void* packed = nullptr;
};

// ---- Packed weights (AVX-512 VNNI), built once at load time ---------------------------------
// Groups of 16 rows, block by block, so one 512-bit VNNI instruction multiplies 4 columns of 16
// rows by one broadcast group of 4 activations: a block's 16 integer dot products finish in one
// register's lanes with no horizontal sums, decode streams each group as one contiguous range,
// and each weight load serves every token of a tile.
//
// Q8_0 (kPackedQ8_0BlockBytes per group and block of 32 columns): 16 f32 scales, then 8 chunks of
// 64 bytes, chunk k holding columns 4k..4k+3 of the 16 rows (row-major within the chunk) as
// w + 128.
//
// Q4_K (kPackedQ4_KBlockBytes per group and super-block of 256 columns):
//   [0, 2048)    codes: for c in [0, 4), k in [0, 8): 64 bytes, row r's bytes 4r..4r+3 being the
//                row's qs[32c + 4k .. 32c + 4k + 3] (low nibbles: columns 64c + 4k + e of
//                sub-block 2c; high nibbles: columns 64c + 32 + 4k + e of sub-block 2c + 1);
//   [2048, 2080) d of the 16 rows (f16); [2080, 2112) dmin (f16);
//   [2112, 2240) 6-bit scales, u8, [sub-block][row];
//   [2240, 2368) 6-bit mins, u8, [sub-block pair p][row][2] (sub-blocks 2p, 2p + 1).
// 2.8% more bytes than the GGUF rows; the integer arithmetic is the scalar reference's.
//
// Q5_0 (kPackedQ5_0BlockBytes per group and block of 32 columns, the GGUF rows' size):
//   [0, 256) nibbles: 64-byte chunk v holds row r's qs[4v .. 4v + 3] at bytes 4r .. 4r + 3
//            (columns 4v + e low, 16 + 4v + e high); [256, 320) fifth bits: row r's byte 4r + e
//            holds column 4k + e's at bit k; [320, 352) d (f16).
// Q5_1 (kPackedQ5_1BlockBytes, the GGUF rows' size): Q5_0's 352 bytes, then [352, 384) m (f16).
// Q4_1 (kPackedQ4_1BlockBytes, the GGUF rows' size): Q5_0's nibbles, then [256, 288) d and
//   [288, 320) m (f16).
// MXFP4 (kPackedMXFP4BlockBytes): Q5_0's nibbles (4-bit table indices), then [256, 288) the
//   scales 2^(e - 128) as bf16 (exact: 8 exponent bits, subnormals included).
// F16, F32 (one "block" per column: 16 x 2 or 16 x 4 bytes): the 16 rows' values of each column
//   in turn, the GGUF rows' size.
//
// Q5_K (kPackedQ5_KBlockBytes): Q4_K's 2368 bytes for its nibbles, d, dmin, scales and mins, then
//   [2368, 2880) fifth bits: per c 128 bytes, row r's byte 4r + e holding at bit k the fifth
//                bit of column 64c + 4k + e (first 64 bytes) or 64c + 32 + 4k + e (next 64).
//
// IQ4_XS (kPackedIQ4_XSBlockBytes): 4-bit table indices laid out as Q4_K's codes (sub-blocks 2p
//   and 2p + 1 in the low and high nibbles of the 64-byte chunks of pair p), then
//   [2048, 2176) scales ls - 32, i8, [sub-block pair p][row][2]; [2176, 2208) d (f16); padding.
//
// Q6_K (kPackedQ6_KBlockBytes per group and super-block), codes q + 32 in [0, 64), sub-block sb
// (16 columns) as 4 chunks k of 4 columns (16 sb + 4k + e):
//   [0, 2048)    low 4 bits: per sb 128 bytes, row r's bytes 4r + e: chunk 0 | chunk 1 << 4, then
//                64 bytes on, chunk 2 | chunk 3 << 4;
//   [2048, 3072) high 2 bits: per sb 64 bytes, row r's byte 4r + e holding chunks 0..3 at bits
//                0, 2, 4, 6;
//   [3072, 3328) scales, i8, [sub-block pair p][row][2]; [3328, 3360) d (f16); 32 bytes padding.
//
// Q3_K (kPackedQ3_KBlockBytes), codes q + 4 in [0, 8) (the 2 low bits | the hmask bit << 2),
// chunks as Q6_K's:
//   [0, 1024)    low 2 bits: per sb 64 bytes, row r's byte 4r + e holding chunks 0..3 at bits
//                0, 2, 4, 6;
//   [1024, 1536) high bits: per sub-block pair p 64 bytes, row r's byte 4r + e holding chunk k
//                of sub-block 2p at bit k and of 2p + 1 at bit 4 + k;
//   [1536, 1792) scales - 32, i8, [sub-block pair p][row][2]; [1792, 1824) d (f16); 32 bytes
//                padding (64-byte aligned groups).
// 5.5% more bytes than the GGUF rows.
//
// Q2_K (kPackedQ2_KBlockBytes, the GGUF rows' size), codes in [0, 4):
//   [0, 1024)    codes as Q3_K's low 2 bits;
//   [1024, 1280) scale | min << 4 (the GGUF byte), [sub-block pair p][row][2];
//   [1280, 1312) d (f16); [1312, 1344) dmin (f16).
inline constexpr int64_t kPackedRows = 16;
inline constexpr int64_t kPackedQ8_0BlockBytes = 16 * 4 + 16 * 32;  // scales + codes
inline constexpr int64_t kPackedQ4_KBlockBytes = 2048 + 64 + 128 + 128;
inline constexpr int64_t kPackedQ5_0BlockBytes = 256 + 64 + 32;
inline constexpr int64_t kPackedQ5_1BlockBytes = 256 + 64 + 32 + 32;
inline constexpr int64_t kPackedQ4_1BlockBytes = 256 + 32 + 32;
inline constexpr int64_t kPackedMXFP4BlockBytes = 256 + 32;
inline constexpr int64_t kPackedQ5_KBlockBytes = 2368 + 512;
inline constexpr int64_t kPackedQ6_KBlockBytes = 2048 + 1024 + 256 + 64;
inline constexpr int64_t kPackedIQ4_XSBlockBytes = 2048 + 128 + 64;
inline constexpr int64_t kPackedQ3_KBlockBytes = 1024 + 512 + 256 + 64;
inline constexpr int64_t kPackedQ2_KBlockBytes = 1024 + 256 + 32 + 32;
// Whether MatMul has a packed kernel for type t on this ISA (kBest: the running CPU's), i.e.
// packing pays.
bool PackedSupported(DType t, Isa isa = Isa::kBest);
// Whether a rows x cols matrix of type t can be packed (rows % 16 == 0, cols whole blocks).
bool CanPack(DType t, int64_t rows, int64_t cols);
size_t PackedBytes(DType t, int64_t rows, int64_t cols);
// Writes the packed layout of `src` (rows x cols GGUF rows of type t) to `dst` (PackedBytes).
void PackWeights(DType t, const void* src, int64_t rows, int64_t cols, void* dst);

// y[t][r] = sum_c W[r][c] * x[t][c] for t in [0, n_tokens), r in [0, rows).
// x: n_tokens x cols, y: n_tokens x rows (y may not alias x). Quantized weights quantize the
// activations on the fly (Q8_0 for Q4_0/Q8_0, Q8_K for K-quants) and use integer dot products,
// as llama.cpp does; the scalar variant of each type is the reference for the others.
void MatMul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool,
            Isa isa = Isa::kBest);

// Several matrices applied to the same activations (Q/K/V, gate/up): y_i = x W_i^T. Weights whose
// activation preparation agrees (same cols and quantized-activation format) share one
// quantization of x and one pool wake-up; results are identical to separate MatMul calls.
inline constexpr size_t kMaxMatMulGroup = 4;
void MatMulGroup(std::span<const WeightView> ws, const float* x, int64_t n_tokens,
                 std::span<float* const> ys, ThreadPool* pool, Isa isa = Isa::kBest);

// ---- Elementwise and normalization ops (one row at a time unless noted) ---------------------
// y = x / sqrt(mean(x^2) + eps) * weight; y may alias x.
void RmsNorm(const float* x, const float* weight, float* y, int64_t n, float eps,
             Isa isa = Isa::kBest);
// out = silu(gate) * up; out may alias gate or up.
void SwiGlu(const float* gate, const float* up, float* out, int64_t n, Isa isa = Isa::kBest);
// In-place softmax over n values.
void Softmax(float* x, int64_t n, Isa isa = Isa::kBest);
// The index of the first maximum of x[0, n), n >= 1 (greedy sampling). NaN values are passed
// over, except that a NaN at index 0 is returned (as std::max_element with operator<).
int64_t ArgMax(const float* x, int64_t n, Isa isa = Isa::kBest);
// The largest value of x[0, n), passing over NaN: -inf when n == 0 or every value is NaN. One
// read of x with the widest loads the ISA has (mint perf's read-bandwidth bound streams it).
float MaxValue(const float* x, int64_t n, Isa isa = Isa::kBest);
// y += x
void Add(const float* x, float* y, int64_t n, Isa isa = Isa::kBest);
// dst = src as f32: a copy for F32, a SIMD conversion for F16, DequantizeRow otherwise.
void ConvertToF32(DType t, const void* src, float* dst, int64_t n, Isa isa = Isa::kBest);
// The inverse: QuantizeRow, with a SIMD conversion for F16 (same rounding, bit-identical).
void ConvertFromF32(DType t, const float* src, void* dst, int64_t n, Isa isa = Isa::kBest);

// ---- Rotary position embedding ---------------------------------------------------------------
enum class RopeMode {
  kInterleaved,  // GGUF/llama convention: rotate pairs (x[2i], x[2i+1])
  kNeox,         // qwen2/qwen3 convention: rotate pairs (x[i], x[i + d/2])
};
struct RopeConfig {
  RopeMode mode = RopeMode::kInterleaved;
  int64_t head_dim = 0;     // rotated dimensions (n_rot); must be even and <= head size
  float theta = 10000.0f;   // rope_freq_base
  float freq_scale = 1.0f;  // linear scaling: positions are multiplied by this
  // Llama-3 "rope_freqs": per-pair frequency divisors (head_dim / 2 values), empty = none.
  std::vector<float> freq_factors;
};
// Rotates each of n_heads heads (head stride `head_stride` floats) of one token at `pos`.
void Rope(float* x, int64_t n_heads, int64_t head_stride, int64_t pos, const RopeConfig& cfg,
          Isa isa = Isa::kBest);
// Llama-3.1 rope scaling: computes freq_factors the way the llama3 converter does
// (factor, low_freq_factor, high_freq_factor, original_max_position_embeddings).
std::vector<float> Llama3RopeFreqFactors(int64_t head_dim, float theta, float factor,
                                         float low_freq_factor, float high_freq_factor,
                                         int64_t original_context);

// ---- Attention --------------------------------------------------------------------------------
// Causal grouped-query attention for a batch of consecutive tokens of one sequence.
//   q:   n_tokens x (n_head * head_dim); token i is at absolute position pos0 + i.
//   k,v: the sequence's cache; position p, kv head g starts at k + p * kv_stride + g * head_dim.
//        Positions [0, pos0 + n_tokens) must be filled.
//   out: n_tokens x (n_head * head_dim).
// Query head h uses kv head h / (n_head / n_kv_head). Token i attends to [0, pos0 + i].
struct AttentionShape {
  int64_t n_tokens = 1;
  int64_t pos0 = 0;
  int64_t n_head = 1;
  int64_t n_kv_head = 1;
  int64_t head_dim = 0;
  int64_t kv_stride = 0;  // floats between consecutive positions in k and v
  float scale = 1.0f;     // usually 1/sqrt(head_dim)
};
void Attention(const float* q, const float* k, const float* v, const AttentionShape& shape,
               float* out, ThreadPool* pool, Isa isa = Isa::kBest);

// ---- Paged KV cache and attention over it ----------------------------------------------------
// One layer's keys and values in fixed-size blocks. The row of block b, kv head g, slot s (the
// position within the block) starts at k + b * block_stride + g * head_stride + s * row_bytes (and
// likewise for v): head_dim elements of `type` (F32, F16, BF16 or Q8_0), row_bytes =
// DTypeRowBytes(type, head_dim). Block b holds positions [i * block_size, (i + 1) * block_size)
// of every sequence whose block table has b at index i.
struct PagedKv {
  DType type = DType::kF16;
  uint8_t* k = nullptr;
  uint8_t* v = nullptr;
  int64_t block_size = 16;
  int64_t block_stride = 0;  // bytes
  int64_t head_stride = 0;   // bytes
  int64_t row_bytes = 0;
  uint8_t* Row(uint8_t* base, int32_t block, int64_t head, int64_t slot) const {
    return base + block * block_stride + head * head_stride + slot * row_bytes;
  }
};

// One sequence of a ragged batch: query (and new key/value) rows [row0, row0 + n_tokens) of the
// batch are its positions [pos0, pos0 + n_tokens); block_table covers every position up to
// pos0 + n_tokens - 1.
struct PagedSeq {
  const int32_t* block_table = nullptr;
  int64_t n_tokens = 0;
  int64_t pos0 = 0;
  int64_t row0 = 0;
};

// Stores the new keys and values of every sequence (k, v: batch rows of n_kv_head * head_dim
// floats) into their blocks, converted to the cache type.
void PagedKvStore(const PagedKv& kv, std::span<const PagedSeq> seqs, const float* k, const float* v,
                  int64_t n_kv_head, int64_t head_dim);

// Causal GQA attention of every sequence over its cached positions [0, pos0 + i] (the new rows
// must be stored first). q and out: batch rows of n_head * head_dim floats. Uses shape.n_head,
// n_kv_head, head_dim and scale; the other fields are ignored. Keys are visited block by block,
// so a token's result does not depend on which other sequences or tokens share the batch.
void PagedAttention(const float* q, const PagedKv& kv, std::span<const PagedSeq> seqs,
                    const AttentionShape& shape, float* out, ThreadPool* pool,
                    Isa isa = Isa::kBest);

}  // namespace mint::kernels
