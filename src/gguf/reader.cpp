// The validating GGUF reader: Open (mmap) / FromMemory, the parse phases (header, metadata,
// tensor infos, data placement) and the typed metadata getters.
//
// Every count read from the file is checked against the bytes that remain before anything is
// allocated for it, so a hostile count costs an error, not memory: each metadata entry needs at
// least kMinKvSize bytes, each tensor info kMinTensorInfoSize, each array item MinEncodedSize().
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "gguf/format.h"
#include "gguf/gguf.h"

namespace mint::gguf {
namespace internal {

Status ByteReader::Truncated(size_t need, const char* what) const {
  return Status::Corruption("truncated: " + std::string(what) + " needs " + std::to_string(need) +
                            " bytes at byte " + std::to_string(pos_) + ", only " +
                            std::to_string(remaining()) + " left");
}

Status ByteReader::ReadBytes(void* out, size_t n, const char* what) {
  if (n > remaining()) return Truncated(n, what);
  if (n > 0) std::memcpy(out, data_ + pos_, n);
  pos_ += n;
  return Status::Ok();
}

Status ByteReader::ReadString(std::string* out, const char* what) {
  const size_t at = pos_;
  uint64_t len = 0;
  MINT_RETURN_IF_ERROR(ReadU64(&len, what));
  if (len > remaining()) {
    return CorruptAt(at, std::string(what) + " length " + std::to_string(len) + " exceeds the " +
                             std::to_string(remaining()) + " bytes left");
  }
  out->assign(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
  pos_ += static_cast<size_t>(len);
  return Status::Ok();
}

Status TensorBytes(DType type, const std::vector<int64_t>& dims, int64_t* nbytes) {
  const int64_t block = DTypeBlockElements(type);
  if (dims.empty() || dims[0] % block != 0) {
    return Status::Corruption("row of " + std::to_string(dims.empty() ? 0 : dims[0]) +
                              " elements is not a multiple of the " + DTypeName(type) +
                              " block size " + std::to_string(block));
  }
  // DTypeRowBytes does not check overflow, so the row size is computed here.
  int64_t elements = 1;
  int64_t bytes = 0;
  bool overflow = __builtin_mul_overflow(dims[0] / block, DTypeBlockBytes(type), &bytes);
  for (size_t i = 0; i < dims.size() && !overflow; ++i) {
    overflow = __builtin_mul_overflow(elements, dims[i], &elements) ||
               (i > 0 && __builtin_mul_overflow(bytes, dims[i], &bytes));
  }
  if (overflow) return Status::Corruption("element count or byte size overflows int64");
  *nbytes = bytes;
  return Status::Ok();
}

}  // namespace internal

namespace {

using internal::ByteReader;
using internal::CorruptAt;

constexpr size_t kHeaderSize = 24;        // magic, version, tensor count, metadata count
constexpr size_t kMinKvSize = 8 + 4 + 1;  // empty key, value type, a u8 value
constexpr size_t kMinTensorInfoSize = 8 + 4 + 8 + 4 + 8;  // empty name, n_dims, 1 dim, type, offset

// For error messages: a name from the file, quoted, escaped and cut.
std::string Quoted(const std::string& s) { return FormatValue(Value::String(s)); }

Status CheckVersion(uint32_t version) {
  if (version == 2 || version == 3) return Status::Ok();
  if (version == 1) {
    return Status::Unsupported("GGUF version 1 is not supported (only 2 and 3) at byte 4");
  }
  const uint32_t swapped = __builtin_bswap32(version);
  if (swapped >= 1 && swapped <= 3) {
    return Status::Unsupported("big-endian GGUF (version " + std::to_string(swapped) +
                               " byte-swapped) is not supported at byte 4");
  }
  return Status::Unsupported("unknown GGUF version " + std::to_string(version) + " at byte 4");
}

Status ReadValue(ByteReader& in, ValueType type, int level, Value* out);

// An array body (element type, count, items) at nesting `level` (1 = a metadata value's array).
Status ReadArray(ByteReader& in, int level, Value* out) {
  const size_t at = in.pos();
  if (level > kMaxArrayDepth) {
    return CorruptAt(at, "arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");
  }
  uint32_t elem_id = 0;
  MINT_RETURN_IF_ERROR(in.ReadU32(&elem_id, "array element type"));
  if (!IsValidValueType(elem_id)) {
    return CorruptAt(at, "unknown array element type " + std::to_string(elem_id));
  }
  const auto elem = static_cast<ValueType>(elem_id);
  uint64_t count = 0;
  MINT_RETURN_IF_ERROR(in.ReadU64(&count, "array length"));
  const size_t min_size = internal::MinEncodedSize(elem);
  if (count > in.remaining() / min_size) {
    return CorruptAt(at + 4, "array of " + std::to_string(count) + " " + ValueTypeName(elem) +
                                 " needs at least " + std::to_string(min_size) +
                                 " bytes each, only " + std::to_string(in.remaining()) + " left");
  }
  Array array;
  array.elem_type = elem;
  array.items.resize(static_cast<size_t>(count));
  for (size_t i = 0; i < array.items.size(); ++i) {
    Status s = ReadValue(in, elem, level, &array.items[i]);
    if (!s.ok()) return s.WithContext("array item " + std::to_string(i));
  }
  out->v = std::move(array);
  return Status::Ok();
}

template <typename Wire, typename Stored>
Status ReadInt(ByteReader& in, const char* what, Value* out) {
  std::make_unsigned_t<Wire> raw = 0;
  MINT_RETURN_IF_ERROR(in.ReadBytes(&raw, sizeof(raw), what));
  out->v = static_cast<Stored>(static_cast<Wire>(raw));
  return Status::Ok();
}

// One value of `type`; `level` is the number of arrays around it.
Status ReadValue(ByteReader& in, ValueType type, int level, Value* out) {
  out->type = type;
  switch (type) {
    case ValueType::kUint8:
      return ReadInt<uint8_t, uint64_t>(in, "u8 value", out);
    case ValueType::kInt8:
      return ReadInt<int8_t, int64_t>(in, "i8 value", out);
    case ValueType::kUint16:
      return ReadInt<uint16_t, uint64_t>(in, "u16 value", out);
    case ValueType::kInt16:
      return ReadInt<int16_t, int64_t>(in, "i16 value", out);
    case ValueType::kUint32:
      return ReadInt<uint32_t, uint64_t>(in, "u32 value", out);
    case ValueType::kInt32:
      return ReadInt<int32_t, int64_t>(in, "i32 value", out);
    case ValueType::kUint64:
      return ReadInt<uint64_t, uint64_t>(in, "u64 value", out);
    case ValueType::kInt64:
      return ReadInt<int64_t, int64_t>(in, "i64 value", out);
    case ValueType::kFloat32: {
      uint32_t bits = 0;
      MINT_RETURN_IF_ERROR(in.ReadU32(&bits, "f32 value"));
      out->v = static_cast<double>(std::bit_cast<float>(bits));
      return Status::Ok();
    }
    case ValueType::kFloat64: {
      uint64_t bits = 0;
      MINT_RETURN_IF_ERROR(in.ReadU64(&bits, "f64 value"));
      out->v = std::bit_cast<double>(bits);
      return Status::Ok();
    }
    case ValueType::kBool: {
      uint8_t b = 0;
      MINT_RETURN_IF_ERROR(in.ReadU8(&b, "bool value"));
      if (b > 1) {
        return CorruptAt(in.pos() - 1, "bool value " + std::to_string(b) + " is neither 0 nor 1");
      }
      out->v = b == 1;
      return Status::Ok();
    }
    case ValueType::kString: {
      std::string s;
      MINT_RETURN_IF_ERROR(in.ReadString(&s, "string value"));
      out->v = std::move(s);
      return Status::Ok();
    }
    case ValueType::kArray:
      return ReadArray(in, level + 1, out);
  }
  return CorruptAt(in.pos(), "unknown value type");  // unreachable: callers check the id
}

bool IsIntegerType(ValueType t) {
  return t != ValueType::kFloat32 && t != ValueType::kFloat64 && t != ValueType::kBool &&
         t != ValueType::kString && t != ValueType::kArray;
}

// `general.alignment`: an integer, nonzero power of two.
Status CheckAlignment(const Value& v, size_t at, uint64_t* alignment) {
  if (IsIntegerType(v.type)) {
    auto a = v.AsUint();
    if (a.ok() && *a != 0 && std::has_single_bit(*a)) {
      *alignment = *a;
      return Status::Ok();
    }
  }
  return CorruptAt(at, std::string(internal::kAlignmentKey) +
                           " must be a nonzero power of two, got " + ValueTypeName(v.type) + " " +
                           FormatValue(v, 4));
}

// One tensor info (name, dims, type, offset); data placement is checked later.
Status ReadTensorInfo(ByteReader& in, TensorInfo* t) {
  const size_t at = in.pos();
  MINT_RETURN_IF_ERROR(in.ReadString(&t->name, "tensor name"));
  if (t->name.empty()) return CorruptAt(at, "empty tensor name");
  const std::string who = "tensor " + Quoted(t->name);
  uint32_t n_dims = 0;
  const size_t dims_at = in.pos();
  MINT_RETURN_IF_ERROR(in.ReadU32(&n_dims, "tensor dimension count"));
  if (n_dims == 0 || n_dims > kMaxTensorDims) {
    return CorruptAt(dims_at, who + " has " + std::to_string(n_dims) + " dimensions (1.." +
                                  std::to_string(kMaxTensorDims) + " allowed)");
  }
  t->dims.resize(n_dims);
  for (uint32_t i = 0; i < n_dims; ++i) {
    const size_t dim_at = in.pos();
    uint64_t d = 0;
    MINT_RETURN_IF_ERROR(in.ReadU64(&d, "tensor dimension"));
    if (d == 0 || d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return CorruptAt(dim_at, who + " dimension " + std::to_string(i) + " is " +
                                   std::to_string(d) + " (must be in 1..2^63-1)");
    }
    t->dims[i] = static_cast<int64_t>(d);
  }
  const size_t type_at = in.pos();
  uint32_t type_id = 0;
  MINT_RETURN_IF_ERROR(in.ReadU32(&type_id, "tensor type"));
  if (!IsSupportedDType(type_id)) {
    return Status::Unsupported(
        who + " has type " + GgmlTypeName(type_id) + " (ggml type " + std::to_string(type_id) +
        "), which Mint does not support, at byte " + std::to_string(type_at));
  }
  t->type = static_cast<DType>(type_id);
  MINT_RETURN_IF_ERROR(in.ReadU64(&t->offset, "tensor data offset"));
  if (Status s = internal::TensorBytes(t->type, t->dims, &t->nbytes); !s.ok()) {
    return CorruptAt(at, who + " (" + DTypeName(t->type) + "): " + s.message());
  }
  return Status::Ok();
}

}  // namespace

GgufFile::~GgufFile() {
  if (owns_mapping_) munmap(const_cast<uint8_t*>(base_), size_);
}

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IoError(path + ": open: " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    return Status::IoError(path + ": not a readable regular file" +
                           (err != 0 ? std::string(" (") + std::strerror(err) + ")" : ""));
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void* map = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    if (map == MAP_FAILED) {
      ::close(fd);
      return Status::IoError(path + ": mmap: " + std::strerror(err));
    }
    file->base_ = static_cast<const uint8_t*>(map);
    file->owns_mapping_ = true;
  }
  ::close(fd);
  Status s = file->Parse();
  if (!s.ok()) return s.WithContext(path);
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::FromMemory(const uint8_t* data, size_t size) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->base_ = data;
  file->size_ = data == nullptr ? 0 : size;
  MINT_RETURN_IF_ERROR(file->Parse());
  return file;
}

Status GgufFile::Parse() {
  ByteReader in(base_, size_);
  uint8_t magic[4] = {};
  MINT_RETURN_IF_ERROR(in.ReadBytes(magic, sizeof(magic), "magic"));
  if (std::memcmp(magic, internal::kMagic, sizeof(magic)) != 0) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "bad magic %02X %02X %02X %02X (expected \"GGUF\")", magic[0],
                  magic[1], magic[2], magic[3]);
    return CorruptAt(0, buf);
  }
  MINT_RETURN_IF_ERROR(in.ReadU32(&version_, "version"));
  MINT_RETURN_IF_ERROR(CheckVersion(version_));
  uint64_t n_tensors = 0, n_kv = 0;
  MINT_RETURN_IF_ERROR(in.ReadU64(&n_tensors, "tensor count"));
  MINT_RETURN_IF_ERROR(in.ReadU64(&n_kv, "metadata count"));
  const size_t rest = in.remaining();
  if (n_tensors > rest / kMinTensorInfoSize) {
    return CorruptAt(8, "tensor count " + std::to_string(n_tensors) + " cannot fit in the " +
                            std::to_string(rest) + " bytes after the header");
  }
  if (n_kv > (rest - n_tensors * kMinTensorInfoSize) / kMinKvSize) {
    return CorruptAt(16, "metadata count " + std::to_string(n_kv) + " cannot fit in the " +
                             std::to_string(rest) + " bytes after the header");
  }
  static_assert(kHeaderSize == 24);
  MINT_RETURN_IF_ERROR(ParseMetadata(in, n_kv));
  std::vector<size_t> info_offsets;
  MINT_RETURN_IF_ERROR(ParseTensorInfos(in, n_tensors, &info_offsets));
  return PlaceTensorData(in.pos(), info_offsets);
}

