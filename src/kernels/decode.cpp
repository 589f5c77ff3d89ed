// Decoding of Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K, IQ4_NL, IQ4_XS and MXFP4 blocks into groups of
// 16 (v, scale, offset); see decode.h. Each decoder follows ggml's dequantize_row_* step for
// step: the scale and offset are the very float expressions ggml multiplies by, so
// scale * v + offset reproduces its values bit for bit (a - b and a + (-b) are the same IEEE
// operation, so ggml's "- m" is stored as offset -m).

#include "kernels/decode.h"

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/quant_formats.h"

namespace mint::kernels {
namespace {

// Out-pointers for one block: values, then one scale (and offset) per group of 16.
struct Out {
  int8_t* v;
  float* scale;
  float* offset;
};

// The 4-bit codes of a 32-value block: value j < 16 is the low nibble of qs[j], j + 16 the high.
template <class Map>
void Nibbles(const uint8_t* qs, int8_t* v, Map map) {
  for (int j = 0; j < 16; ++j) {
    v[j] = static_cast<int8_t>(map(qs[j] & 0xF, j));
    v[j + 16] = static_cast<int8_t>(map(qs[j] >> 4, j + 16));
  }
}

void Fill(float* p, int n, float x) { std::fill(p, p + n, x); }

void DecodeQ4_1(const BlockQ4_1& b, Out o) {
  Nibbles(b.qs, o.v, [](int q, int) { return q; });
  Fill(o.scale, 2, F16ToF32(b.d));
  Fill(o.offset, 2, F16ToF32(b.m));
}

uint32_t HighBits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, sizeof(h));
  return h;
}

void DecodeQ5_0(const BlockQ5_0& b, Out o) {
  const uint32_t qh = HighBits(b.qh);
  Nibbles(b.qs, o.v, [qh](int q, int j) { return (q | ((qh >> j) & 1) << 4) - 16; });
  Fill(o.scale, 2, F16ToF32(b.d));
}

void DecodeQ5_1(const BlockQ5_1& b, Out o) {
  const uint32_t qh = HighBits(b.qh);
  Nibbles(b.qs, o.v, [qh](int q, int j) { return q | ((qh >> j) & 1) << 4; });
  Fill(o.scale, 2, F16ToF32(b.d));
  Fill(o.offset, 2, F16ToF32(b.m));
}

void DecodeIQ4_NL(const BlockIQ4_NL& b, Out o) {
  Nibbles(b.qs, o.v, [](int q, int) { return kIq4NlValues[q]; });
  Fill(o.scale, 2, F16ToF32(b.d));
}

float E8M0Half(uint8_t e) {
  const uint32_t bits = E8M0HalfBits(e);
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

void DecodeMXFP4(const BlockMXFP4& b, Out o) {
  Nibbles(b.qs, o.v, [](int q, int) { return kMxfp4Values[q]; });
  Fill(o.scale, 2, E8M0Half(b.e));
}

// Q2_K and Q3_K share the 2-bit layout: group g (16 values) of half h = g / 8 reads bits
// 2 * (g % 8 / 2) of qs[32 h + 16 (g % 2) + l].
int TwoBits(const uint8_t* qs, int g, int l) {
  return (qs[32 * (g / 8) + 16 * (g % 2) + l] >> (2 * (g % 8 / 2))) & 3;
}

void DecodeQ2_K(const BlockQ2_K& b, Out o) {
  const float d = F16ToF32(b.d), dmin = F16ToF32(b.dmin);
  for (int g = 0; g < 16; ++g) {
    const uint8_t sc = b.scales[g];
    o.scale[g] = d * static_cast<float>(sc & 0xF);
    o.offset[g] = -(dmin * static_cast<float>(sc >> 4));
    for (int l = 0; l < 16; ++l) o.v[16 * g + l] = static_cast<int8_t>(TwoBits(b.qs, g, l));
  }
}

void DecodeQ3_K(const BlockQ3_K& b, Out o) {
  const float d = F16ToF32(b.d);
  int sc[16];
  UnpackQ3KScales(b.scales, sc);
  for (int g = 0; g < 16; ++g) {
    o.scale[g] = d * static_cast<float>(sc[g]);
    // The high bit of group g's values is bit g / 2 of hmask[16 (g % 2) + l].
    const int bit = g / 2;
    for (int l = 0; l < 16; ++l) {
      const bool high = (b.hmask[16 * (g % 2) + l] >> bit) & 1;
      o.v[16 * g + l] = static_cast<int8_t>(TwoBits(b.qs, g, l) - (high ? 0 : 4));
    }
  }
}

void DecodeQ5_K(const BlockQ5_K& b, Out o) {
  const float d = F16ToF32(b.d), dmin = F16ToF32(b.dmin);
  for (int j = 0; j < 8; ++j) {  // sub-blocks of 32
    uint8_t sc, m;
    UnpackQ4KScale(b.scales, j, &sc, &m);
    const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
    Fill(o.scale + 2 * j, 2, dl);
    Fill(o.offset + 2 * j, 2, -ml);
    const int chunk = j / 2, shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) {
      const int low = (b.qs[32 * chunk + l] >> shift) & 0xF;
      const int high = (b.qh[l] >> j) & 1;
      o.v[32 * j + l] = static_cast<int8_t>(low | high << 4);
    }
  }
}

