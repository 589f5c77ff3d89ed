// libFuzzer target: the disk KV tier's block files (src/kvstore/disk_tier.cpp). Arbitrary bytes
// are a block file found at start (a torn, corrupt or foreign file must be dropped, never served
// or crash) and a header to decode; a file that survives the scan is read back and must match
// its checksum. In-memory I/O through the BlockFileIo seam, so the fuzzer never touches a disk.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/log.h"
#include "kvstore/disk_tier.h"

namespace {

using mint::Result;
using mint::Status;
using mint::kvstore::FileInfo;

class MemoryIo final : public mint::kvstore::BlockFileIo {
 public:
  Status MakeDirs(const std::string&) override { return Status::Ok(); }
  Result<std::vector<FileInfo>> List(const std::string& dir) override {
    std::vector<FileInfo> out;
    for (const auto& [path, bytes] : files) {
      if (path.rfind(dir + "/", 0) == 0) {
        out.push_back({path.substr(dir.size() + 1), bytes.size(), 0});
      }
    }
    return out;
  }
  Status WriteFile(const std::string& path,
                   std::span<const std::span<const uint8_t>> parts) override {
    std::vector<uint8_t> all;
    for (auto p : parts) all.insert(all.end(), p.begin(), p.end());
    files[path] = std::move(all);
    return Status::Ok();
  }
  Status ReadFile(const std::string& path, uint64_t offset, std::span<uint8_t> out) override {
    auto it = files.find(path);
    if (it == files.end()) return Status::NotFound(path);
    if (offset + out.size() > it->second.size()) return Status::Corruption("short");
    std::memcpy(out.data(), it->second.data() + offset, out.size());
    return Status::Ok();
  }
  Status Remove(const std::string& path) override {
    files.erase(path);
    return Status::Ok();
  }
  std::map<std::string, std::vector<uint8_t>> files;
};

constexpr uint64_t kBlockBytes = 64;
constexpr uint64_t kFingerprint = 0x2a;

uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, 8);
  return v;
}

// The file the input stands for. Byte 0 picks how much of it is made valid, so the fuzzer
// reaches every check of the scan and the read: bit 0 set: a well-formed header is built from
// the next 33 bytes (the rest is the payload), else the rest is the whole file; bit 1: the
// header's payload checksum is the payload's real one; bit 2: the fingerprint is this tier's;
// bit 3: the hash matches the file name; bit 4: the payload size field is the true size.
std::vector<uint8_t> FileOf(const uint8_t* data, size_t size) {
  if (size == 0) return {};
  const uint8_t mode = data[0];
  if (!(mode & 1) || size < 34) return std::vector<uint8_t>(data + 1, data + size);
  const uint8_t* f = data + 1;
  std::span<const uint8_t> payload(data + 34, size - 34);
  mint::kvstore::BlockFileHeader h;
  h.fingerprint = (mode & 4) ? kFingerprint : Get64(f);
  h.hash = (mode & 8) ? 1 : Get64(f + 8);
  if (f[32] & 1) h.parent = Get64(f + 16);
  h.sequence = f[24];
  h.payload_bytes = (mode & 16) ? payload.size() : Get64(f + 25) % 4096;
  h.payload_checksum = (mode & 2) ? mint::kvstore::PayloadChecksum(payload) : Get64(f + 16);
  std::vector<uint8_t> file(mint::kvstore::kBlockFileHeaderBytes);
  mint::kvstore::EncodeBlockFileHeader(h, file.data());
  file.insert(file.end(), payload.begin(), payload.end());
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    mint::log::SetLevel(mint::log::Level::kOff);
    return true;
  }();
  (void)quiet;
  const std::vector<uint8_t> input = FileOf(data, size);
  (void)mint::kvstore::DecodeBlockFileHeader(input);
  MemoryIo io;
  // The input as block 1's file; a valid block 2 beside it.
  const std::string dir = "/d/000000000000002a";
  io.files[dir + "/0000000000000001.kvb"] = input;
  {
    std::vector<uint8_t> payload(kBlockBytes, 7);
    mint::kvstore::BlockFileHeader h{.fingerprint = kFingerprint,
                                     .hash = 2,
                                     .payload_bytes = kBlockBytes,
                                     .payload_checksum = mint::kvstore::PayloadChecksum(payload)};
    std::vector<uint8_t> file(mint::kvstore::kBlockFileHeaderBytes);
    mint::kvstore::EncodeBlockFileHeader(h, file.data());
    file.insert(file.end(), payload.begin(), payload.end());
    io.files[dir + "/0000000000000002.kvb"] = std::move(file);
  }
  auto tier = mint::kvstore::DiskTier::Open({.dir = "/d",
                                             .capacity_blocks = 4,
                                             .block_bytes = kBlockBytes,
                                             .fingerprint = kFingerprint,
                                             .io = &io});
  if (!tier.ok()) __builtin_trap();  // the scan drops bad files; it never fails on them
  std::vector<uint8_t> out(kBlockBytes);
  if (!(*tier)->Read(2, out).ok() || out != std::vector<uint8_t>(kBlockBytes, 7)) __builtin_trap();
  if ((*tier)->Contains(1)) {
    // Kept at start: its size and header matched; the payload checksum decides now.
    Status st = (*tier)->Read(1, out);
    if (st.ok()) {
      const auto header = mint::kvstore::DecodeBlockFileHeader(input);
      if (!header.ok() || header->payload_checksum != mint::kvstore::PayloadChecksum(out) ||
          header->fingerprint != kFingerprint || header->hash != 1) {
        __builtin_trap();  // served a block that is not what its header promises
      }
    } else if ((*tier)->Contains(1)) {
      __builtin_trap();  // a corrupt file stays indexed
    }
  }
  return 0;
}
