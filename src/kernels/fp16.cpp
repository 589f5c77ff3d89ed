// Scalar IEEE binary16 and bfloat16 conversions, exact and round-to-nearest-even.
//
// These are the reference the SIMD conversions (F16C vcvtph2ps/vcvtps2ph, AVX-512 BF16) agree
// with bit for bit; they are written with integer arithmetic so they give the same answer on any
// x86-64 whatever the floating-point environment.

#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"

namespace mint::kernels {
namespace {

uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// value >> shift rounded to nearest, ties to even; shift in [1, 31].
uint32_t ShiftRoundEven(uint32_t value, int shift) {
  const uint32_t kept = value >> shift;
  const uint32_t rest = value & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  return kept + ((rest > half || (rest == half && (kept & 1))) ? 1 : 0);
}

}  // namespace

float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  if (exp == 0x1F) return BitsFloat(sign | 0x7F800000u | (mant << 13));  // inf / NaN
  if (exp != 0) return BitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
  // Zero or subnormal: mant * 2^-24 is exact in f32.
  const float magnitude = static_cast<float>(mant) * (1.0f / 16777216.0f);
  return BitsFloat(sign | FloatBits(magnitude));
}

uint16_t F32ToF16(float f) {
  const uint32_t x = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) {  // NaN: keep the top payload bits, force quiet
    return static_cast<uint16_t>(sign | 0x7E00 | ((abs >> 13) & 0x3FF));
  }
  // 65520 = halfway between 65504 (largest half) and 65536; ties go to even, i.e. up to inf.
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00);
  if (abs < 0x38800000u) {  // below 2^-14: a half subnormal (or zero, or the smallest normal)
    const int e = static_cast<int>(abs >> 23);
    if (e < 102) return sign;  // below 2^-25: rounds to zero
    const uint32_t m = (abs & 0x7FFFFFu) | 0x800000u;
    // The subnormal mantissa is value * 2^24 = m * 2^(e - 126).
    return static_cast<uint16_t>(sign | ShiftRoundEven(m, 126 - e));
  }
  // Normal: rebias the exponent, round the 13 dropped mantissa bits; a carry ripples into the
  // exponent, which is correct (and cannot pass inf thanks to the check above).
  const uint32_t h = ((abs >> 23) - 112) << 10 | ((abs >> 13) & 0x3FF);
  const uint32_t rest = abs & 0x1FFF;
  const uint32_t rounded = h + ((rest > 0x1000 || (rest == 0x1000 && (h & 1))) ? 1 : 0);
  return static_cast<uint16_t>(sign | rounded);
}

float BF16ToF32(uint16_t h) { return BitsFloat(static_cast<uint32_t>(h) << 16); }

uint16_t F32ToBF16(float f) {
  const uint32_t x = FloatBits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1)) >> 16);
}

}  // namespace mint::kernels
