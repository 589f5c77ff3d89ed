#include "core/dtype.h"

namespace mint {

bool IsSupportedDType(uint32_t id) {
  switch (id) {
    case 0: case 1: case 2: case 3: case 6: case 7: case 8: case 10: case 11: case 12:
    case 13: case 14: case 20: case 23: case 30: case 39: return true;
    default: return false;
  }
}

const char* DTypeName(DType t) {
  if (!IsSupportedDType(static_cast<uint32_t>(t))) return "unknown";
  return GgmlTypeName(static_cast<uint32_t>(t));
}

const char* GgmlTypeName(uint32_t id) {
  static const char* const kNames[] = {
      "F32",  "F16",    "Q4_0",    "Q4_1",   "Q4_2", "Q4_3",  "Q5_0",    "Q5_1",
      "Q8_0", "Q8_1",   "Q2_K",    "Q3_K",   "Q4_K", "Q5_K",  "Q6_K",    "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
      "I8",   "I16",    "I32",     "I64",    "F64",  "IQ1_M", "BF16",   "Q4_0_4_4",
      "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8",
      "MXFP4"};
  if (id < sizeof(kNames) / sizeof(kNames[0])) return kNames[id];
  return "unknown-type";
}

int64_t DTypeBlockElements(DType t) {
  switch (t) {
    case DType::kF32: case DType::kF16: case DType::kBF16: return 1;
    case DType::kQ4_0: case DType::kQ4_1: case DType::kQ5_0: case DType::kQ5_1:
    case DType::kQ8_0: case DType::kIQ4_NL: case DType::kMXFP4: return 32;
    case DType::kQ2_K: case DType::kQ3_K: case DType::kQ4_K: case DType::kQ5_K:
    case DType::kQ6_K: case DType::kIQ4_XS: return 256;
  }
  return 1;
}

int64_t DTypeBlockBytes(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: case DType::kBF16: return 2;
    case DType::kQ4_0: return 18;       // f16 d + 16 bytes of nibbles
    case DType::kQ8_0: return 34;       // f16 d + 32 int8
    case DType::kQ4_K: return 144;      // f16 d, f16 dmin, 12 bytes scales, 128 bytes nibbles
    case DType::kQ6_K: return 210;      // 128 ql + 64 qh + 16 int8 scales + f16 d
    case DType::kQ4_1: return 20;       // f16 d, f16 m + 16 bytes of nibbles
    case DType::kQ5_0: return 22;       // f16 d + 4 bytes of fifth bits + 16 bytes of nibbles
    case DType::kQ5_1: return 24;       // f16 d, f16 m + 4 + 16
    case DType::kIQ4_NL: return 18;     // f16 d + 16 bytes of table indices
    case DType::kMXFP4: return 17;      // E8M0 exponent + 16 bytes of FP4 (E2M1) codes
    case DType::kQ2_K: return 84;       // 16 scale/min bytes + 64 bytes of 2-bit codes + d, dmin
    case DType::kQ3_K: return 110;      // 32 bytes high bits + 64 of 2-bit codes + 12 scales + d
    case DType::kQ5_K: return 176;      // d, dmin, 12 bytes scales, 32 high bits, 128 nibbles
    case DType::kIQ4_XS: return 136;    // d, u16 high scale bits, 4 low scale bytes, 128 indices
  }
  return 0;
}

int64_t DTypeRowBytes(DType t, int64_t n) {
  return n / DTypeBlockElements(t) * DTypeBlockBytes(t);
}

}  // namespace mint
