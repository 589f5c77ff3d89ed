// Internal: the architecture registry. Each src/model/models/<arch>.cpp defines one Configure
// function that reads that architecture's hyperparameters and sets its forward-pass flags.
#pragma once

#include <string>

#include "core/status.h"
#include "model/model.h"

namespace mint::model::internal {

// Reads the keys every Llama-family architecture shares ("<arch>.block_count", ...).
Status ReadCommonHparams(const gguf::GgufFile& file, const std::string& arch, ModelConfig* cfg);

Status ConfigureLlama(const gguf::GgufFile& file, ModelConfig* cfg);
Status ConfigureQwen2(const gguf::GgufFile& file, ModelConfig* cfg);
Status ConfigureQwen3(const gguf::GgufFile& file, ModelConfig* cfg);

// Dispatches on general.architecture; kUnsupported naming the architecture if unknown.
Status Configure(const gguf::GgufFile& file, ModelConfig* cfg);

// Binds every tensor the config needs, checking names, shapes and types.
Status BindWeights(const gguf::GgufFile& file, const ModelConfig& cfg, ModelWeights* w);

}  // namespace mint::model::internal
