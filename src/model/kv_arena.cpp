#include "model/kv_arena.h"

#include "model/model.h"

namespace mint::model {

Result<DType> ParseKvCacheType(const std::string& name) {
  if (name == "f16") return DType::kF16;
  if (name == "f32") return DType::kF32;
  if (name == "bf16") return DType::kBF16;
  if (name == "q8_0") return DType::kQ8_0;
  return Status::InvalidArgument("KV cache type '" + name + "': expected f16, f32, bf16 or q8_0");
}

Result<int64_t> KvArena::BytesPerBlock(const ModelConfig& c, DType type, int64_t block_size) {
  if (type != DType::kF16 && type != DType::kF32 && type != DType::kBF16 && type != DType::kQ8_0) {
    return Status::InvalidArgument(std::string("KV cache type ") + DTypeName(type) +
                                   " is not supported (f16, f32, bf16, q8_0)");
  }
  if (block_size <= 0 || block_size > 4096) {
    return Status::InvalidArgument("KV block size " + std::to_string(block_size) +
                                   " outside [1, 4096]");
  }
  if (c.head_dim % DTypeBlockElements(type) != 0) {
    return Status::InvalidArgument("head size " + std::to_string(c.head_dim) +
                                   " is not a multiple of " + DTypeName(type) + "'s block");
  }
  return DTypeRowBytes(type, c.head_dim) * c.n_head_kv * block_size * 2 * c.n_layer;
}

Result<std::unique_ptr<KvArena>> KvArena::Create(const ModelConfig& c,
                                                 const KvCacheOptions& options) {
  MINT_ASSIGN_OR_RETURN(int64_t block_bytes, BytesPerBlock(c, options.type, options.block_size));
  if (options.num_blocks <= 0) return Status::InvalidArgument("KV cache needs at least 1 block");
  std::unique_ptr<KvArena> a(new KvArena());
  a->type_ = options.type;
  a->block_size_ = options.block_size;
  a->num_blocks_ = options.num_blocks;
  a->n_layer_ = c.n_layer;
  a->n_kv_head_ = c.n_head_kv;
  a->head_dim_ = c.head_dim;
  a->row_bytes_ = DTypeRowBytes(options.type, c.head_dim);
  a->block_bytes_ = block_bytes;
  const uint64_t total = static_cast<uint64_t>(block_bytes) * options.num_blocks;
  if (options.memory != nullptr) {
    a->base_ = options.memory;
    return a;
  }
  // Small pages: KV memory is first written by prefills and by KV pulls, both on the way to a
  // first or next token, where a huge page's first touch costs 5x (core/memory.h); decode
  // speed is within 1-3 % either way (docs/perf.md).
  a->data_ = AllocateLarge(total, /*huge_pages=*/false);
  if (a->data_ == nullptr) {
    return Status::ResourceExhausted("cannot allocate " + std::to_string(total >> 20) +
                                     " MiB of KV cache");
  }
  a->base_ = a->data_.get();
  return a;
}

kernels::PagedKv KvArena::Layer(int64_t layer) const {
  kernels::PagedKv kv;
  kv.type = type_;
  kv.block_size = block_size_;
  kv.row_bytes = row_bytes_;
  kv.head_stride = block_size_ * row_bytes_;
  kv.block_stride = block_bytes_;
  const int64_t half = n_kv_head_ * kv.head_stride;  // one layer's keys in one block
  kv.k = base_ + layer * 2 * half;
  kv.v = kv.k + half;
  return kv;
}

}  // namespace mint::model