Status GgufFile::ParseMetadata(ByteReader& in, uint64_t n_kv) {
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string entry = "metadata entry " + std::to_string(i) + " of " + std::to_string(n_kv);
    const size_t at = in.pos();
    std::string key;
    Status s = in.ReadString(&key, "metadata key");
    if (!s.ok()) return s.WithContext(entry);
    if (metadata_.count(key) != 0) return CorruptAt(at, "duplicate metadata key " + Quoted(key));
    const std::string who = "metadata key " + Quoted(key);
    const size_t type_at = in.pos();
    uint32_t type_id = 0;
    s = in.ReadU32(&type_id, "value type");
    if (!s.ok()) return s.WithContext(who);
    if (!IsValidValueType(type_id)) {
      return CorruptAt(type_at, who + " has unknown value type " + std::to_string(type_id));
    }
    const size_t value_at = in.pos();
    Value value;
    s = ReadValue(in, static_cast<ValueType>(type_id), /*level=*/0, &value);
    if (!s.ok()) return s.WithContext(who);
    if (key == internal::kAlignmentKey)
      MINT_RETURN_IF_ERROR(CheckAlignment(value, value_at, &alignment_));
    metadata_.emplace(std::move(key), std::move(value));
  }
  return Status::Ok();
}

Status GgufFile::ParseTensorInfos(ByteReader& in, uint64_t n_tensors,
                                  std::vector<size_t>* info_offsets) {
  // The header check bounded n_tensors by the bytes after the header; recheck against what the
  // metadata left so the reservation below is backed by file bytes.
  if (n_tensors > in.remaining() / kMinTensorInfoSize) {
    return CorruptAt(in.pos(), "tensor count " + std::to_string(n_tensors) + " cannot fit in the " +
                                   std::to_string(in.remaining()) + " bytes after the metadata");
  }
  tensors_.reserve(static_cast<size_t>(n_tensors));
  info_offsets->reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const size_t at = in.pos();
    TensorInfo t;
    Status s = ReadTensorInfo(in, &t);
    if (!s.ok()) {
      return s.WithContext("tensor info " + std::to_string(i) + " of " + std::to_string(n_tensors));
    }
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) {
      return CorruptAt(at, "duplicate tensor name " + Quoted(t.name));
    }
    tensors_.push_back(std::move(t));
    info_offsets->push_back(at);
  }
  return Status::Ok();
}

