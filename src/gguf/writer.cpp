// GgufWriter: value checking, serialization (v3, little-endian) and the atomic file write.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "gguf/format.h"
#include "gguf/gguf.h"

namespace mint::gguf {
namespace {

// Appends little-endian fields to a byte vector.
class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>* out) : out_(out) {}
  template <typename T>
  void Put(T v) {
    static_assert(std::endian::native == std::endian::little);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out_->insert(out_->end(), p, p + sizeof(T));
  }
  void PutString(const std::string& s) {
    Put<uint64_t>(s.size());
    out_->insert(out_->end(), s.begin(), s.end());
  }
  void PadTo(uint64_t alignment) { out_->resize(AlignUp(out_->size(), alignment), 0); }
  static uint64_t AlignUp(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

 private:
  std::vector<uint8_t>* out_;
};

bool IsUnsignedType(ValueType t) {
  return t == ValueType::kUint8 || t == ValueType::kUint16 || t == ValueType::kUint32 ||
         t == ValueType::kUint64;
}
bool IsSignedType(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 ||
         t == ValueType::kInt64;
}

Status OutOfRange(const Value& v, const std::string& shown) {
  return Status::InvalidArgument(shown + " does not fit in " + ValueTypeName(v.type));
}

// Puts integer payloads in the alternative of their type's family and checks the range.
Status NormalizeInteger(Value* v) {
  const size_t bits = internal::ScalarSize(v->type) * 8;
  if (IsUnsignedType(v->type)) {
    auto u = v->AsUint();
    if (!u.ok() || std::holds_alternative<double>(v->v)) {
      return Status::InvalidArgument(std::string(ValueTypeName(v->type)) +
                                     " value must hold a non-negative integer");
    }
    if (bits < 64 && *u >> bits != 0) return OutOfRange(*v, std::to_string(*u));
    v->v = *u;
    return Status::Ok();
  }
  auto i = v->AsInt();
  if (!i.ok() || std::holds_alternative<double>(v->v)) {
    return Status::InvalidArgument(std::string(ValueTypeName(v->type)) +
                                   " value must hold an integer in int64 range");
  }
  const int64_t lo = bits < 64 ? -(int64_t{1} << (bits - 1)) : std::numeric_limits<int64_t>::min();
  const int64_t hi =
      bits < 64 ? (int64_t{1} << (bits - 1)) - 1 : std::numeric_limits<int64_t>::max();
  if (*i < lo || *i > hi) return OutOfRange(*v, std::to_string(*i));
  v->v = *i;
  return Status::Ok();
}

// Checks that `v` (inside `level` arrays) can be encoded as v->type and normalizes its payload.
Status NormalizeValue(Value* v, int level) {
  if (!IsValidValueType(static_cast<uint32_t>(v->type))) {
    return Status::InvalidArgument("invalid value type " +
                                   std::to_string(static_cast<uint32_t>(v->type)));
  }
  if (IsUnsignedType(v->type) || IsSignedType(v->type)) return NormalizeInteger(v);
  switch (v->type) {
    case ValueType::kFloat32:
    case ValueType::kFloat64: {
      auto d = v->AsFloat();
      if (!d.ok()) return d.status();
      v->v = *d;
      return Status::Ok();
    }
    case ValueType::kBool:
      return v->AsBool().ok() ? Status::Ok()
                              : Status::InvalidArgument("bool value must hold a bool");
    case ValueType::kString:
      return v->AsString().ok() ? Status::Ok()
                                : Status::InvalidArgument("string value must hold a string");
    default:
      break;
  }
  auto* a = std::get_if<Array>(&v->v);
  if (a == nullptr) return Status::InvalidArgument("array value must hold an Array");
  if (level + 1 > kMaxArrayDepth) {
    return Status::InvalidArgument("arrays nested deeper than " + std::to_string(kMaxArrayDepth) +
                                   " levels");
  }
  if (!IsValidValueType(static_cast<uint32_t>(a->elem_type))) {
    return Status::InvalidArgument("invalid array element type " +
                                   std::to_string(static_cast<uint32_t>(a->elem_type)));
  }
  for (size_t i = 0; i < a->items.size(); ++i) {
    Value& item = a->items[i];
    if (item.type != a->elem_type) {
      return Status::InvalidArgument("array item " + std::to_string(i) + " is " +
                                     ValueTypeName(item.type) + " in an array of " +
                                     ValueTypeName(a->elem_type));
    }
    MINT_RETURN_IF_ERROR(
        NormalizeValue(&item, level + 1).WithContext("array item " + std::to_string(i)));
  }
  return Status::Ok();
}

// Encodes a normalized value without its type tag (arrays: element type, count, items).
void EncodeValue(ByteWriter& w, const Value& v) {
  switch (v.type) {
    case ValueType::kUint8:
      w.Put(static_cast<uint8_t>(std::get<uint64_t>(v.v)));
      return;
    case ValueType::kUint16:
      w.Put(static_cast<uint16_t>(std::get<uint64_t>(v.v)));
      return;
    case ValueType::kUint32:
      w.Put(static_cast<uint32_t>(std::get<uint64_t>(v.v)));
      return;
    case ValueType::kUint64:
      w.Put(std::get<uint64_t>(v.v));
      return;
    case ValueType::kInt8:
      w.Put(static_cast<int8_t>(std::get<int64_t>(v.v)));
      return;
    case ValueType::kInt16:
      w.Put(static_cast<int16_t>(std::get<int64_t>(v.v)));
      return;
    case ValueType::kInt32:
      w.Put(static_cast<int32_t>(std::get<int64_t>(v.v)));
      return;
    case ValueType::kInt64:
      w.Put(std::get<int64_t>(v.v));
      return;
    case ValueType::kFloat32:
      w.Put(static_cast<float>(std::get<double>(v.v)));
      return;
    case ValueType::kFloat64:
      w.Put(std::get<double>(v.v));
      return;
    case ValueType::kBool:
      w.Put<uint8_t>(std::get<bool>(v.v) ? 1 : 0);
      return;
    case ValueType::kString:
      w.PutString(std::get<std::string>(v.v));
      return;
    case ValueType::kArray: {
      const Array& a = std::get<Array>(v.v);
      w.Put(static_cast<uint32_t>(a.elem_type));
      w.Put<uint64_t>(a.items.size());
      for (const Value& item : a.items) EncodeValue(w, item);
      return;
    }
  }
}

Status WriteAll(int fd, const uint8_t* data, size_t n) {
  while (n > 0) {
    const ssize_t k = ::write(fd, data, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(std::string("write: ") + std::strerror(errno));
    }
    data += k;
    n -= static_cast<size_t>(k);
  }
  return Status::Ok();
}

Status WriteZeros(int fd, uint64_t n) {
  static const uint8_t kZeros[4096] = {};
  while (n > 0) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(n, sizeof(kZeros)));
    MINT_RETURN_IF_ERROR(WriteAll(fd, kZeros, k));
    n -= k;
  }
  return Status::Ok();
}

}  // namespace

