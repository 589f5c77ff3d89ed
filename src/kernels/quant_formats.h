// GGUF block layouts, bit-exact with ggml (ggml-common.h), plus Q8_K, the activation format the
// K-quant dot products use.
//
// A row of n elements of a block type is n / kBlockElements consecutive blocks. Halves (ggml_half)
// are stored as raw uint16_t IEEE binary16 bits; all fields are little-endian as on x86.
//
// Thread-safety: plain data.
#pragma once

#include <cstdint>

namespace mint::kernels {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK_K = 256;  // K-quant super-block
inline constexpr int kKScaleBytes = 12;

// y[j] = d * (q[j] - 8); value j < 16 is the low nibble of qs[j], value j + 16 the high nibble.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};

// y[j] = d * qs[j].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};

// 8 sub-blocks of 32: y = d * sc[j] * q - dmin * m[j] with 6-bit sc/m packed in `scales`
// (see UnpackQ4KScales), 4-bit q. Chunk c (64 values) lives in qs[32c, 32c + 32): values
// 64c + l are low nibbles, 64c + 32 + l high nibbles.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};

// 16 sub-blocks of 16: y = d * scales[j] * (q - 32), q 6-bit: low 4 bits in ql, high 2 in qh.
// Each half (128 values) uses 64 bytes of ql, 32 of qh and 8 scales; for l in [0, 32):
//   value l      = ql[l]      & 15 | (qh[l] >> 0 & 3) << 4
//   value l + 32 = ql[l + 32] & 15 | (qh[l] >> 2 & 3) << 4
//   value l + 64 = ql[l]      >> 4 | (qh[l] >> 4 & 3) << 4
//   value l + 96 = ql[l + 32] >> 4 | (qh[l] >> 6 & 3) << 4
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// Activations for K-quant dot products: y[j] = d * qs[j]; bsums[g] = sum of qs[16g, 16g + 16).
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

// y[j] = d * q[j] + m, q 4-bit (nibbles as Q4_0).
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};

// y[j] = d * (q[j] - 16), q 5-bit: low 4 bits as Q4_0's nibbles, bit 4 of value j is bit j of qh
// (little-endian 32 bits).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};

// y[j] = d * q[j] + m, q 5-bit as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// 16 sub-blocks of 16: y = d * (scales[g] & 15) * q - dmin * (scales[g] >> 4), q 2-bit. Each
// half (128 values) uses 32 bytes of qs: value 32k + l (k in [0, 4), l in [0, 32)) is bits
// 2k..2k+1 of qs[l].
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};

// 16 sub-blocks of 16: y = d * (sc[g] - 32) * (q - (hmask bit ? 0 : 4)), q 2-bit laid out as
// Q2_K's, the high bit of value v in bit v / 32 of hmask[v % 32]; 6-bit sc packed in `scales`
// (UnpackQ3KScales).
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};

// As Q4_K with a fifth bit: value 64c + l takes bit 2c of qh[l], value 64c + 32 + l bit 2c + 1.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// y[j] = d * kIq4NlValues[q[j]], q 4-bit (nibbles as Q4_0).
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[16];
};

// 8 sub-blocks of 32: y = d * (ls - 32) * kIq4NlValues[q], ls 6-bit: low 4 bits in nibble
// (g % 2) of scales_l[g / 2], high 2 bits at bit 2g of scales_h; each sub-block's 16 bytes of qs
// as an IQ4_NL block's.
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};

// OCP microscaling FP4: y[j] = kMxfp4Values[q[j]] * 2^(e - 128) (the table holds E2M1 values
// doubled), q 4-bit (nibbles as Q4_0), e an E8M0 exponent.
struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[16];
};

inline constexpr int8_t kIq4NlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};
// The same values + 128, as unsigned bytes: the weight operand of a VNNI (u8 x s8) dot product,
// the +128 removed through the activations' sums.
inline constexpr uint8_t kIq4NlValuesU8[16] = {1,   24,  45,  63,  79,  93,  106, 118,
                                               129, 141, 153, 166, 181, 197, 217, 241};
static_assert([] {
  for (int i = 0; i < 16; ++i) {
    if (kIq4NlValuesU8[i] != kIq4NlValues[i] + 128) return false;
  }
  return true;
}());
inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
// The bits of an MXFP4 block's scale as an f32, ggml_e8m0_to_fp32_half: 2^(e - 128), subnormal
// for e < 2. The low 16 bits are always zero (the scale is exact as a bf16).
inline constexpr uint32_t E8M0HalfBits(uint8_t e) {
  return e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
}
// The same values + 12, as unsigned bytes (0..24): the weight operand of u8 x s8 dot products,
// small enough for 16-bit pair sums, the +12 removed through the activations' sums.
inline constexpr int32_t kMxfp4Offset = 12;
inline constexpr uint8_t kMxfp4ValuesU8[16] = {12, 13, 14, 15, 16, 18, 20, 24,
                                               12, 11, 10, 9,  8,  6,  4,  0};
static_assert([] {
  for (int i = 0; i < 16; ++i) {
    if (kMxfp4ValuesU8[i] != kMxfp4Values[i] + kMxfp4Offset) return false;
  }
  return true;
}());

static_assert(sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24 &&
                  sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 &&
                  sizeof(BlockQ5_K) == 176 && sizeof(BlockIQ4_NL) == 18 &&
                  sizeof(BlockIQ4_XS) == 136 && sizeof(BlockMXFP4) == 17,
              "block sizes as ggml-common.h defines them");

static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block is 18 bytes per 32 values");
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block is 34 bytes per 32 values");
static_assert(sizeof(BlockQ4_K) == 144, "Q4_K block is 144 bytes per 256 values");
static_assert(sizeof(BlockQ6_K) == 210, "Q6_K block is 210 bytes per 256 values");
static_assert(sizeof(BlockQ8_K) == 292, "Q8_K block is 292 bytes per 256 values");
static_assert(alignof(BlockQ4_0) == 2 && alignof(BlockQ8_0) == 2 && alignof(BlockQ4_K) == 2 &&
                  alignof(BlockQ6_K) == 2,
              "weight blocks must pack with no padding between them");

// The 6-bit scale sc[j] and min m[j] of sub-block j in [0, 8) of a Q4_K block (ggml's
// get_scale_min_k4): j < 4 live in the low 6 bits of bytes j and j + 4; j >= 4 take their low
// 4 bits from byte j + 4 and their high 2 bits from the top bits of bytes j - 4 and j.
inline void UnpackQ4KScale(const uint8_t* s, int j, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// The 16 six-bit scales of a Q3_K block, minus 32 (ggml's kmask shuffle, unrolled): scale i
// takes its low 4 bits from nibble i / 8 of scales[i % 8] and its top 2 bits from bits
// 2 (i / 4) of scales[8 + i % 4].
inline void UnpackQ3KScales(const uint8_t* s, int* out) {
  for (int i = 0; i < 16; ++i) {
    const int low = (s[i % 8] >> (4 * (i / 8))) & 0xF;
    const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    out[i] = (low | high << 4) - 32;
  }
}

}  // namespace mint::kernels