Status GgufFile::PlaceTensorData(size_t infos_end, const std::vector<size_t>& info_offsets) {
  const uint64_t rem = infos_end % alignment_;
  const uint64_t pad = rem == 0 ? 0 : alignment_ - rem;
  if (__builtin_add_overflow(static_cast<uint64_t>(infos_end), pad, &data_offset_)) {
    return CorruptAt(infos_end,
                     "data section offset overflows with alignment " + std::to_string(alignment_));
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    TensorInfo& t = tensors_[i];
    const std::string who = "tensor " + Quoted(t.name);
    if (t.offset % alignment_ != 0) {
      return CorruptAt(info_offsets[i], who + ": data offset " + std::to_string(t.offset) +
                                            " is not a multiple of the alignment " +
                                            std::to_string(alignment_));
    }
    uint64_t begin = 0, end = 0;
    if (__builtin_add_overflow(data_offset_, t.offset, &begin) ||
        __builtin_add_overflow(begin, static_cast<uint64_t>(t.nbytes), &end) || end > size_) {
      return CorruptAt(info_offsets[i],
                       who + ": data at offset " + std::to_string(t.offset) + " (+" +
                           std::to_string(data_offset_) + ") with " + std::to_string(t.nbytes) +
                           " bytes lies outside the file of " + std::to_string(size_) + " bytes");
    }
    t.data = base_ + begin;
  }
  return Status::Ok();
}

