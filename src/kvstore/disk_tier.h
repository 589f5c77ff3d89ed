// DiskTier: KV blocks as files on local disk, one file per block, kept across restarts.
//
// Layout: <dir>/<fingerprint as 16 hex digits>/<sequence hash as 16 hex digits>.kvb, each file a
// 72-byte header then block_bytes of KV:
//   magic "MINTKVB1" | version u32 = 1 | flags u32 (bit 0: has parent) | fingerprint u64 |
//   hash u64 | parent hash u64 | write sequence u64 | payload bytes u64 | payload xxh3-64 u64 |
//   header xxh3-64 u64
// (little-endian; the last field covers the 64 bytes before it; the write sequence orders the
// files for eviction after a restart). Files are written whole under a
// temporary name and renamed, so a crash leaves the old state or the new one.
//
// The fingerprint names the model, KV dtype, block size and salt (the caller computes it): a
// worker only ever lists its own fingerprint's directory, and checks the fingerprint in every
// header as well, so it never serves a block written for another model or layout. Open scans
// the directory and rebuilds the index from the headers (least recently written first; the most
// recently written capacity_blocks if there are more), so a
// restarted worker finds its blocks again; a file of the wrong size, a bad header or another
// fingerprint is removed with a log line. A payload checksum that fails on Read drops that file
// and returns kCorruption.
//
// Capacity: at most capacity_blocks files; Write evicts least recently used leaves (TierIndex)
// first. I/O goes through BlockFileIo; call Write and Read from I/O threads, never from the
// engine loop.
//
// Thread-safety: every method is thread-safe; I/O runs outside the index lock, with the block
// pinned so it cannot be evicted meanwhile.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "core/hash.h"
#include "core/status.h"
#include "kvstore/block_file_io.h"
#include "kvstore/tier_index.h"

namespace mint::kvstore {

struct DiskTierConfig {
  std::string dir;
  int64_t capacity_blocks = 0;  // > 0
  uint64_t block_bytes = 0;     // > 0
  uint64_t fingerprint = 0;
  BlockFileIo* io = nullptr;  // not owned; null: POSIX
};

struct DiskTierStats {
  int64_t capacity_blocks = 0;
  int64_t blocks = 0;
  uint64_t block_bytes = 0;
  int64_t found_at_open = 0;  // valid blocks found by Open (a warm restart)
  uint64_t writes = 0;        // cumulative
  uint64_t reads = 0;         // cumulative (successful)
  uint64_t evicted = 0;       // cumulative
  uint64_t dropped = 0;       // files removed as torn, corrupt or foreign
  uint64_t write_errors = 0;  // cumulative
  uint64_t read_errors = 0;   // cumulative (I/O errors and checksum failures)
};

inline constexpr uint64_t kBlockFileHeaderBytes = 72;

class DiskTier {
 public:
  static Result<std::unique_ptr<DiskTier>> Open(const DiskTierConfig& config);
  ~DiskTier();

  uint64_t block_bytes() const { return config_.block_bytes; }
  const std::string& dir() const { return dir_; }
  bool Contains(BlockHash hash) const;
  size_t CountPrefix(std::span<const BlockHash> hashes) const;
  // Makes a held block the most recently used; false if absent.
  bool Touch(BlockHash hash);

  // Writes a block (a no-op for a block already held: *inserted false). Blocks evicted to make
  // room are appended to *evicted. On an I/O error nothing is indexed and the error is returned
  // (the caller counts it and goes on without the disk).
  Status Write(BlockHash hash, std::optional<BlockHash> parent, std::span<const uint8_t> bytes,
               std::vector<BlockHash>* evicted = nullptr, bool* inserted = nullptr);
  // Reads a held block into `out` (block_bytes) and checks it. kNotFound if not held;
  // kCorruption (and the file is dropped) if the checksum or header fails.
  Status Read(BlockHash hash, std::span<uint8_t> out);

  DiskTierStats Stats() const;

 private:
  explicit DiskTier(const DiskTierConfig& config);
  Status Scan();
  std::string PathOf(BlockHash hash) const;
  void Drop(const std::string& path, const std::string& why);

  DiskTierConfig config_;
  std::unique_ptr<BlockFileIo> owned_io_;
  BlockFileIo* io_ = nullptr;
  std::string dir_;  // config.dir / fingerprint
  mutable std::mutex mu_;
  TierIndex index_;             // guarded by mu_
  DiskTierStats stats_;         // guarded by mu_
  uint64_t next_sequence_ = 1;  // guarded by mu_
};

// The 64-byte header of a block file (exposed for tests and tools).
struct BlockFileHeader {
  uint64_t fingerprint = 0;
  BlockHash hash = 0;
  std::optional<BlockHash> parent;
  uint64_t sequence = 0;
  uint64_t payload_bytes = 0;
  uint64_t payload_checksum = 0;
};
void EncodeBlockFileHeader(const BlockFileHeader& h, uint8_t out[kBlockFileHeaderBytes]);
// kCorruption for a bad magic, version or header checksum.
Result<BlockFileHeader> DecodeBlockFileHeader(std::span<const uint8_t> bytes);
uint64_t PayloadChecksum(std::span<const uint8_t> payload);

// A disk tier's fingerprint: the model file (its size and 16 samples of 64 KiB spread over it,
// so two fine-tunes of one architecture differ) and `layout` (KV dtype, block size, salt: what
// else makes a block's bytes).
Result<uint64_t> KvFingerprint(const std::string& model_path, const std::string& layout);

}  // namespace mint::kvstore