GgufWriter::GgufWriter() = default;

void GgufWriter::SetValue(const std::string& key, Value v) {
  Status s = NormalizeValue(&v, /*level=*/0);
  if (s.ok() && key == internal::kAlignmentKey) {
    auto a = v.AsUint();
    const bool integer = IsUnsignedType(v.type) || IsSignedType(v.type);
    if (!integer || !a.ok() || *a == 0 || !std::has_single_bit(*a)) {
      s = Status::InvalidArgument("must be an integer that is a nonzero power of two");
    } else {
      alignment_ = *a;
    }
  }
  if (!s.ok()) {
    if (status_.ok()) status_ = s.WithContext("metadata key \"" + key + "\"");
    return;
  }
  for (auto& [k, existing] : kv_) {
    if (k == key) {
      existing = std::move(v);
      return;
    }
  }
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::SetU8(const std::string& key, uint8_t v) {
  SetValue(key, Value::Unsigned(ValueType::kUint8, v));
}
void GgufWriter::SetI8(const std::string& key, int8_t v) {
  SetValue(key, Value::Signed(ValueType::kInt8, v));
}
void GgufWriter::SetU16(const std::string& key, uint16_t v) {
  SetValue(key, Value::Unsigned(ValueType::kUint16, v));
}
void GgufWriter::SetI16(const std::string& key, int16_t v) {
  SetValue(key, Value::Signed(ValueType::kInt16, v));
}
void GgufWriter::SetU32(const std::string& key, uint32_t v) {
  SetValue(key, Value::Unsigned(ValueType::kUint32, v));
}
void GgufWriter::SetI32(const std::string& key, int32_t v) {
  SetValue(key, Value::Signed(ValueType::kInt32, v));
}
void GgufWriter::SetU64(const std::string& key, uint64_t v) {
  SetValue(key, Value::Unsigned(ValueType::kUint64, v));
}
void GgufWriter::SetI64(const std::string& key, int64_t v) {
  SetValue(key, Value::Signed(ValueType::kInt64, v));
}
void GgufWriter::SetF32(const std::string& key, float v) {
  SetValue(key, Value::Float(ValueType::kFloat32, v));
}
void GgufWriter::SetF64(const std::string& key, double v) {
  SetValue(key, Value::Float(ValueType::kFloat64, v));
}
void GgufWriter::SetBool(const std::string& key, bool v) { SetValue(key, Value::Bool(v)); }
void GgufWriter::SetString(const std::string& key, const std::string& v) {
  SetValue(key, Value::String(v));
}

void GgufWriter::SetStringArray(const std::string& key, const std::vector<std::string>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(Value::String(s));
  SetValue(key, Value::MakeArray(ValueType::kString, std::move(items)));
}
void GgufWriter::SetF32Array(const std::string& key, const std::vector<float>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (float f : v) items.push_back(Value::Float(ValueType::kFloat32, f));
  SetValue(key, Value::MakeArray(ValueType::kFloat32, std::move(items)));
}
void GgufWriter::SetI32Array(const std::string& key, const std::vector<int32_t>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (int32_t i : v) items.push_back(Value::Signed(ValueType::kInt32, i));
  SetValue(key, Value::MakeArray(ValueType::kInt32, std::move(items)));
}
void GgufWriter::SetU32Array(const std::string& key, const std::vector<uint32_t>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (uint32_t u : v) items.push_back(Value::Unsigned(ValueType::kUint32, u));
  SetValue(key, Value::MakeArray(ValueType::kUint32, std::move(items)));
}

Status GgufWriter::CheckTensor(const std::string& name, TensorType type,
                               const std::vector<int64_t>& dims, int64_t* nbytes) const {
  const std::string who = "tensor \"" + name + "\"";
  if (name.empty()) return Status::InvalidArgument("empty tensor name");
  for (const auto& t : tensors_) {
    if (t.name == name) return Status::InvalidArgument(who + " added twice");
  }
  if (!IsSupportedDType(static_cast<uint32_t>(type))) {
    return Status::Unsupported(who + ": type " + GgmlTypeName(static_cast<uint32_t>(type)) +
                               " is not supported");
  }
  if (dims.empty() || dims.size() > static_cast<size_t>(kMaxTensorDims)) {
    return Status::InvalidArgument(who + ": " + std::to_string(dims.size()) + " dimensions (1.." +
                                   std::to_string(kMaxTensorDims) + " allowed)");
  }
  for (int64_t d : dims) {
    if (d <= 0) return Status::InvalidArgument(who + ": dimension " + std::to_string(d) + " <= 0");
  }
  if (Status s = internal::TensorBytes(type, dims, nbytes); !s.ok()) {
    return Status::InvalidArgument(who + ": " + s.message());
  }
  return Status::Ok();
}

Status GgufWriter::AddTensor(const std::string& name, TensorType type,
                             const std::vector<int64_t>& dims, std::vector<uint8_t> bytes) {
  int64_t nbytes = 0;
  MINT_RETURN_IF_ERROR(CheckTensor(name, type, dims, &nbytes));
  if (bytes.size() != static_cast<uint64_t>(nbytes)) {
    return Status::InvalidArgument("tensor \"" + name + "\": " + std::to_string(bytes.size()) +
                                   " bytes given, " + DTypeName(type) + " " +
                                   std::to_string(dims[0]) + "x... needs " +
                                   std::to_string(nbytes));
  }
  tensors_.push_back({name, type, dims, static_cast<uint64_t>(nbytes), std::move(bytes), {}});
  return Status::Ok();
}

Status GgufWriter::AddLazyTensor(const std::string& name, TensorType type,
                                 const std::vector<int64_t>& dims, TensorProducer produce) {
  int64_t nbytes = 0;
  MINT_RETURN_IF_ERROR(CheckTensor(name, type, dims, &nbytes));
  if (!produce) return Status::InvalidArgument("tensor \"" + name + "\": no producer");
  tensors_.push_back({name, type, dims, static_cast<uint64_t>(nbytes), {}, std::move(produce)});
  return Status::Ok();
}

Result<std::vector<uint8_t>> GgufWriter::TensorData(const PendingTensor& t) const {
  if (!t.produce) return t.bytes;
  std::vector<uint8_t> bytes = t.produce();
  if (bytes.size() != t.nbytes) {
    return Status::Internal("tensor \"" + t.name + "\": producer made " +
                            std::to_string(bytes.size()) + " bytes, " + std::to_string(t.nbytes) +
                            " expected");
  }
  return bytes;
}

std::vector<uint8_t> GgufWriter::SerializeHeader() const {
  std::vector<uint8_t> out;
  ByteWriter w(&out);
  out.insert(out.end(), internal::kMagic, internal::kMagic + 4);
  w.Put<uint32_t>(internal::kWriteVersion);
  w.Put<uint64_t>(tensors_.size());
  w.Put<uint64_t>(kv_.size());
  for (const auto& [key, value] : kv_) {
    w.PutString(key);
    w.Put(static_cast<uint32_t>(value.type));
    EncodeValue(w, value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    w.PutString(t.name);
    w.Put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) w.Put<uint64_t>(static_cast<uint64_t>(d));
    w.Put(static_cast<uint32_t>(t.type));
    w.Put<uint64_t>(offset);
    offset += ByteWriter::AlignUp(t.nbytes, alignment_);
  }
  w.PadTo(alignment_);
  return out;
}

std::vector<uint8_t> GgufWriter::Serialize() const {
  std::vector<uint8_t> out = SerializeHeader();
  ByteWriter w(&out);
  for (const auto& t : tensors_) {
    auto bytes = TensorData(t);
    if (!bytes.ok()) return {};
    out.insert(out.end(), bytes->begin(), bytes->end());
    w.PadTo(alignment_);
  }
  return out;
}

Status GgufWriter::WriteFile(const std::string& path) const {
  if (!status_.ok()) return status_.WithContext(path);
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::IoError(path + ": create temp file: " + std::strerror(errno));
  auto write_all = [&]() -> Status {
    if (::fchmod(fd, 0644) != 0)
      return Status::IoError(std::string("fchmod: ") + std::strerror(errno));
    const std::vector<uint8_t> header = SerializeHeader();
    MINT_RETURN_IF_ERROR(WriteAll(fd, header.data(), header.size()));
    for (const auto& t : tensors_) {
      MINT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, TensorData(t));
      MINT_RETURN_IF_ERROR(WriteAll(fd, bytes.data(), bytes.size()));
      MINT_RETURN_IF_ERROR(
          WriteZeros(fd, ByteWriter::AlignUp(bytes.size(), alignment_) - bytes.size()));
    }
    if (::fsync(fd) != 0) return Status::IoError(std::string("fsync: ") + std::strerror(errno));
    return Status::Ok();
  };
  Status s = write_all();
  if (::close(fd) != 0 && s.ok())
    s = Status::IoError(std::string("close: ") + std::strerror(errno));
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::IoError(std::string("rename: ") + std::strerror(errno));
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s.WithContext(path);
  }
  return Status::Ok();
}

}  // namespace mint::gguf
