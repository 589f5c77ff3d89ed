// CPU feature detection, read once at start-up. Kernels dispatch on these at run time.
//
// Thread-safety: Cpu() returns a reference to an immutable object; safe from any thread.
#pragma once

#include <string>

namespace mint {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;

  // AVX2 + FMA + F16C: what the *_avx2.cpp kernels are compiled for.
  bool HasAvx2Tier() const { return avx2 && fma && f16c; }
  // What the *_avx512.cpp kernels are compiled for (F, BW, VL, DQ, VNNI, BF16).
  bool HasAvx512Tier() const {
    return HasAvx2Tier() && avx512f && avx512bw && avx512vl && avx512dq && avx512vnni &&
           avx512bf16;
  }
  std::string ToString() const;
};

// The features of this machine. Setting MINT_CPU=scalar|avx2 in the environment caps them,
// to test a lower tier on a machine that has a higher one.
const CpuFeatures& Cpu();

}  // namespace mint
