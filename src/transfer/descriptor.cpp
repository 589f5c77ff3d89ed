// Descriptor bytes: "MKVD", version 2, then little-endian fields:
//   u16 host length, host, u16 port, u16 shm name length, shm name, i32 shm slot, u64 export id,
//   16-byte secret, u64 block bytes, u32 block count, i32 block ids.

#include <cstring>

#include "transfer/transfer.h"

namespace mint::transfer {
namespace {

constexpr char kMagic[4] = {'M', 'K', 'V', 'D'};
constexpr uint8_t kVersion = 2;

template <class T>
void Put(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->append(b, sizeof(T));
}

// Reads fixed-size fields and byte strings from `bytes`, failing (once) on any overrun.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : b_(bytes) {}
  template <class T>
  bool Get(T* v) {
    if (b_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetBytes(size_t n, std::string* out) {
    if (b_.size() - pos_ < n) return false;
    out->assign(b_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  size_t remaining() const { return b_.size() - pos_; }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

}  // namespace

std::string Serialize(const Descriptor& d) {
  std::string out(kMagic, sizeof(kMagic));
  Put<uint8_t>(&out, kVersion);
  Put<uint16_t>(&out, static_cast<uint16_t>(d.host.size()));
  out += d.host;
  Put<uint16_t>(&out, d.port);
  Put<uint16_t>(&out, static_cast<uint16_t>(d.shm_name.size()));
  out += d.shm_name;
  Put<int32_t>(&out, d.shm_slot);
  Put<uint64_t>(&out, d.export_id);
  out.append(reinterpret_cast<const char*>(d.secret.data()), d.secret.size());
  Put<uint64_t>(&out, d.block_bytes);
  Put<uint32_t>(&out, static_cast<uint32_t>(d.blocks.size()));
  for (int32_t b : d.blocks) Put<int32_t>(&out, b);
  return out;
}

Result<Descriptor> ParseDescriptor(std::string_view bytes) {
  auto bad = [](const std::string& what) {
    return Status::InvalidArgument("KV transfer descriptor: " + what);
  };
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return bad("bad magic (not a Mint KV transfer descriptor)");
  }
  Reader r(bytes.substr(sizeof(kMagic)));
  Descriptor d;
  uint8_t version = 0;
  uint16_t host_len = 0, shm_len = 0;
  uint32_t n = 0;
  if (!r.Get(&version)) return bad("truncated");
  if (version != kVersion) {
    return bad("version " + std::to_string(version) + ", this build reads " +
               std::to_string(kVersion));
  }
  if (!r.Get(&host_len) || !r.GetBytes(host_len, &d.host) || !r.Get(&d.port) || !r.Get(&shm_len) ||
      !r.GetBytes(shm_len, &d.shm_name) || !r.Get(&d.shm_slot) || !r.Get(&d.export_id)) {
    return bad("truncated");
  }
  if (d.shm_slot < -1 || (d.shm_slot >= 0 && d.shm_name.empty())) return bad("bad shm slot");
  std::string secret;
  if (!r.GetBytes(d.secret.size(), &secret) || !r.Get(&d.block_bytes) || !r.Get(&n)) {
    return bad("truncated");
  }
  std::memcpy(d.secret.data(), secret.data(), d.secret.size());
  if (d.host.empty() || d.port == 0) return bad("no server address");
  if (d.block_bytes == 0) return bad("zero block size");
  if (n == 0 || n > kMaxBlocksPerExport) {
    return bad("block count " + std::to_string(n) + " (1.." +
               std::to_string(kMaxBlocksPerExport) + ")");
  }
  if (r.remaining() != static_cast<size_t>(n) * sizeof(int32_t)) {
    return bad("block list is " + std::to_string(r.remaining()) + " bytes, expected " +
               std::to_string(static_cast<size_t>(n) * sizeof(int32_t)));
  }
  d.blocks.resize(n);
  for (auto& b : d.blocks) {
    r.Get(&b);
    if (b < 0) return bad("negative block id");
  }
  return d;
}

}  // namespace mint::transfer
