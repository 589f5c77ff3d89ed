#include <cmath>

#include "gguf/gguf.h"
#include "model/arch.h"

namespace mint::model::internal {

Status ReadCommonHparams(const gguf::GgufFile& f, const std::string& arch, ModelConfig* cfg) {
  cfg->arch = arch;
  MINT_ASSIGN_OR_RETURN(cfg->name, f.GetStringOr("general.name", ""));
  MINT_ASSIGN_OR_RETURN(cfg->n_embd, f.GetInt(arch + ".embedding_length"));
  MINT_ASSIGN_OR_RETURN(cfg->n_layer, f.GetInt(arch + ".block_count"));
  MINT_ASSIGN_OR_RETURN(cfg->n_ff, f.GetInt(arch + ".feed_forward_length"));
  MINT_ASSIGN_OR_RETURN(cfg->n_head, f.GetInt(arch + ".attention.head_count"));
  MINT_ASSIGN_OR_RETURN(cfg->n_head_kv, f.GetIntOr(arch + ".attention.head_count_kv", cfg->n_head));
  MINT_ASSIGN_OR_RETURN(cfg->n_ctx_train, f.GetIntOr(arch + ".context_length", 2048));
  MINT_ASSIGN_OR_RETURN(double eps, f.GetFloatOr(arch + ".attention.layer_norm_rms_epsilon", 1e-5));
  cfg->norm_eps = static_cast<float>(eps);
  if (cfg->n_embd <= 0 || cfg->n_layer <= 0 || cfg->n_ff <= 0 || cfg->n_head <= 0 ||
      cfg->n_head_kv <= 0 || cfg->n_ctx_train <= 0) {
    return Status::Corruption("non-positive hyperparameter (embedding, blocks, ffn, heads, ctx)");
  }
  if (cfg->n_layer > 4096 || cfg->n_head > 4096 || cfg->n_embd > (1 << 20)) {
    return Status::Corruption("implausibly large hyperparameter");
  }
  if (cfg->n_head % cfg->n_head_kv != 0) {
    return Status::Corruption("head_count is not a multiple of head_count_kv");
  }
  MINT_ASSIGN_OR_RETURN(cfg->head_dim,
                        f.GetIntOr(arch + ".attention.key_length", cfg->n_embd / cfg->n_head));
  MINT_ASSIGN_OR_RETURN(int64_t v_len, f.GetIntOr(arch + ".attention.value_length", cfg->head_dim));
  if (cfg->head_dim <= 0 || cfg->head_dim % 2 != 0 || v_len != cfg->head_dim) {
    return Status::Unsupported("attention key/value length " + std::to_string(cfg->head_dim) +
                               "/" + std::to_string(v_len));
  }
  MINT_ASSIGN_OR_RETURN(double theta, f.GetFloatOr(arch + ".rope.freq_base", 10000.0));
  MINT_ASSIGN_OR_RETURN(int64_t n_rot, f.GetIntOr(arch + ".rope.dimension_count", cfg->head_dim));
  if (n_rot <= 0 || n_rot > cfg->head_dim || n_rot % 2 != 0) {
    return Status::Corruption("rope.dimension_count " + std::to_string(n_rot) + " invalid");
  }
  cfg->rope.theta = static_cast<float>(theta);
  cfg->rope.head_dim = n_rot;
  MINT_ASSIGN_OR_RETURN(std::string scaling, f.GetStringOr(arch + ".rope.scaling.type", "none"));
  if (scaling == "linear") {
    MINT_ASSIGN_OR_RETURN(double factor, f.GetFloatOr(arch + ".rope.scaling.factor", 1.0));
    if (!(factor > 0)) return Status::Corruption("rope.scaling.factor must be positive");
    cfg->rope.freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none" && scaling != "") {
    return Status::Unsupported("rope scaling type '" + scaling + "'");
  }
  // n_vocab comes from the embedding matrix (BindWeights checks it against the tokenizer size).
  const gguf::TensorInfo* embd = f.FindTensor("token_embd.weight");
  if (embd == nullptr) return Status::NotFound("tensor token_embd.weight");
  if (embd->dims.size() != 2) return Status::Corruption("token_embd.weight is not 2-D");
  cfg->n_vocab = embd->dims[1];
  return Status::Ok();
}

Status Configure(const gguf::GgufFile& f, ModelConfig* cfg) {
  MINT_ASSIGN_OR_RETURN(std::string arch, f.GetString("general.architecture"));
  if (arch == "llama") return ConfigureLlama(f, cfg);
  if (arch == "qwen2") return ConfigureQwen2(f, cfg);
  if (arch == "qwen3") return ConfigureQwen3(f, cfg);
  return Status::Unsupported("architecture '" + arch +
                             "' (supported: llama, qwen2, qwen3)");
}

}  // namespace mint::model::internal
