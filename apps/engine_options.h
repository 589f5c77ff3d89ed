// Command-line options of the serving engine, shared by every subcommand that runs one
// (`mint run --parallel`, later `mint serve` and `mint worker`).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "core/status.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace mint::apps {

struct EngineArgs {
  std::string kv_cache_type = "f16";
  std::string kv_cache_memory;  // bytes with an optional K/M/G suffix; empty = fraction
  double kv_cache_fraction = 0.25;
  int32_t block_size = 16;
  int32_t max_num_seqs = 64;
  int32_t max_num_batched_tokens = 512;
  int64_t max_model_len = 0;
  bool no_prefix_cache = false;
};

void AddEngineOptions(CLI::App* cmd, EngineArgs* a);
// Validates the flags and fills an EngineConfig (threads are set by the caller).
Result<engine::EngineConfig> MakeEngineConfig(const EngineArgs& a);
// Constrained decoding (response_format, guided_*, forced tool calls) for engines of this
// tokenizer: a grammar processor factory over a compiled-grammar cache on its vocabulary.
engine::LogitsProcessorFactory GrammarFactory(const tokenizer::Tokenizer& tok, int64_t n_vocab);
// "512M", "2G", "1048576" -> bytes.
Result<int64_t> ParseByteSize(const std::string& text);

}  // namespace mint::apps
