#include "core/cpu.h"
#include "kernels/kernels.h"

namespace mint::kernels {

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kBest: return "best";
  }
  return "unknown";
}

Isa BestIsa() {
  static const Isa best = [] {
    if (Cpu().HasAvx512Tier()) return Isa::kAvx512;
    if (Cpu().HasAvx2Tier()) return Isa::kAvx2;
    return Isa::kScalar;
  }();
  return best;
}

std::vector<Isa> AvailableIsas() {
  std::vector<Isa> out = {Isa::kScalar};
  if (Cpu().HasAvx2Tier()) out.push_back(Isa::kAvx2);
  if (Cpu().HasAvx512Tier()) out.push_back(Isa::kAvx512);
  return out;
}

}  // namespace mint::kernels
