// qwen2: Qwen2 / Qwen2.5 dense. Biases on Q, K and V; NeoX-style RoPE (rotate-half pairs).
#include "gguf/gguf.h"
#include "model/arch.h"

namespace mint::model::internal {

Status ConfigureQwen2(const gguf::GgufFile& f, ModelConfig* cfg) {
  MINT_RETURN_IF_ERROR(ReadCommonHparams(f, "qwen2", cfg));
  cfg->rope.mode = kernels::RopeMode::kNeox;
  cfg->qkv_bias = true;
  return Status::Ok();
}

}  // namespace mint::model::internal
