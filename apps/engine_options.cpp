#include "apps/engine_options.h"

#include <cctype>

#include "grammar/logits.h"
#include "model/kv_arena.h"

namespace mint::apps {

void AddEngineOptions(CLI::App* cmd, EngineArgs* a) {
  cmd->add_option("--kv-cache-type", a->kv_cache_type, "KV cache element type: f16, f32, bf16, q8_0")
      ->capture_default_str();
  cmd->add_option("--kv-cache-memory", a->kv_cache_memory,
                  "KV cache size in bytes (suffix K, M or G), e.g. 2G; default: a fraction of "
                  "available memory (--kv-cache-fraction)");
  cmd->add_option("--kv-cache-fraction", a->kv_cache_fraction,
                  "Fraction of available memory for the KV cache when --kv-cache-memory is not "
                  "given (capped at what max-num-seqs full-length sequences need)")
      ->capture_default_str();
  cmd->add_option("--block-size", a->block_size, "Tokens per KV block")->capture_default_str();
  cmd->add_option("--max-num-seqs", a->max_num_seqs, "Sequences running at once")
      ->capture_default_str();
  cmd->add_option("--max-num-batched-tokens", a->max_num_batched_tokens,
                  "Tokens per engine step (decodes plus prefill chunks)")
      ->capture_default_str();
  cmd->add_option("--max-model-len", a->max_model_len,
                  "Longest sequence (prompt + output); 0 = the model's trained context")
      ->capture_default_str();
  cmd->add_flag("--no-prefix-cache", a->no_prefix_cache, "Do not reuse cached prompt prefixes");
}

Result<int64_t> ParseByteSize(const std::string& text) {
  size_t pos = 0;
  double value = 0;
  try {
    value = std::stod(text, &pos);
  } catch (...) {
    return Status::InvalidArgument("size '" + text + "' is not a number");
  }
  std::string suffix = text.substr(pos);
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!suffix.empty() && suffix.back() == 'B') suffix.pop_back();
  if (!suffix.empty() && suffix.back() == 'I') suffix.pop_back();
  double mult = 1;
  if (suffix == "K") mult = 1024.0;
  else if (suffix == "M") mult = 1024.0 * 1024;
  else if (suffix == "G") mult = 1024.0 * 1024 * 1024;
  else if (!suffix.empty()) return Status::InvalidArgument("size '" + text + "': unknown suffix");
  if (value <= 0) return Status::InvalidArgument("size '" + text + "' must be positive");
  return static_cast<int64_t>(value * mult);
}

engine::LogitsProcessorFactory GrammarFactory(const tokenizer::Tokenizer& tok, int64_t n_vocab) {
  return grammar::GrammarProcessorFactory(
      std::make_shared<grammar::GrammarCache>(grammar::VocabularyFromTokenizer(tok, n_vocab)));
}

Result<engine::EngineConfig> MakeEngineConfig(const EngineArgs& a) {
  engine::EngineConfig c;
  MINT_ASSIGN_OR_RETURN(c.kv_cache_type, model::ParseKvCacheType(a.kv_cache_type));
  if (!a.kv_cache_memory.empty()) {
    MINT_ASSIGN_OR_RETURN(c.kv_cache_bytes, ParseByteSize(a.kv_cache_memory));
  }
  c.kv_cache_memory_fraction = a.kv_cache_fraction;
  c.block_size = a.block_size;
  c.enable_prefix_cache = !a.no_prefix_cache;
  c.scheduler.max_num_seqs = a.max_num_seqs;
  c.scheduler.max_num_batched_tokens = a.max_num_batched_tokens;
  c.scheduler.max_model_len = a.max_model_len;
  MINT_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace mint::apps
