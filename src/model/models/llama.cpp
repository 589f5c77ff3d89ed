// llama: Llama 2 / 3.x, TinyLlama, SmolLM2, Mistral (dense). RoPE over adjacent pairs (GGUF
// convention: the converter permutes Q/K rows so that this matches HF's rotate-half), optional
// Llama-3 frequency factors in the tensor rope_freqs.weight.
#include "gguf/gguf.h"
#include "model/arch.h"

namespace mint::model::internal {

Status ConfigureLlama(const gguf::GgufFile& f, ModelConfig* cfg) {
  MINT_RETURN_IF_ERROR(ReadCommonHparams(f, "llama", cfg));
  cfg->rope.mode = kernels::RopeMode::kInterleaved;
  return Status::Ok();
}

}  // namespace mint::model::internal
