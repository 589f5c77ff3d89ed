// The shared decoder forward pass for llama / qwen2 / qwen3 over a ragged batch of sequences
// and a paged KV cache.
// Phases per layer: attention block (norm, QKV, bias, QK-norm, RoPE, cache append, attention,
// output projection, residual), then FFN block (norm, gate/up, SwiGLU, down, residual).
#include <cmath>
#include <vector>

#include "model/model.h"

namespace mint::model {
namespace {

using kernels::MatMul;

// Reusable activation buffers of one forward pass (per thread, grown as needed).
struct Scratch {
  std::vector<float> x, xb, q, k, v, att, gate, up;
  std::vector<int32_t> tokens, pos;  // per batch row
  std::vector<kernels::PagedSeq> seqs;
  std::vector<int64_t> out_rows;  // batch rows whose logits are wanted
  void Resize(const ModelConfig& c, int64_t n) {
    auto grow = [](std::vector<float>& b, int64_t size) {
      if (static_cast<int64_t>(b.size()) < size) b.resize(size);
    };
    grow(x, n * c.n_embd);
    grow(xb, n * c.n_embd);
    grow(q, n * c.q_dim());
    grow(k, n * c.kv_dim());
    grow(v, n * c.kv_dim());
    grow(att, n * c.q_dim());
    grow(gate, n * c.n_ff);
    grow(up, n * c.n_ff);
  }
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Runs fn(i) for every token row, split across the pool when the batch is large enough.
template <typename Fn>
void ForEachRow(int64_t n, ThreadPool* pool, Fn&& fn) {
  if (pool == nullptr || n < 4) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  pool->ParallelFor(n, 2, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) fn(i);
  });
}

void AddBias(const Weight& bias, float* rows, int64_t n, int64_t dim) {
  if (bias.view.data == nullptr) return;
  for (int64_t i = 0; i < n; ++i) kernels::Add(bias.f32(), rows + i * dim, dim);
}

// Checks a batch against the model and the arena; returns the number of logits rows it asks for.
Result<int64_t> ValidateBatch(const ModelConfig& c, std::span<const BatchSequence> batch,
                              const KvArena& kv, size_t logits_floats) {
  if (batch.empty()) return Status::InvalidArgument("ForwardBatch: empty batch");
  if (kv.n_layer() != c.n_layer || kv.kv_dim() != c.kv_dim()) {
    return Status::InvalidArgument("KV arena was made for another model");
  }
  int64_t rows = 0;
  for (const BatchSequence& b : batch) {
    const int64_t n = static_cast<int64_t>(b.tokens.size());
    if (n == 0) return Status::InvalidArgument("ForwardBatch: a sequence has no tokens");
    if (b.pos0 < 0) return Status::InvalidArgument("ForwardBatch: negative position");
    const int64_t need = (b.pos0 + n + kv.block_size() - 1) / kv.block_size();
    if (static_cast<int64_t>(b.block_table.size()) < need) {
      return Status::InvalidArgument("block table holds " + std::to_string(b.block_table.size()) +
                                     " blocks; positions up to " + std::to_string(b.pos0 + n) +
                                     " need " + std::to_string(need));
    }
    for (int64_t i = 0; i < need; ++i) {
      if (b.block_table[i] < 0 || b.block_table[i] >= kv.num_blocks()) {
        return Status::InvalidArgument("block id " + std::to_string(b.block_table[i]) +
                                       " outside the arena");
      }
    }
    for (int32_t t : b.tokens) {
      if (t < 0 || t >= c.n_vocab) {
        return Status::InvalidArgument("token id " + std::to_string(t) +
                                       " outside vocabulary of " + std::to_string(c.n_vocab));
      }
    }
    rows += b.logits == BatchSequence::Logits::kAll ? n
            : b.logits == BatchSequence::Logits::kLast ? 1 : 0;
  }
  if (logits_floats < static_cast<size_t>(rows * c.n_vocab)) {
    return Status::InvalidArgument("logits buffer too small");
  }
  return rows;
}

}  // namespace

Status Model::Forward(Sequence* seq, std::span<const int32_t> tokens, std::span<float> logits,
                      bool all_logits, ThreadPool* pool) const {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (seq->n_past_ + n > seq->capacity_) {
    return Status::OutOfRange("sequence would hold " + std::to_string(seq->n_past_ + n) +
                              " tokens; its capacity is " + std::to_string(seq->capacity_));
  }
  const BatchSequence one{
      .tokens = tokens,
      .block_table = seq->block_table_,
      .pos0 = seq->n_past_,
      .logits = all_logits ? BatchSequence::Logits::kAll : BatchSequence::Logits::kLast};
  MINT_RETURN_IF_ERROR(ForwardBatch({&one, 1}, seq->kv_.get(), logits, pool));
  seq->n_past_ += n;
  return Status::Ok();
}

