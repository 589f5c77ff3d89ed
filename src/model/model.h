// Model: a decoder-only transformer loaded from GGUF, with a batched forward pass on CPU.
//
// Architectures live one per file in src/model/models/<arch>.cpp (llama, qwen2, qwen3); each
// reads its hyperparameters from GGUF metadata and names its tensors. The forward pass itself is
// shared (forward.cpp) and driven by the flags an architecture sets.
//
// Thread-safety: a Model is immutable after Load() and may be shared by threads. A Sequence is
// owned by one caller at a time. Forward() uses the given ThreadPool for its whole duration, so
// concurrent Forward() calls need distinct pools.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/memory.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/kv_arena.h"

namespace mint::gguf {
class GgufFile;
}

namespace mint::model {

struct ModelConfig {
  std::string arch;  // general.architecture
  std::string name;  // general.name, may be empty
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;  // per attention head (key_length), usually n_embd / n_head
  int64_t n_ff = 0;
  int64_t n_ctx_train = 0;
  float norm_eps = 1e-5f;
  kernels::RopeConfig rope;  // head_dim = rotated dimensions
  bool qkv_bias = false;     // qwen2
  bool qk_norm = false;      // qwen3: per-head RMSNorm of Q and K before RoPE
  bool tied_embeddings = false;

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
  std::string Summary() const;
};

// A dense weight (a view into the mapped file) or a small f32 vector (norms, biases).
struct Weight {
  kernels::WeightView view;
  const float* f32() const { return static_cast<const float*>(view.data); }
};

struct LayerWeights {
  Weight attn_norm, wq, wk, wv, wo;
  Weight bq, bk, bv;      // qwen2 only (view.data == nullptr otherwise)
  Weight q_norm, k_norm;  // qwen3 only
  Weight ffn_norm, w_gate, w_up, w_down;
};

struct ModelWeights {
  Weight token_embd;  // rows = n_vocab, cols = n_embd
  Weight output_norm;
  Weight output;  // == token_embd when tied
  std::vector<LayerWeights> layers;
};

// A single sequence with a private KV cache (an f32 KvArena of its own, blocks in order): the
// simple path for `mint run`, `mint perf` and tests. The serving engine shares one arena between
// many sequences through ForwardBatch instead. Thread-safety: none; one owner.
class Sequence {
 public:
  ~Sequence();
  int64_t n_past() const { return n_past_; }
  int64_t capacity() const { return capacity_; }
  // Forgets positions >= n (n <= n_past); used to rewind or reuse a prefix.
  void Truncate(int64_t n);

 private:
  friend class Model;
  int64_t n_past_ = 0;
  int64_t capacity_ = 0;
  std::unique_ptr<KvArena> kv_;
  std::vector<int32_t> block_table_;
};

// One sequence of a ragged batch for ForwardBatch.
struct BatchSequence {
  enum class Logits { kNone, kLast, kAll };
  std::span<const int32_t> tokens;       // new tokens, at positions pos0, pos0 + 1, ...
  std::span<const int32_t> block_table;  // KV blocks covering positions [0, pos0 + n)
  int64_t pos0 = 0;                      // tokens already in the cache (positions [0, pos0))
  Logits logits = Logits::kLast;
};

struct LoadOptions {
  // Called with (bytes done, bytes total) while weights are paged in; may be empty.
  std::function<void(uint64_t, uint64_t)> progress;
  // Page every weight into memory at load time (so the first token is not slowed by faults).
  bool prefault = true;
};

class Model {
 public:
  // Maps `path`, reads hyperparameters, binds and validates every tensor's type and shape.
  // Errors name the file and the problem: unsupported architecture, missing tensor, shape
  // mismatch, unsupported tensor type.
  static Result<std::unique_ptr<Model>> Load(const std::string& path,
                                             const LoadOptions& options = {});
  ~Model();

  const ModelConfig& config() const { return config_; }
  const gguf::GgufFile& file() const { return *file_; }
  // Bytes of weights read per decoded token (every matrix once + embeddings row).
  uint64_t WeightBytesPerToken() const;

  // A new empty sequence able to hold `max_tokens` positions (<= 0: n_ctx_train).
  // kv_type: the cache's element type (F32, F16, BF16 or Q8_0; kernels::PagedKv).
  std::unique_ptr<Sequence> NewSequence(int64_t max_tokens, DType kv_type = DType::kF32) const;

  // Appends `tokens` to `seq` (positions n_past ...) and computes logits.
  // logits: n_vocab floats for the last token, or n_tokens * n_vocab if all_logits.
  // Errors: kOutOfRange if the sequence would exceed its capacity; kInvalidArgument for a token
  // id outside the vocabulary. On error `seq` is unchanged.
  Status Forward(Sequence* seq, std::span<const int32_t> tokens, std::span<float> logits,
                 bool all_logits, ThreadPool* pool) const;

  // One forward pass over a ragged batch: each sequence's new tokens attend to its cached
  // positions through its block table in `kv`, and their keys and values are stored there.
  // logits: n_vocab floats per requested row, in batch order (kLast: one row, kAll: one per
  // token). A token's result does not depend on the rest of the batch beyond floating-point
  // reassociation inside the matrix kernels (see the engine's batch-invariance tests).
  // Errors (kInvalidArgument): empty sequence, token outside the vocabulary, block table too
  // short or naming a block outside the arena, arena of another model, logits too small.
  Status ForwardBatch(std::span<const BatchSequence> batch, KvArena* kv, std::span<float> logits,
                      ThreadPool* pool) const;

 private:
  Model() = default;
  friend Status BindArchitecture(Model* model);

  void PackWeights();

  std::unique_ptr<gguf::GgufFile> file_;
  ModelConfig config_;
  ModelWeights weights_;
  LargeBuffer packed_;  // packed matrices (kernels::PackWeights); views in weights_ point here
};

}  // namespace mint::model
