#include "kvstore/disk_tier.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/log.h"

namespace mint::kvstore {
namespace {

constexpr char kMagic[8] = {'M', 'I', 'N', 'T', 'K', 'V', 'B', '1'};
constexpr uint32_t kVersion = 1;
constexpr char kSuffix[] = ".kvb";

void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint32_t Get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string Hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The block hash a file name spells, if it is one of ours.
std::optional<BlockHash> HashOfName(const std::string& name) {
  const size_t n = std::strlen(kSuffix);
  if (name.size() != 16 + n || name.compare(16, n, kSuffix) != 0) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < 16; ++i) {
    const char c = name[i];
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

}  // namespace

uint64_t PayloadChecksum(std::span<const uint8_t> payload) {
  return XXH3_64bits(payload.data(), payload.size());
}

void EncodeBlockFileHeader(const BlockFileHeader& h, uint8_t out[kBlockFileHeaderBytes]) {
  std::memcpy(out, kMagic, 8);
  Put32(out + 8, kVersion);
  Put32(out + 12, h.parent ? 1u : 0u);
  Put64(out + 16, h.fingerprint);
  Put64(out + 24, h.hash);
  Put64(out + 32, h.parent.value_or(0));
  Put64(out + 40, h.sequence);
  Put64(out + 48, h.payload_bytes);
  Put64(out + 56, h.payload_checksum);
  Put64(out + 64, XXH3_64bits(out, 64));
}

Result<BlockFileHeader> DecodeBlockFileHeader(std::span<const uint8_t> b) {
  if (b.size() < kBlockFileHeaderBytes) return Status::Corruption("block file header: short");
  if (std::memcmp(b.data(), kMagic, 8) != 0) return Status::Corruption("block file: bad magic");
  if (Get64(b.data() + 64) != XXH3_64bits(b.data(), 64)) {
    return Status::Corruption("block file header: checksum mismatch");
  }
  if (Get32(b.data() + 8) != kVersion) {
    return Status::Corruption("block file: version " + std::to_string(Get32(b.data() + 8)));
  }
  BlockFileHeader h;
  const uint32_t flags = Get32(b.data() + 12);
  h.fingerprint = Get64(b.data() + 16);
  h.hash = Get64(b.data() + 24);
  if (flags & 1u) h.parent = Get64(b.data() + 32);
  h.sequence = Get64(b.data() + 40);
  h.payload_bytes = Get64(b.data() + 48);
  h.payload_checksum = Get64(b.data() + 56);
  return h;
}

Result<uint64_t> KvFingerprint(const std::string& model_path, const std::string& layout) {
  auto io = MakePosixBlockFileIo();
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(model_path, ec);
  if (ec) return Status::IoError("fingerprint: " + model_path + ": " + ec.message());
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, &size, sizeof(size));
  XXH3_64bits_update(st, layout.data(), layout.size());
  constexpr uint64_t kSample = 64 << 10;
  std::vector<uint8_t> buf;
  for (uint64_t i = 0; i < 16; ++i) {
    const uint64_t at = size > kSample ? (size - kSample) / 15 * i : 0;
    buf.resize(static_cast<size_t>(std::min(kSample, size - at)));
    Status s = io->ReadFile(model_path, at, buf);
    if (!s.ok()) {
      XXH3_freeState(st);
      return s;
    }
    XXH3_64bits_update(st, buf.data(), buf.size());
  }
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

Result<std::unique_ptr<DiskTier>> DiskTier::Open(const DiskTierConfig& config) {
  if (config.dir.empty()) return Status::InvalidArgument("disk KV tier: no directory");
  if (config.capacity_blocks <= 0 || config.block_bytes == 0) {
    return Status::InvalidArgument("disk KV tier: needs room for at least one block");
  }
  std::unique_ptr<DiskTier> t(new DiskTier(config));
  MINT_RETURN_IF_ERROR(t->io_->MakeDirs(t->dir_));
  MINT_RETURN_IF_ERROR(t->Scan());
  return t;
}

DiskTier::DiskTier(const DiskTierConfig& config) : config_(config) {
  if (config_.io == nullptr) owned_io_ = MakePosixBlockFileIo();
  io_ = config_.io != nullptr ? config_.io : owned_io_.get();
  dir_ = config_.dir + "/" + Hex16(config_.fingerprint);
  stats_.capacity_blocks = config_.capacity_blocks;
  stats_.block_bytes = config_.block_bytes;
}

DiskTier::~DiskTier() = default;

std::string DiskTier::PathOf(BlockHash hash) const { return dir_ + "/" + Hex16(hash) + kSuffix; }

void DiskTier::Drop(const std::string& path, const std::string& why) {
  log::Warn("disk KV tier: dropping {}: {}", path, why);
  (void)io_->Remove(path);
  std::lock_guard lk(mu_);
  ++stats_.dropped;
}

Status DiskTier::Scan() {
  MINT_ASSIGN_OR_RETURN(std::vector<FileInfo> files, io_->List(dir_));
  const uint64_t want = kBlockFileHeaderBytes + config_.block_bytes;
  std::vector<BlockFileHeader> found;
  for (const FileInfo& f : files) {
    const std::string path = dir_ + "/" + f.name;
    if (f.name.size() > 4 && f.name.compare(f.name.size() - 4, 4, ".tmp") == 0) {
      Drop(path, "an unfinished write");
      continue;
    }
    const auto name_hash = HashOfName(f.name);
    if (!name_hash) continue;  // not ours: leave it
    if (f.size != want) {
      Drop(path, std::to_string(f.size) + " bytes, want " + std::to_string(want) + " (torn?)");
      continue;
    }
    uint8_t raw[kBlockFileHeaderBytes];
    Status st = io_->ReadFile(path, 0, raw);
    auto h = st.ok() ? DecodeBlockFileHeader(raw) : Result<BlockFileHeader>(st);
    if (!h.ok()) {
      Drop(path, h.status().ToString());
      continue;
    }
    if (h->fingerprint != config_.fingerprint || h->hash != *name_hash ||
        h->payload_bytes != config_.block_bytes) {
      Drop(path, "written for another model, layout or block");
      continue;
    }
    found.push_back(*h);
  }
  std::sort(found.begin(), found.end(), [](const BlockFileHeader& a, const BlockFileHeader& b) {
    return a.sequence < b.sequence;
  });
  const size_t keep = std::min(found.size(), static_cast<size_t>(config_.capacity_blocks));
  for (size_t i = 0; i + keep < found.size(); ++i) Drop(PathOf(found[i].hash), "over capacity");
  std::lock_guard lk(mu_);
  for (size_t i = found.size() - keep; i < found.size(); ++i) {
    index_.Insert({found[i].hash, found[i].parent, 0});
  }
  if (!found.empty()) next_sequence_ = found.back().sequence + 1;
  stats_.found_at_open = static_cast<int64_t>(index_.size());
  return Status::Ok();
}

bool DiskTier::Contains(BlockHash hash) const {
  std::lock_guard lk(mu_);
  return index_.Contains(hash);
}

bool DiskTier::Touch(BlockHash hash) {
  std::lock_guard lk(mu_);
  return index_.Touch(hash);
}

size_t DiskTier::CountPrefix(std::span<const BlockHash> hashes) const {
  std::lock_guard lk(mu_);
  return index_.CountPrefix(hashes);
}

Status DiskTier::Write(BlockHash hash, std::optional<BlockHash> parent,
                       std::span<const uint8_t> bytes, std::vector<BlockHash>* evicted,
                       bool* inserted) {
  if (inserted != nullptr) *inserted = false;
  if (bytes.size() != config_.block_bytes) {
    return Status::InvalidArgument("disk KV tier: block of " + std::to_string(bytes.size()) +
                                   " bytes, want " + std::to_string(config_.block_bytes));
  }
  std::vector<BlockHash> victims;
  uint64_t sequence = 0;
  {
    std::lock_guard lk(mu_);
    if (index_.Touch(hash)) return Status::Ok();
    sequence = next_sequence_++;
    while (static_cast<int64_t>(index_.size()) + 1 > config_.capacity_blocks) {
      auto v = index_.Victim();
      if (!v) return Status::ResourceExhausted("disk KV tier: every block is in use");
      index_.Remove(v->hash);
      victims.push_back(v->hash);
      ++stats_.evicted;
    }
  }
  for (BlockHash v : victims) (void)io_->Remove(PathOf(v));
  if (evicted != nullptr) evicted->insert(evicted->end(), victims.begin(), victims.end());
  BlockFileHeader h;
  h.fingerprint = config_.fingerprint;
  h.hash = hash;
  h.parent = parent;
  h.sequence = sequence;
  h.payload_bytes = bytes.size();
  h.payload_checksum = PayloadChecksum(bytes);
  uint8_t raw[kBlockFileHeaderBytes];
  EncodeBlockFileHeader(h, raw);
  const std::span<const uint8_t> parts[] = {std::span<const uint8_t>(raw, sizeof(raw)), bytes};
  Status st = io_->WriteFile(PathOf(hash), parts);
  std::lock_guard lk(mu_);
  if (!st.ok()) {
    ++stats_.write_errors;
    return st;
  }
  if (!index_.Contains(hash)) {
    index_.Insert({hash, parent, 0});
    if (inserted != nullptr) *inserted = true;
  }
  ++stats_.writes;
  return Status::Ok();
}

Status DiskTier::Read(BlockHash hash, std::span<uint8_t> out) {
  std::optional<TierIndex::Entry> e;
  {
    std::lock_guard lk(mu_);
    e = index_.Find(hash);
    if (!e) return Status::NotFound("disk KV tier: block not held");
    index_.Pin(hash);
    index_.Touch(hash);
  }
  const std::string path = PathOf(hash);
  uint8_t raw[kBlockFileHeaderBytes];
  Status st = io_->ReadFile(path, 0, raw);
  if (st.ok()) st = io_->ReadFile(path, kBlockFileHeaderBytes, out);
  Status bad;
  if (st.ok()) {
    auto h = DecodeBlockFileHeader(raw);
    if (!h.ok()) {
      bad = h.status();
    } else if (h->hash != hash || h->fingerprint != config_.fingerprint ||
               h->payload_bytes != out.size()) {
      bad = Status::Corruption("block file header does not match its name");
    } else if (PayloadChecksum(out) != h->payload_checksum) {
      bad = Status::Corruption("block payload checksum mismatch");
    }
  } else if (st.code() == StatusCode::kCorruption || st.code() == StatusCode::kNotFound) {
    bad = st;
  }
  {
    std::lock_guard lk(mu_);
    index_.Unpin(hash);
    if (!st.ok() || !bad.ok()) {
      ++stats_.read_errors;
      if (!bad.ok()) index_.Remove(hash);
    } else {
      ++stats_.reads;
    }
  }
  if (!bad.ok()) {
    Drop(path, bad.ToString());
    return Status::Corruption("disk KV tier: " + bad.message());
  }
  if (!st.ok()) log::Warn("disk KV tier: {}", st.ToString());
  return st;
}

DiskTierStats DiskTier::Stats() const {
  std::lock_guard lk(mu_);
  DiskTierStats s = stats_;
  s.blocks = static_cast<int64_t>(index_.size());
  return s;
}

}  // namespace mint::kvstore