const Value* GgufFile::Find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const TensorInfo* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

// Applies a Value accessor to the value at `key`, naming the key in errors.
template <typename T, typename Fn>
Result<T> Get(const GgufFile& f, const std::string& key, Fn accessor) {
  const Value* v = f.Find(key);
  if (v == nullptr) return Status::NotFound("metadata key " + Quoted(key) + " not found");
  Result<T> r = (v->*accessor)();
  if (!r.ok()) return r.status().WithContext("metadata key " + Quoted(key));
  return r;
}

template <typename T, typename Fn>
Result<T> GetOr(const GgufFile& f, const std::string& key, T def, Fn accessor) {
  if (f.Find(key) == nullptr) return def;
  return Get<T>(f, key, accessor);
}

}  // namespace

Result<int64_t> GgufFile::GetInt(const std::string& key) const {
  return Get<int64_t>(*this, key, &Value::AsInt);
}
Result<uint64_t> GgufFile::GetUint(const std::string& key) const {
  return Get<uint64_t>(*this, key, &Value::AsUint);
}
Result<double> GgufFile::GetFloat(const std::string& key) const {
  return Get<double>(*this, key, &Value::AsFloat);
}
Result<std::string> GgufFile::GetString(const std::string& key) const {
  return Get<std::string>(*this, key, &Value::AsString);
}
Result<bool> GgufFile::GetBool(const std::string& key) const {
  return Get<bool>(*this, key, &Value::AsBool);
}
Result<int64_t> GgufFile::GetIntOr(const std::string& key, int64_t def) const {
  return GetOr<int64_t>(*this, key, def, &Value::AsInt);
}
Result<double> GgufFile::GetFloatOr(const std::string& key, double def) const {
  return GetOr<double>(*this, key, def, &Value::AsFloat);
}
Result<std::string> GgufFile::GetStringOr(const std::string& key, std::string def) const {
  return GetOr<std::string>(*this, key, std::move(def), &Value::AsString);
}
Result<bool> GgufFile::GetBoolOr(const std::string& key, bool def) const {
  return GetOr<bool>(*this, key, def, &Value::AsBool);
}

Result<const Array*> GgufFile::GetArray(const std::string& key, ValueType elem_type) const {
  const Value* v = Find(key);
  if (v == nullptr) return Status::NotFound("metadata key " + Quoted(key) + " not found");
  const Array* a = v->AsArray();
  if (a == nullptr) {
    return Status::InvalidArgument("metadata key " + Quoted(key) + " is a " +
                                   ValueTypeName(v->type) + ", not an array");
  }
  if (a->elem_type != elem_type) {
    return Status::InvalidArgument("metadata key " + Quoted(key) + " is an array of " +
                                   ValueTypeName(a->elem_type) + ", not of " +
                                   ValueTypeName(elem_type));
  }
  return a;
}

}  // namespace mint::gguf
