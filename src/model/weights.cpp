// Binding GGUF tensors to the forward pass's weights, with shape and type checks.
#include <cstring>
#include <string>

#include "gguf/gguf.h"
#include "model/arch.h"

namespace mint::model::internal {
namespace {

std::string Dims(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

class Binder {
 public:
  explicit Binder(const gguf::GgufFile& f) : f_(f) {}

  // A matrix with `cols` inputs and `rows` outputs (GGUF dims [cols, rows]), any supported type.
  Status Matrix(const std::string& name, int64_t cols, int64_t rows, Weight* out) {
    const gguf::TensorInfo* t = f_.FindTensor(name);
    if (t == nullptr) return Status::NotFound("missing tensor " + name);
    if (t->dims.size() != 2 || t->dims[0] != cols || t->dims[1] != rows) {
      return Status::Corruption("tensor " + name + " has shape " + Dims(t->dims) + ", expected " +
                                Dims({cols, rows}));
    }
    out->view = {.type = t->type, .data = t->data, .rows = rows, .cols = cols};
    return Status::Ok();
  }

  // A vector of n f32 values (norm weights, biases). required=false leaves `out` empty if absent.
  Status Vector(const std::string& name, int64_t n, Weight* out, bool required = true) {
    const gguf::TensorInfo* t = f_.FindTensor(name);
    if (t == nullptr) {
      return required ? Status::NotFound("missing tensor " + name) : Status::Ok();
    }
    if (t->dims.size() != 1 || t->dims[0] != n) {
      return Status::Corruption("tensor " + name + " has shape " + Dims(t->dims) + ", expected [" +
                                std::to_string(n) + "]");
    }
    if (t->type != DType::kF32) {
      return Status::Unsupported(std::string("tensor ") + name + " has type " +
                                 DTypeName(t->type) + "; 1-D tensors must be F32");
    }
    if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) {
      return Status::Corruption("tensor " + name + " is not 4-byte aligned");
    }
    out->view = {.type = DType::kF32, .data = t->data, .rows = 1, .cols = n};
    return Status::Ok();
  }

 private:
  const gguf::GgufFile& f_;
};

}  // namespace

Status BindWeights(const gguf::GgufFile& f, const ModelConfig& c, ModelWeights* w) {
  Binder b(f);
  MINT_RETURN_IF_ERROR(b.Matrix("token_embd.weight", c.n_embd, c.n_vocab, &w->token_embd));
  MINT_RETURN_IF_ERROR(b.Vector("output_norm.weight", c.n_embd, &w->output_norm));
  if (f.FindTensor("output.weight") != nullptr) {
    MINT_RETURN_IF_ERROR(b.Matrix("output.weight", c.n_embd, c.n_vocab, &w->output));
  } else {
    w->output = w->token_embd;  // tied embeddings
  }
  w->layers.resize(c.n_layer);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = w->layers[i];
    MINT_RETURN_IF_ERROR(b.Vector(p + "attn_norm.weight", c.n_embd, &l.attn_norm));
    MINT_RETURN_IF_ERROR(b.Matrix(p + "attn_q.weight", c.n_embd, c.q_dim(), &l.wq));
    MINT_RETURN_IF_ERROR(b.Matrix(p + "attn_k.weight", c.n_embd, c.kv_dim(), &l.wk));
    MINT_RETURN_IF_ERROR(b.Matrix(p + "attn_v.weight", c.n_embd, c.kv_dim(), &l.wv));
    MINT_RETURN_IF_ERROR(b.Matrix(p + "attn_output.weight", c.q_dim(), c.n_embd, &l.wo));
    if (c.qkv_bias) {
      MINT_RETURN_IF_ERROR(b.Vector(p + "attn_q.bias", c.q_dim(), &l.bq));
      MINT_RETURN_IF_ERROR(b.Vector(p + "attn_k.bias", c.kv_dim(), &l.bk));
      MINT_RETURN_IF_ERROR(b.Vector(p + "attn_v.bias", c.kv_dim(), &l.bv));
    }
    if (c.qk_norm) {
      MINT_RETURN_IF_ERROR(b.Vector(p + "attn_q_norm.weight", c.head_dim, &l.q_norm));
      MINT_RETURN_IF_ERROR(b.Vector(p + "attn_k_norm.weight", c.head_dim, &l.k_norm));
    }
    MINT_RETURN_IF_ERROR(b.Vector(p + "ffn_norm.weight", c.n_embd, &l.ffn_norm));
    MINT_RETURN_IF_ERROR(b.Matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff, &l.w_gate));
    MINT_RETURN_IF_ERROR(b.Matrix(p + "ffn_up.weight", c.n_embd, c.n_ff, &l.w_up));
    MINT_RETURN_IF_ERROR(b.Matrix(p + "ffn_down.weight", c.n_ff, c.n_embd, &l.w_down));
  }
  return Status::Ok();
}

}  // namespace mint::model::internal