void DecodeIQ4_XS(const BlockIQ4_XS& b, Out o) {
  const float d = F16ToF32(b.d);
  for (int ib = 0; ib < 8; ++ib) {
    const int ls =
        ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
    Fill(o.scale + 2 * ib, 2, d * static_cast<float>(ls - 32));
    Nibbles(b.qs + 16 * ib, o.v + 32 * ib, [](int q, int) { return kIq4NlValues[q]; });
  }
}

template <class Block, int64_t kElems, void (*kDecode)(const Block&, Out)>
void DecodeBlocks(const void* src, int64_t n, int8_t* v, float* scale, float* offset) {
  constexpr int64_t kGroups = kElems / kDecodeGroup;
  const auto* b = static_cast<const Block*>(src);
  float unused[kGroups];
  for (int64_t i = 0; i < n / kElems; ++i) {
    kDecode(b[i], Out{v + i * kElems, scale + i * kGroups,
                      offset != nullptr ? offset + i * kGroups : unused});
  }
}

}  // namespace

bool IsDecodedType(DType t) {
  switch (t) {
    case DType::kQ4_1: case DType::kQ5_0: case DType::kQ5_1: case DType::kQ2_K:
    case DType::kQ3_K: case DType::kQ5_K: case DType::kIQ4_NL: case DType::kIQ4_XS:
    case DType::kMXFP4:
      return true;
    default:
      return false;
  }
}

bool DecodedHasOffset(DType t) {
  return t == DType::kQ4_1 || t == DType::kQ5_1 || t == DType::kQ2_K || t == DType::kQ5_K;
}

void DecodeRow(DType t, const void* src, int64_t n, int8_t* v, float* scale, float* offset) {
  switch (t) {
    case DType::kQ4_1: return DecodeBlocks<BlockQ4_1, 32, DecodeQ4_1>(src, n, v, scale, offset);
    case DType::kQ5_0: return DecodeBlocks<BlockQ5_0, 32, DecodeQ5_0>(src, n, v, scale, offset);
    case DType::kQ5_1: return DecodeBlocks<BlockQ5_1, 32, DecodeQ5_1>(src, n, v, scale, offset);
    case DType::kQ2_K: return DecodeBlocks<BlockQ2_K, kQK_K, DecodeQ2_K>(src, n, v, scale, offset);
    case DType::kQ3_K: return DecodeBlocks<BlockQ3_K, kQK_K, DecodeQ3_K>(src, n, v, scale, offset);
    case DType::kQ5_K: return DecodeBlocks<BlockQ5_K, kQK_K, DecodeQ5_K>(src, n, v, scale, offset);
    case DType::kIQ4_NL: return DecodeBlocks<BlockIQ4_NL, 32, DecodeIQ4_NL>(src, n, v, scale, offset);
    case DType::kIQ4_XS: return DecodeBlocks<BlockIQ4_XS, kQK_K, DecodeIQ4_XS>(src, n, v, scale, offset);
    case DType::kMXFP4: return DecodeBlocks<BlockMXFP4, 32, DecodeMXFP4>(src, n, v, scale, offset);
    default: return;
  }
}

void DequantizeDecodedRow(DType t, const void* src, float* y, int64_t n) {
  const int64_t elems = DTypeBlockElements(t), bytes = DTypeBlockBytes(t);
  const bool has_offset = DecodedHasOffset(t);
  int8_t v[kQK_K];
  float scale[kQK_K / kDecodeGroup], offset[kQK_K / kDecodeGroup];
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; i += elems, p += bytes, y += elems) {
    DecodeRow(t, p, elems, v, scale, offset);
    for (int64_t j = 0; j < elems; ++j) {
      const float s = scale[j / kDecodeGroup];
      y[j] = has_offset ? static_cast<float>(v[j]) * s + offset[j / kDecodeGroup]
                        : static_cast<float>(v[j]) * s;
    }
  }
}

}  // namespace mint::kernels
