// KV block identity: the one definition (DESIGN.md "Fixed decisions", STYLE.md habit 8).
//
// A block's local hash is xxh3-64 (seed 1337 + salt) over its token ids as little-endian u32.
// Its sequence hash chains the parent's sequence hash with the local hash: the first block's
// sequence hash is its local hash; later ones are xxh3-64(seed 1337 + salt) over the 16 bytes
// [parent sequence hash LE u64, local hash LE u64]. Engine, router and kvstore all call these.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mint {

using BlockHash = uint64_t;
inline constexpr uint64_t kBlockHashSeed = 1337;

// Hash of one block's tokens. `salt` (LoRA id, namespace) is added to the seed; 0 = none.
BlockHash LocalBlockHash(std::span<const uint32_t> tokens, uint64_t salt = 0);

// Chains a parent's sequence hash with a block's local hash.
BlockHash SequenceBlockHash(BlockHash parent_sequence_hash, BlockHash local_hash,
                            uint64_t salt = 0);

// Sequence hashes of every *full* block of `tokens` (a trailing partial block is not hashed).
std::vector<BlockHash> SequenceBlockHashes(std::span<const uint32_t> tokens, size_t block_size,
                                           uint64_t salt = 0);

}  // namespace mint
