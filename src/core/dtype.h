// Element types of weights and activations, numbered as ggml_type so GGUF ids map 1:1.
// Block layouts (bit-exact, as GGUF defines them) live in kernels/quant_formats.h.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

namespace mint {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kIQ4_NL = 20,
  kIQ4_XS = 23,
  kBF16 = 30,
  kMXFP4 = 39,
};

// True for the ids above; every other ggml type id is unsupported by Mint.
bool IsSupportedDType(uint32_t id);
// "F32", "Q4_K", ...; "unknown" for unsupported ids.
const char* DTypeName(DType t);
// Name for any ggml type id, supported or not ("Q5_1", "IQ2_XXS", ... or "type <id>").
const char* GgmlTypeName(uint32_t id);
// Elements per block (1 for float types).
int64_t DTypeBlockElements(DType t);
// Bytes per block.
int64_t DTypeBlockBytes(DType t);
// Bytes of a row of n elements. Precondition: n % DTypeBlockElements(t) == 0.
int64_t DTypeRowBytes(DType t, int64_t n);

}  // namespace mint