Status Model::ForwardBatch(std::span<const BatchSequence> batch, KvArena* kv,
                           std::span<float> logits, ThreadPool* pool) const {
  const ModelConfig& c = config_;
  MINT_ASSIGN_OR_RETURN(const int64_t n_out, ValidateBatch(c, batch, *kv, logits.size()));

  // Flatten the batch: row i of every activation is token i; pos[i] is its position.
  // (References, not thread_locals, inside the lambdas: pool threads must see this thread's.)
  Scratch& s = ThreadScratch();
  std::vector<int32_t>& tokens = s.tokens;
  std::vector<int32_t>& pos = s.pos;
  std::vector<kernels::PagedSeq>& seqs = s.seqs;
  std::vector<int64_t>& out_rows = s.out_rows;
  tokens.clear();
  pos.clear();
  seqs.clear();
  out_rows.clear();
  for (const BatchSequence& b : batch) {
    const int64_t n = static_cast<int64_t>(b.tokens.size());
    const int64_t row0 = static_cast<int64_t>(tokens.size());
    seqs.push_back({b.block_table.data(), n, b.pos0, row0});
    for (int64_t i = 0; i < n; ++i) {
      tokens.push_back(b.tokens[i]);
      pos.push_back(static_cast<int32_t>(b.pos0 + i));
      if (b.logits == BatchSequence::Logits::kAll ||
          (b.logits == BatchSequence::Logits::kLast && i == n - 1)) {
        out_rows.push_back(row0 + i);
      }
    }
  }
  const int64_t n = static_cast<int64_t>(tokens.size());
  s.Resize(c, n);
  const int64_t E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), hd = c.head_dim;
  const Weight& embd = weights_.token_embd;
  const int64_t embd_row = DTypeRowBytes(embd.view.type, E);
  for (int64_t i = 0; i < n; ++i) {
    const auto* row = static_cast<const uint8_t*>(embd.view.data) + tokens[i] * embd_row;
    kernels::DequantizeRow(embd.view.type, row, s.x.data() + i * E, E);
  }

  const kernels::AttentionShape shape{.n_head = c.n_head, .n_kv_head = c.n_head_kv,
                                      .head_dim = hd,
                                      .scale = 1.0f / std::sqrt(static_cast<float>(hd))};
  for (int64_t li = 0; li < c.n_layer; ++li) {
    const LayerWeights& L = weights_.layers[li];
    const kernels::PagedKv layer_kv = kv->Layer(li);

    // Attention block.
    ForEachRow(n, pool, [&](int64_t i) {
      kernels::RmsNorm(s.x.data() + i * E, L.attn_norm.f32(), s.xb.data() + i * E, E, c.norm_eps);
    });
    {
      const kernels::WeightView qkv[] = {L.wq.view, L.wk.view, L.wv.view};
      float* const out[] = {s.q.data(), s.k.data(), s.v.data()};
      kernels::MatMulGroup(qkv, s.xb.data(), n, out, pool);
    }
    AddBias(L.bq, s.q.data(), n, Q);
    AddBias(L.bk, s.k.data(), n, KV);
    AddBias(L.bv, s.v.data(), n, KV);
    ForEachRow(n, pool, [&](int64_t i) {
      float* q = s.q.data() + i * Q;
      float* k = s.k.data() + i * KV;
      if (c.qk_norm) {
        for (int64_t h = 0; h < c.n_head; ++h) {
          kernels::RmsNorm(q + h * hd, L.q_norm.f32(), q + h * hd, hd, c.norm_eps);
        }
        for (int64_t h = 0; h < c.n_head_kv; ++h) {
          kernels::RmsNorm(k + h * hd, L.k_norm.f32(), k + h * hd, hd, c.norm_eps);
        }
      }
      kernels::Rope(q, c.n_head, hd, pos[i], c.rope);
      kernels::Rope(k, c.n_head_kv, hd, pos[i], c.rope);
    });
    kernels::PagedKvStore(layer_kv, seqs, s.k.data(), s.v.data(), c.n_head_kv, hd);
    kernels::PagedAttention(s.q.data(), layer_kv, seqs, shape, s.att.data(), pool);
    MatMul(L.wo.view, s.att.data(), n, s.xb.data(), pool);
    ForEachRow(n, pool, [&](int64_t i) {
      kernels::Add(s.xb.data() + i * E, s.x.data() + i * E, E);
      kernels::RmsNorm(s.x.data() + i * E, L.ffn_norm.f32(), s.xb.data() + i * E, E, c.norm_eps);
    });

    // FFN block.
    {
      const kernels::WeightView gate_up[] = {L.w_gate.view, L.w_up.view};
      float* const out[] = {s.gate.data(), s.up.data()};
      kernels::MatMulGroup(gate_up, s.xb.data(), n, out, pool);
    }
    ForEachRow(n, pool, [&](int64_t i) {
      float* g = s.gate.data() + i * c.n_ff;
      kernels::SwiGlu(g, s.up.data() + i * c.n_ff, g, c.n_ff);
    });
    MatMul(L.w_down.view, s.gate.data(), n, s.xb.data(), pool);
    ForEachRow(n, pool, [&](int64_t i) {
      kernels::Add(s.xb.data() + i * E, s.x.data() + i * E, E);
    });
  }

  // Output head for the requested rows.
  for (int64_t i = 0; i < n_out; ++i) {
    kernels::RmsNorm(s.x.data() + out_rows[i] * E, weights_.output_norm.f32(),
                     s.xb.data() + i * E, E, c.norm_eps);
  }
  if (n_out > 0) MatMul(weights_.output.view, s.xb.data(), n_out, logits.data(), pool);
  return Status::Ok();
}

}  // namespace mint::model
