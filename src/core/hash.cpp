#include "core/hash.h"

#include <xxhash.h>

#include <cstring>

namespace mint {
namespace {

// Token ids are hashed as little-endian u32; x86-64 and aarch64 Linux are little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "block hashes assume little-endian");

}  // namespace

BlockHash LocalBlockHash(std::span<const uint32_t> tokens, uint64_t salt) {
  return XXH3_64bits_withSeed(tokens.data(), tokens.size_bytes(), kBlockHashSeed + salt);
}

BlockHash SequenceBlockHash(BlockHash parent_sequence_hash, BlockHash local_hash, uint64_t salt) {
  uint64_t pair[2] = {parent_sequence_hash, local_hash};
  return XXH3_64bits_withSeed(pair, sizeof(pair), kBlockHashSeed + salt);
}

std::vector<BlockHash> SequenceBlockHashes(std::span<const uint32_t> tokens, size_t block_size,
                                           uint64_t salt) {
  std::vector<BlockHash> out;
  if (block_size == 0) return out;
  out.reserve(tokens.size() / block_size);
  for (size_t i = 0; i + block_size <= tokens.size(); i += block_size) {
    BlockHash local = LocalBlockHash(tokens.subspan(i, block_size), salt);
    out.push_back(out.empty() ? local : SequenceBlockHash(out.back(), local, salt));
  }
  return out;
}

}  // namespace mint
