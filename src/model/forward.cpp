// The shared decoder forward pass for llama / qwen2 / qwen3, over one sequence's KV cache.
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

}  // namespace

Status Model::Forward(Sequence* seq, std::span<const int32_t> tokens, std::span<float> logits,
                      bool all_logits, ThreadPool* pool) const {
  const ModelConfig& c = config_;
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return Status::InvalidArgument("Forward: no tokens");
  if (seq->n_past_ + n > seq->capacity_) {
    return Status::OutOfRange("sequence would hold " + std::to_string(seq->n_past_ + n) +
                              " tokens; its capacity is " + std::to_string(seq->capacity_));
  }
  for (int32_t t : tokens) {
    if (t < 0 || t >= c.n_vocab) {
      return Status::InvalidArgument("token id " + std::to_string(t) + " outside vocabulary of " +
                                     std::to_string(c.n_vocab));
    }
  }
  const int64_t n_out = all_logits ? n : 1;
  if (static_cast<int64_t>(logits.size()) < n_out * c.n_vocab) {
    return Status::InvalidArgument("logits buffer too small");
  }

  Scratch& s = ThreadScratch();
  s.Resize(c, n);
  const int64_t E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), hd = c.head_dim;
  const int64_t pos0 = seq->n_past_;
  const Weight& embd = weights_.token_embd;
  const int64_t embd_row = DTypeRowBytes(embd.view.type, E);
  for (int64_t i = 0; i < n; ++i) {
    const auto* row = static_cast<const uint8_t*>(embd.view.data) + tokens[i] * embd_row;
    kernels::DequantizeRow(embd.view.type, row, s.x.data() + i * E, E);
  }

  kernels::AttentionShape shape{.n_tokens = n, .pos0 = pos0, .n_head = c.n_head,
                                .n_kv_head = c.n_head_kv, .head_dim = hd, .kv_stride = KV,
                                .scale = 1.0f / std::sqrt(static_cast<float>(hd))};
  for (int64_t li = 0; li < c.n_layer; ++li) {
    const LayerWeights& L = weights_.layers[li];
    float* kc = seq->k_.data() + li * seq->capacity_ * KV;
    float* vc = seq->v_.data() + li * seq->capacity_ * KV;

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
      kernels::Rope(q, c.n_head, hd, pos0 + i, c.rope);
      kernels::Rope(k, c.n_head_kv, hd, pos0 + i, c.rope);
      std::copy(k, k + KV, kc + (pos0 + i) * KV);
      std::copy(s.v.data() + i * KV, s.v.data() + (i + 1) * KV, vc + (pos0 + i) * KV);
    });
    kernels::Attention(s.q.data(), kc, vc, shape, s.att.data(), pool);
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

  // Output head for the last token (or all of them).
  const float* last = s.x.data() + (n - n_out) * E;
  for (int64_t i = 0; i < n_out; ++i) {
    kernels::RmsNorm(last + i * E, weights_.output_norm.f32(), s.xb.data() + i * E, E, c.norm_eps);
  }
  MatMul(weights_.output.view, s.xb.data(), n_out, logits.data(), pool);
  seq->n_past_ += n;
  return Status::Ok();
}

}  // namespace mint::model
