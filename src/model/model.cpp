#include "model/model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "core/log.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "model/arch.h"

namespace mint::model {
namespace {

// Touches every page of [data, data + n) so later reads do not fault; reports progress.
void Prefault(const uint8_t* data, uint64_t n, uint64_t* done, uint64_t total,
              const std::function<void(uint64_t, uint64_t)>& progress) {
  constexpr uint64_t kChunk = 16 << 20;
  volatile uint8_t sink = 0;
  for (uint64_t off = 0; off < n; off += kChunk) {
    const uint64_t len = std::min(kChunk, n - off);
    for (uint64_t i = 0; i < len; i += 4096) sink = sink + data[off + i];
    *done += len;
    if (progress) progress(*done, total);
  }
  (void)sink;
}

// Drops the whole pages of [data, data + n) from memory: they are clean pages of the read-only
// file mapping, so a later read pages them back in from the file.
void ReleasePages(const void* data, size_t n) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(data) + n) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

Status LoadRopeFreqs(const gguf::GgufFile& f, ModelConfig* cfg) {
  const gguf::TensorInfo* t = f.FindTensor("rope_freqs.weight");
  if (t == nullptr) return Status::Ok();
  if (t->type != DType::kF32 || t->dims.size() != 1 || t->dims[0] != cfg->rope.head_dim / 2) {
    return Status::Corruption("rope_freqs.weight must be F32 [" +
                              std::to_string(cfg->rope.head_dim / 2) + "]");
  }
  const float* p = reinterpret_cast<const float*>(t->data);
  cfg->rope.freq_factors.assign(p, p + t->dims[0]);
  return Status::Ok();
}

}  // namespace

std::string ModelConfig::Summary() const {
  return arch + (name.empty() ? "" : " (" + name + ")") + ": " + std::to_string(n_layer) +
         " layers, embd " + std::to_string(n_embd) + ", heads " + std::to_string(n_head) + "/" +
         std::to_string(n_head_kv) + " x " + std::to_string(head_dim) + ", ffn " +
         std::to_string(n_ff) + ", vocab " + std::to_string(n_vocab) + ", ctx " +
         std::to_string(n_ctx_train) + (tied_embeddings ? ", tied embeddings" : "");
}

Sequence::~Sequence() = default;

void Sequence::Truncate(int64_t n) { n_past_ = std::clamp<int64_t>(n, 0, n_past_); }

Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::Load(const std::string& path, const LoadOptions& options) {
  std::unique_ptr<Model> m(new Model());
  auto file = gguf::GgufFile::Open(path);
  if (!file.ok()) return file.status().WithContext(path);
  m->file_ = std::move(file).value();
  Status s = internal::Configure(*m->file_, &m->config_);
  if (s.ok()) s = LoadRopeFreqs(*m->file_, &m->config_);
  if (s.ok()) s = internal::BindWeights(*m->file_, m->config_, &m->weights_);
  if (!s.ok()) return s.WithContext(path);
  m->config_.tied_embeddings = m->file_->FindTensor("output.weight") == nullptr;

  const uint64_t total = m->file_->file_size();
  uint64_t done = 0;
  if (options.prefault) {
    for (const auto& t : m->file_->tensors()) {
      Prefault(t.data, t.nbytes, &done, total, options.progress);
    }
  }
  if (options.progress) options.progress(total, total);
  m->PackWeights();
  log::Debug("loaded {}: {}", path, m->config_.Summary());
  return m;
}

