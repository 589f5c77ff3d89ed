// KvArena: the memory of a paged KV cache — one preallocated region of fixed-size blocks.
//
// Layout, block-major so that one block (all layers, keys and values) is one contiguous range,
// the unit later KV offload and transfer move:
//   block b: [layer][K, V][kv_head][slot 0 .. block_size)[head_dim elements of `type`]
// Which block holds which positions of which sequence is the caller's business (block tables,
// engine/block_pool.h); the arena only maps (block, layer) to memory.
//
// Thread-safety: the arena's geometry is immutable; its bytes are written by Model::ForwardBatch
// only for the blocks a batch addresses, so concurrent passes must use disjoint blocks (the
// engine runs one pass at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/dtype.h"
#include "core/memory.h"
#include "core/status.h"
#include "kernels/kernels.h"

namespace mint::model {

struct ModelConfig;

struct KvCacheOptions {
  DType type = DType::kF16;  // F16 (default), F32, BF16 or Q8_0
  int64_t block_size = 16;   // tokens per block
  int64_t num_blocks = 0;    // > 0
  // Memory for the blocks, at least num_blocks * BytesPerBlock bytes, owned by the caller and
  // outliving the arena (a shared region a KV connector exports from); null: the arena
  // allocates its own.
  uint8_t* memory = nullptr;
};

// Parses "f16", "f32", "bf16", "q8_0" (the --kv-cache-type flag).
Result<DType> ParseKvCacheType(const std::string& name);

class KvArena {
 public:
  // Bytes one block takes for this model (all layers, K and V), or an error for an unsupported
  // cache type or a head size the type's blocks do not divide.
  static Result<int64_t> BytesPerBlock(const ModelConfig& config, DType type, int64_t block_size);
  // Allocates options.num_blocks blocks (address space only; pages are touched on first write).
  static Result<std::unique_ptr<KvArena>> Create(const ModelConfig& config,
                                                 const KvCacheOptions& options);

  DType type() const { return type_; }
  int64_t block_size() const { return block_size_; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_bytes() const { return block_bytes_; }
  int64_t n_layer() const { return n_layer_; }
  int64_t kv_dim() const { return n_kv_head_ * head_dim_; }
  uint64_t bytes() const { return static_cast<uint64_t>(block_bytes_) * num_blocks_; }
  // The kernels' view of one layer.
  kernels::PagedKv Layer(int64_t layer) const;
  uint8_t* BlockData(int64_t block) const { return base_ + block * block_bytes_; }

 private:
  KvArena() = default;
  DType type_ = DType::kF16;
  int64_t block_size_ = 0, num_blocks_ = 0, n_layer_ = 0, n_kv_head_ = 0, head_dim_ = 0;
  int64_t row_bytes_ = 0, block_bytes_ = 0;
  LargeBuffer data_;  // when the arena allocated its memory
  uint8_t* base_ = nullptr;
};

}  // namespace mint::model
