// Synthetic models: seeded random weights in real architectures' shapes, written as GGUF with a
// real vocabulary, so every engine test and benchmark runs without downloads and llama.cpp can
// load the same files. Weights' values do not change speed, only shapes and types do.
//
// Thread-safety: functions are reentrant; they use an internal thread pool for quantization.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace mint::model {

// Weight type mix of a synthetic file, named as llama.cpp names file types.
// Single types, and llama-quantize's mixes (K_M: Q6_K for the output and for attn_v / ffn_down
// of the layers its use_more_bits() picks; IQ4_XS: Q6_K output, Q5_K attn_v at GQA >= 4 and
// Q5_K ffn_down in the first eighth of layers), each with its fallbacks for rows that the type's
// blocks do not divide.
enum class SynthFileType {
  kF32, kF16, kBF16, kQ8_0, kQ4_0, kQ4_K, kQ6_K, kQ4_K_M, kQ4_1, kQ5_0, kQ5_1,
  kQ5_K, kQ5_K_M, kIQ4_NL, kIQ4_XS
};
Result<SynthFileType> ParseSynthFileType(const std::string& name);  // "f32", "q4_k_m", ...
const char* SynthFileTypeName(SynthFileType t);

struct SynthOptions {
  std::string preset = "tiny";  // see SynthPresets()
  SynthFileType type = SynthFileType::kF32;
  uint64_t seed = 1;
  // Vocabulary source: a GGUF (its tokenizer.* keys are copied) or a Hugging Face tokenizer.json.
  // "builtin" = a self-contained 512-token SentencePiece vocabulary (no files needed).
  // Empty = the preset's default under shared_dir.
  std::string vocab;
  std::string shared_dir = "../shared";
  int64_t n_layer = 0;  // > 0 overrides the preset's layer count
};

struct SynthPresetInfo {
  std::string name, arch, description;
};
std::vector<SynthPresetInfo> SynthPresets();

// Writes a synthetic model to `path`. Errors: unknown preset, missing vocabulary file, I/O.
Status WriteSynthModel(const SynthOptions& options, const std::string& path);

// Copies a GGUF file with every tensor dequantized to F32 (same metadata): the reference that
// quantized models' logits are compared with.
Status DequantizeModelFile(const std::string& in_path, const std::string& out_path);

}  // namespace mint::model