// Matrices whose type has a packed kernel on this CPU (kernels.h, PackedSupported: Q4_1, Q5_0,
// Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS on AVX2 and AVX-512, Q8_0 on AVX-512) get the
// packed copy, and the file's pages of the originals are released, so memory holds one copy (the
// embedding's stays: token lookups read its rows).
void Model::PackWeights() {
  std::vector<Weight*> matrices = {&weights_.output};
  for (auto& l : weights_.layers) {
    for (Weight* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      matrices.push_back(w);
    }
  }
  // One buffer for every packed matrix (huge pages where the system allows them: the kernels
  // stream through all of it once per forward pass).
  auto packable = [](const kernels::WeightView& v) {
    return v.data != nullptr && kernels::PackedSupported(v.type) &&
           kernels::CanPack(v.type, v.rows, v.cols);
  };
  auto aligned_size = [](const kernels::WeightView& v) {
    return (kernels::PackedBytes(v.type, v.rows, v.cols) + 63) / 64 * 64;
  };
  size_t bytes = 0;
  for (Weight* w : matrices) {
    if (packable(w->view)) bytes += aligned_size(w->view);
  }
  if (bytes == 0) return;
  const auto start = std::chrono::steady_clock::now();
  packed_ = AllocateLarge(bytes);
  MINT_CHECK(packed_ != nullptr);
  uint8_t* buf = packed_.get();
  int packed_matrices = 0;
  // Every hardware thread packs its share of each matrix's 16-row groups (the work is reading
  // the file's pages and first-touching the new ones, as much as shuffling bytes).
  ThreadPool pool(ThreadPool::HardwareThreads());
  for (Weight* w : matrices) {
    const kernels::WeightView& v = w->view;
    if (!packable(v)) continue;
    const int64_t row_bytes = DTypeRowBytes(v.type, v.cols);
    const auto* src = static_cast<const uint8_t*>(v.data);
    pool.ParallelFor(v.rows / kernels::kPackedRows, 8, [&](int64_t g0, int64_t g1) {
      const int64_t r0 = g0 * kernels::kPackedRows, rows = (g1 - g0) * kernels::kPackedRows;
      kernels::PackWeights(v.type, src + r0 * row_bytes, rows, v.cols,
                           buf + kernels::PackedBytes(v.type, r0, v.cols));
    });
    w->view.packed = buf;
    buf += aligned_size(v);
    ++packed_matrices;
    if (v.data != weights_.token_embd.view.data) {
      ReleasePages(v.data, static_cast<size_t>(row_bytes * v.rows));
    }
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  log::Info("repacked {} matrices ({} MiB) for the {} kernels in {:.0f} ms on {} threads; "
            "the file's pages of the originals are released",
            packed_matrices, bytes >> 20, kernels::IsaName(kernels::BestIsa()), ms, pool.size());
}

uint64_t Model::WeightBytesPerToken() const {
  auto bytes = [](const Weight& w) -> uint64_t {
    if (w.view.data == nullptr) return 0;
    return static_cast<uint64_t>(DTypeRowBytes(w.view.type, w.view.cols)) * w.view.rows;
  };
  uint64_t total = bytes(weights_.output) + bytes(weights_.output_norm) +
                   DTypeRowBytes(weights_.token_embd.view.type, config_.n_embd);
  for (const auto& l : weights_.layers) {
    for (const Weight* w : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.bq, &l.bk, &l.bv,
                            &l.q_norm, &l.k_norm, &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down}) {
      total += bytes(*w);
    }
  }
  return total;
}

std::unique_ptr<Sequence> Model::NewSequence(int64_t max_tokens, DType kv_type) const {
  auto seq = std::unique_ptr<Sequence>(new Sequence());
  seq->capacity_ = max_tokens > 0 ? max_tokens : config_.n_ctx_train;
  // f32 by default (exact, as the contiguous cache it replaced) in 64-token blocks: one attention
  // segment per kernel key block.
  constexpr int64_t kBlock = 64;
  KvCacheOptions options{
      .type = kv_type,
      .block_size = kBlock,
      .num_blocks = std::max<int64_t>(1, (seq->capacity_ + kBlock - 1) / kBlock)};
  auto kv = KvArena::Create(config_, options);
  MINT_CHECK(kv.ok());
  seq->kv_ = std::move(kv).value();
  seq->block_table_.resize(options.num_blocks);
  for (int64_t i = 0; i < options.num_blocks; ++i) seq->block_table_[i] = static_cast<int32_t>(i);
  return seq;
}

}  // namespace mint::model
