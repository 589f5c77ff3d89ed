// BlockFileIo: the disk tier's I/O seam. The POSIX implementation does the real work; tests put
// a faulty one in its place (a full disk, a read-only directory, an I/O error) to check that the
// tier degrades to recomputation instead of failing requests.
//
// Thread-safety: implementations must allow concurrent calls on different paths.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace mint::kvstore {

struct FileInfo {
  std::string name;  // within the directory
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

class BlockFileIo {
 public:
  virtual ~BlockFileIo() = default;
  virtual Status MakeDirs(const std::string& dir) = 0;
  // Regular files of `dir` (not recursive).
  virtual Result<std::vector<FileInfo>> List(const std::string& dir) = 0;
  // Writes the concatenation of `parts` as the whole file `path`, atomically: a reader (or a
  // restart after a crash) sees the old file, no file, or the whole new one, never a part.
  virtual Status WriteFile(const std::string& path,
                           std::span<const std::span<const uint8_t>> parts) = 0;
  // Reads exactly out.size() bytes at `offset`; a short file is an error.
  virtual Status ReadFile(const std::string& path, uint64_t offset, std::span<uint8_t> out) = 0;
  virtual Status Remove(const std::string& path) = 0;
};

// open / pwritev / rename / pread; files written under a temporary name then renamed.
std::unique_ptr<BlockFileIo> MakePosixBlockFileIo();

}  // namespace mint::kvstore
