// qwen3: Qwen3 dense. Per-head RMSNorm of Q and K before RoPE, no QKV bias, NeoX-style RoPE,
// head size from attention.key_length (128 even where n_embd / n_head differs).
#include "gguf/gguf.h"
#include "model/arch.h"

namespace mint::model::internal {

Status ConfigureQwen3(const gguf::GgufFile& f, ModelConfig* cfg) {
  MINT_RETURN_IF_ERROR(ReadCommonHparams(f, "qwen3", cfg));
  cfg->rope.mode = kernels::RopeMode::kNeox;
  cfg->qk_norm = true;
  return Status::Ok();
}

}  // namespace mint::model::internal
