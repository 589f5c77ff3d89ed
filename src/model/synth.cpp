// Synthetic GGUF models (see synth.h). Presets mirror real models' shapes; the mixes follow
// llama-quantize's per-tensor choices (llama_tensor_get_type, no importance matrix), including
// its fallbacks for rows that are not whole 256-value blocks.
#include "model/synth.h"

#include <cmath>
#include <cstring>
#include <map>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/synth_vocab.h"

namespace mint::model {
namespace {

struct Preset {
  const char* name;
  const char* arch;
  const char* description;
  int64_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx;
  float theta, eps;
  bool tied;
  const char* vocab;     // relative to shared_dir
  const char* bpe_pre;   // pre-tokenizer name when the vocabulary comes from tokenizer.json
  int64_t n_vocab;       // embedding rows; 0 = vocabulary size
  bool llama3_rope;      // Llama-3.1 rope scaling (factor 32, low 1, high 4, original 8192)
};

constexpr Preset kPresets[] = {
    {"tiny", "llama", "2-layer llama, embd 256 (every type fits), stories260K vocab", 256, 2, 4, 2,
     64, 768, 2048, 10000.0f, 1e-5f, false, "models/stories260K.gguf", "", 0, false},
    {"tiny-qwen2", "qwen2", "2-layer qwen2 (QKV bias), embd 256, stories260K vocab", 256, 2, 4, 2,
     64, 768, 2048, 1000000.0f, 1e-6f, true, "models/stories260K.gguf", "", 0, false},
    {"tiny-qwen3", "qwen3", "2-layer qwen3 (QK-norm, head 128), embd 256, stories260K vocab",
     256, 2, 4, 2, 128, 768, 2048, 1000000.0f, 1e-6f, true, "models/stories260K.gguf", "", 0,
     false},
    {"tiny-288", "llama",
     "2-layer llama, embd 288 (rows of 288 are not whole K-quant blocks, as in many small "
     "models: K-quant files fall back to Q5_0 / Q8_0 there), stories260K vocab",
     288, 2, 6, 2, 48, 768, 2048, 10000.0f, 1e-5f, false, "models/stories260K.gguf", "", 0,
     false},
    {"smollm2-135m", "llama", "SmolLM2-135M shapes: 30 layers, embd 576, 9/3 heads, tied",
     576, 30, 9, 3, 64, 1536, 8192, 100000.0f, 1e-5f, true,
     "tokenizers/llama-cpp-vocab/ggml-vocab-starcoder.gguf", "", 0, false},
    {"qwen2.5-0.5b", "qwen2", "Qwen2.5-0.5B shapes: 24 layers, embd 896, 14/2 heads, tied",
     896, 24, 14, 2, 64, 4864, 32768, 1000000.0f, 1e-6f, true,
     "tokenizers/qwen3/tokenizer.json", "qwen2", 151936, false},
    {"llama-3.2-1b", "llama", "Llama-3.2-1B shapes: 16 layers, embd 2048, 32/8 heads, tied",
     2048, 16, 32, 8, 64, 8192, 131072, 500000.0f, 1e-5f, true,
     "tokenizers/llama3/tokenizer.json", "llama-bpe", 128256, true},
    {"llama-3.2-3b", "llama", "Llama-3.2-3B shapes: 28 layers, embd 3072, 24/8 heads x 128, tied",
     3072, 28, 24, 8, 128, 8192, 131072, 500000.0f, 1e-5f, true,
     "tokenizers/llama3/tokenizer.json", "llama-bpe", 128256, true},
    {"llama-3.1-8b", "llama", "Llama-3.1-8B shapes: 32 layers, embd 4096, 32/8 heads x 128",
     4096, 32, 32, 8, 128, 14336, 131072, 500000.0f, 1e-5f, false,
     "tokenizers/llama3/tokenizer.json", "llama-bpe", 128256, true},
    {"qwen2.5-7b", "qwen2", "Qwen2.5-7B shapes: 28 layers, embd 3584, 28/4 heads x 128",
     3584, 28, 28, 4, 128, 18944, 32768, 1000000.0f, 1e-6f, false,
     "tokenizers/qwen3/tokenizer.json", "qwen2", 152064, false},
};

const Preset* FindPreset(const std::string& name) {
  for (const Preset& p : kPresets) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

// splitmix64: a tiny, portable, seedable generator (std distributions differ across libraries).
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t HashName(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

// Fills `out` with normal(mean, stddev) values from (seed, row).
void FillNormal(uint64_t seed, float mean, float stddev, float* out, int64_t n) {
  uint64_t state = Mix(seed);
  for (int64_t i = 0; i < n; i += 2) {
    state = Mix(state);
    const double u1 = ((state >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    state = Mix(state);
    const double u2 = (state >> 11) * (1.0 / 9007199254740992.0);
    const double r = std::sqrt(-2.0 * std::log(u1));
    out[i] = mean + stddev * static_cast<float>(r * std::cos(2 * M_PI * u2));
    if (i + 1 < n) out[i + 1] = mean + stddev * static_cast<float>(r * std::sin(2 * M_PI * u2));
  }
}

// llama.cpp's use_more_bits(): the first and last eighth of layers, and every third between.
bool UseMoreBits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

// A type for rows that `t`'s blocks do not divide, as llama.cpp's llama-quantize chooses it
// (llama_tensor_get_type): Q4_K -> Q5_0, Q5_K -> Q5_1, IQ4_XS -> IQ4_NL, Q6_K -> Q8_0, and F16
// where no 32-block type fits.
DType Fallback(DType t, int64_t cols) {
  if (cols % DTypeBlockElements(t) == 0) return t;
  if (cols % 32 != 0) return DType::kF16;
  switch (t) {
    case DType::kQ4_K: return DType::kQ5_0;
    case DType::kQ5_K: return DType::kQ5_1;
    case DType::kIQ4_XS: return DType::kIQ4_NL;
    default: return DType::kQ8_0;
  }
}

DType ChooseType(SynthFileType ft, const std::string& name, int64_t cols, int64_t layer,
                 int64_t n_layer, bool tied, int64_t n_gqa) {
  const bool is_output = name == "output.weight" || (tied && name == "token_embd.weight");
  const bool attn_v = name.find("attn_v.weight") != std::string::npos;
  const bool ffn_down = name.find("ffn_down.weight") != std::string::npos;
  DType t = DType::kF32;
  switch (ft) {
    case SynthFileType::kF32: t = DType::kF32; break;
    case SynthFileType::kF16: t = DType::kF16; break;
    case SynthFileType::kBF16: t = DType::kBF16; break;
    case SynthFileType::kQ8_0: t = DType::kQ8_0; break;
    case SynthFileType::kQ4_0: t = DType::kQ4_0; break;
    case SynthFileType::kQ4_K: t = DType::kQ4_K; break;
    case SynthFileType::kQ6_K: t = DType::kQ6_K; break;
    case SynthFileType::kQ4_1: t = DType::kQ4_1; break;
    case SynthFileType::kQ5_0: t = DType::kQ5_0; break;
    case SynthFileType::kQ5_1: t = DType::kQ5_1; break;
    case SynthFileType::kQ5_K: t = DType::kQ5_K; break;
    case SynthFileType::kIQ4_NL: t = DType::kIQ4_NL; break;
    case SynthFileType::kQ4_K_M:
    case SynthFileType::kQ5_K_M: {
      const bool more = (attn_v || ffn_down) && UseMoreBits(layer, n_layer);
      const DType base = ft == SynthFileType::kQ4_K_M ? DType::kQ4_K : DType::kQ5_K;
      t = (is_output || more) ? DType::kQ6_K : base;
      break;
    }
    case SynthFileType::kIQ4_XS:
      t = is_output                                          ? DType::kQ6_K
          : (attn_v && n_gqa >= 4) || (ffn_down && layer < n_layer / 8) ? DType::kQ5_K
                                                             : DType::kIQ4_XS;
      break;
  }
  return Fallback(t, cols);
}

struct TensorPlan {
  std::string name;
  std::vector<int64_t> dims;  // [cols] or [cols, rows]
  int64_t layer = -1;
  float mean = 0, stddev = 0;
};

std::vector<TensorPlan> PlanTensors(const Preset& p, int64_t n_layer, int64_t n_vocab) {
  const int64_t E = p.n_embd, Q = p.n_head * p.head_dim, KV = p.n_head_kv * p.head_dim;
  const std::string arch = p.arch;
  std::vector<TensorPlan> t;
  auto mat = [&](std::string name, int64_t cols, int64_t rows, int64_t layer) {
    t.push_back({std::move(name), {cols, rows}, layer, 0.0f, 1.0f / std::sqrt(float(cols))});
  };
  auto vec = [&](std::string name, int64_t n, int64_t layer, float mean, float sd) {
    t.push_back({std::move(name), {n}, layer, mean, sd});
  };
  mat("token_embd.weight", E, n_vocab, -1);
  vec("output_norm.weight", E, -1, 1.0f, 0.05f);
  if (!p.tied) mat("output.weight", E, n_vocab, -1);
  for (int64_t i = 0; i < n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    vec(b + "attn_norm.weight", E, i, 1.0f, 0.05f);
    mat(b + "attn_q.weight", E, Q, i);
    mat(b + "attn_k.weight", E, KV, i);
    mat(b + "attn_v.weight", E, KV, i);
    if (arch == "qwen2") {
      vec(b + "attn_q.bias", Q, i, 0.0f, 0.02f);
      vec(b + "attn_k.bias", KV, i, 0.0f, 0.02f);
      vec(b + "attn_v.bias", KV, i, 0.0f, 0.02f);
    }
    if (arch == "qwen3") {
      vec(b + "attn_q_norm.weight", p.head_dim, i, 1.0f, 0.05f);
      vec(b + "attn_k_norm.weight", p.head_dim, i, 1.0f, 0.05f);
    }
    mat(b + "attn_output.weight", Q, E, i);
    vec(b + "ffn_norm.weight", E, i, 1.0f, 0.05f);
    mat(b + "ffn_gate.weight", E, p.n_ff, i);
    mat(b + "ffn_up.weight", E, p.n_ff, i);
    mat(b + "ffn_down.weight", p.n_ff, E, i);
  }
  return t;
}

std::vector<uint8_t> MakeTensorData(const TensorPlan& plan, DType type, uint64_t seed,
                                    ThreadPool* pool) {
  const int64_t cols = plan.dims[0];
  const int64_t rows = plan.dims.size() > 1 ? plan.dims[1] : 1;
  const int64_t row_bytes = DTypeRowBytes(type, cols);
  std::vector<uint8_t> bytes(static_cast<size_t>(row_bytes * rows));
  const uint64_t base = Mix(seed ^ HashName(plan.name));
  pool->ParallelFor(rows, 16, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(cols);
    for (int64_t r = r0; r < r1; ++r) {
      FillNormal(base + static_cast<uint64_t>(r), plan.mean, plan.stddev, row.data(), cols);
      kernels::QuantizeRow(type, row.data(), bytes.data() + r * row_bytes, cols);
    }
  });
  return bytes;
}

void SetArchMetadata(gguf::GgufWriter& w, const Preset& p, int64_t n_layer, const char* ftype) {
  const std::string a = p.arch;
  w.SetString("general.architecture", a);
  w.SetString("general.name", std::string("mint-synth-") + p.name + "-" + ftype);
  w.SetU32(a + ".context_length", static_cast<uint32_t>(p.n_ctx));
  w.SetU32(a + ".embedding_length", static_cast<uint32_t>(p.n_embd));
  w.SetU32(a + ".block_count", static_cast<uint32_t>(n_layer));
  w.SetU32(a + ".feed_forward_length", static_cast<uint32_t>(p.n_ff));
  w.SetU32(a + ".attention.head_count", static_cast<uint32_t>(p.n_head));
  w.SetU32(a + ".attention.head_count_kv", static_cast<uint32_t>(p.n_head_kv));
  w.SetF32(a + ".attention.layer_norm_rms_epsilon", p.eps);
  w.SetF32(a + ".rope.freq_base", p.theta);
  w.SetU32(a + ".rope.dimension_count", static_cast<uint32_t>(p.head_dim));
  if (p.head_dim * p.n_head != p.n_embd) {
    w.SetU32(a + ".attention.key_length", static_cast<uint32_t>(p.head_dim));
    w.SetU32(a + ".attention.value_length", static_cast<uint32_t>(p.head_dim));
  }
}

// general.file_type as llama.cpp numbers it (enum llama_ftype).
uint32_t LlamaFileType(SynthFileType t) {
  switch (t) {
    case SynthFileType::kF32: return 0;
    case SynthFileType::kF16: return 1;
    case SynthFileType::kQ4_0: return 2;
    case SynthFileType::kQ8_0: return 7;
    case SynthFileType::kQ4_K: return 14;  // Q4_K_S
    case SynthFileType::kQ4_K_M: return 15;
    case SynthFileType::kQ6_K: return 18;
    case SynthFileType::kBF16: return 32;
    case SynthFileType::kQ4_1: return 3;
    case SynthFileType::kQ5_0: return 8;
    case SynthFileType::kQ5_1: return 9;
    case SynthFileType::kQ5_K: return 16;  // Q5_K_S
    case SynthFileType::kQ5_K_M: return 17;
    case SynthFileType::kIQ4_NL: return 25;
    case SynthFileType::kIQ4_XS: return 30;
  }
  return 0;
}

}  // namespace

Result<SynthFileType> ParseSynthFileType(const std::string& name) {
  static const std::map<std::string, SynthFileType> kTypes = {
      {"f32", SynthFileType::kF32},   {"f16", SynthFileType::kF16},
      {"bf16", SynthFileType::kBF16}, {"q8_0", SynthFileType::kQ8_0},
      {"q4_0", SynthFileType::kQ4_0}, {"q4_k", SynthFileType::kQ4_K},
      {"q6_k", SynthFileType::kQ6_K}, {"q4_k_m", SynthFileType::kQ4_K_M},
      {"q4_1", SynthFileType::kQ4_1}, {"q5_0", SynthFileType::kQ5_0},
      {"q5_1", SynthFileType::kQ5_1}, {"q5_k", SynthFileType::kQ5_K},
      {"q5_k_m", SynthFileType::kQ5_K_M}, {"iq4_nl", SynthFileType::kIQ4_NL},
      {"iq4_xs", SynthFileType::kIQ4_XS}};
  std::string lower = name;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto it = kTypes.find(lower);
  if (it == kTypes.end()) {
    return Status::InvalidArgument("unknown type '" + name +
                                   "' (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, "
                                   "iq4_nl, iq4_xs, q4_k_m, q5_k_m)");
  }
  return it->second;
}

const char* SynthFileTypeName(SynthFileType t) {
  switch (t) {
    case SynthFileType::kF32: return "F32";
    case SynthFileType::kF16: return "F16";
    case SynthFileType::kBF16: return "BF16";
    case SynthFileType::kQ8_0: return "Q8_0";
    case SynthFileType::kQ4_0: return "Q4_0";
    case SynthFileType::kQ4_K: return "Q4_K";
    case SynthFileType::kQ6_K: return "Q6_K";
    case SynthFileType::kQ4_K_M: return "Q4_K_M";
    case SynthFileType::kQ4_1: return "Q4_1";
    case SynthFileType::kQ5_0: return "Q5_0";
    case SynthFileType::kQ5_1: return "Q5_1";
    case SynthFileType::kQ5_K: return "Q5_K";
    case SynthFileType::kQ5_K_M: return "Q5_K_M";
    case SynthFileType::kIQ4_NL: return "IQ4_NL";
    case SynthFileType::kIQ4_XS: return "IQ4_XS";
  }
  return "?";
}

std::vector<SynthPresetInfo> SynthPresets() {
  std::vector<SynthPresetInfo> out;
  for (const Preset& p : kPresets) out.push_back({p.name, p.arch, p.description});
  return out;
}

Status WriteSynthModel(const SynthOptions& o, const std::string& path) {
  const Preset* p = FindPreset(o.preset);
  if (p == nullptr) return Status::InvalidArgument("unknown synth preset '" + o.preset + "'");
  const int64_t n_layer = o.n_layer > 0 ? o.n_layer : p->n_layer;
  gguf::GgufWriter w;
  SetArchMetadata(w, *p, n_layer, SynthFileTypeName(o.type));
  const std::string vocab_path = o.vocab.empty() ? o.shared_dir + "/" + p->vocab : o.vocab;
  MINT_ASSIGN_OR_RETURN(int64_t vocab_size, AddVocabulary(vocab_path, p->bpe_pre, p->n_vocab, &w));
  if (p->llama3_rope) {
    auto factors = kernels::Llama3RopeFreqFactors(p->head_dim, p->theta, 32.0f, 1.0f, 4.0f, 8192);
    std::vector<uint8_t> bytes(factors.size() * sizeof(float));
    std::memcpy(bytes.data(), factors.data(), bytes.size());
    MINT_RETURN_IF_ERROR(w.AddTensor("rope_freqs.weight", DType::kF32,
                                     {static_cast<int64_t>(factors.size())}, std::move(bytes)));
  }
  // Tensors are made while the file is written, one at a time: an 8B model's F16 file is larger
  // than many machines' memory.
  ThreadPool pool(ThreadPool::HardwareThreads());
  for (const TensorPlan& t : PlanTensors(*p, n_layer, vocab_size)) {
    const DType type = t.dims.size() == 1
                           ? DType::kF32
                           : ChooseType(o.type, t.name, t.dims[0], t.layer, n_layer, p->tied,
                                        p->n_head / p->n_head_kv);
    MINT_RETURN_IF_ERROR(w.AddLazyTensor(t.name, type, t.dims, [t, type, seed = o.seed, &pool] {
      return MakeTensorData(t, type, seed, &pool);
    }));
  }
  w.SetU32("general.file_type", LlamaFileType(o.type));
  w.SetU32("general.quantization_version", 2);
  return w.WriteFile(path);
}

Status DequantizeModelFile(const std::string& in_path, const std::string& out_path) {
  MINT_ASSIGN_OR_RETURN(auto in, gguf::GgufFile::Open(in_path));
  gguf::GgufWriter w;
  for (const auto& [key, value] : in->metadata()) {
    if (key != "general.alignment") w.SetValue(key, value);
  }
  w.SetU32("general.file_type", 0);
  for (const auto& t : in->tensors()) {
    const int64_t cols = t.dims[0];
    const int64_t rows = t.Elements() / cols;
    const int64_t row_bytes = DTypeRowBytes(t.type, cols);
    std::vector<uint8_t> bytes(static_cast<size_t>(rows * cols * sizeof(float)));
    for (int64_t r = 0; r < rows; ++r) {
      kernels::DequantizeRow(t.type, t.data + r * row_bytes,
                             reinterpret_cast<float*>(bytes.data()) + r * cols, cols);
    }
    MINT_RETURN_IF_ERROR(w.AddTensor(t.name, DType::kF32, t.dims, std::move(bytes)));
  }
  return w.WriteFile(out_path);
}

}  // namespace mint::model
