// GGUF v2/v3 files: a validating reader over mmap, and a writer.
//
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md. All integers little-endian.
// Reader contract: Open() validates every count, string length, array size, tensor dimension,
// type, offset and size against the file before any of it is used; on success every TensorInfo's
// [data, data + nbytes) lies inside the mapping. A malformed or truncated file yields a Status that
// names the problem (and the byte offset where it was found), never a crash or an out-of-bounds
// read.
//
// Limits the reader enforces (and the writer respects): metadata arrays nest at most
// kMaxArrayDepth levels; tensors have 1..kMaxTensorDims dimensions, each > 0; the element count
// and byte size of a tensor fit in int64_t; `general.alignment`, if present, is an integer that is
// a nonzero power of two (default 32). Duplicate metadata keys or tensor names are corruption.
// Versions 2 and 3 are read (same little-endian layout); version 1 and big-endian files are
// kUnsupported.
//
// Thread-safety: a GgufFile is immutable after Open(); any number of threads may read it. The
// writer is single-threaded (one thread at a time per GgufWriter).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace mint::gguf {

// Tensor element types are Mint's DType (ggml_type ids). Any other id in a file is rejected
// with kUnsupported naming the type (GgmlTypeName).
using TensorType = DType;

// Metadata value types (gguf_type).
enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

inline constexpr int kMaxArrayDepth = 8;  // an array inside 7 arrays is the deepest
inline constexpr int kMaxTensorDims = 4;
inline constexpr uint64_t kDefaultAlignment = 32;

// "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64";
// "unknown" for ids outside the enum.
const char* ValueTypeName(ValueType t);
// True for the 13 ids above.
bool IsValidValueType(uint32_t id);

struct Value;
struct Array {
  ValueType elem_type = ValueType::kUint8;
  std::vector<Value> items;
};
// One metadata value. Integers keep their declared type (`type`) but are stored widened.
struct Value {
  ValueType type = ValueType::kUint8;
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> v;

  // Typed accessors: return kInvalidArgument if the value is not convertible without loss.
  Result<int64_t> AsInt() const;
  Result<uint64_t> AsUint() const;
  Result<double> AsFloat() const;
  Result<bool> AsBool() const;
  Result<std::string> AsString() const;
  const Array* AsArray() const;  // nullptr if not an array

  // Constructors that store the payload in the alternative matching `type`. The caller picks a
  // `type` of the right family (e.g. Unsigned(ValueType::kUint16, 7)); a value out of the type's
  // range is rejected later by GgufWriter (the reader never produces one).
  static Value Unsigned(ValueType type, uint64_t v) { return Value{type, v}; }
  static Value Signed(ValueType type, int64_t v) { return Value{type, v}; }
  static Value Float(ValueType type, double v) { return Value{type, v}; }
  static Value Bool(bool v) { return Value{ValueType::kBool, v}; }
  static Value String(std::string v) { return Value{ValueType::kString, std::move(v)}; }
  static Value MakeArray(ValueType elem_type, std::vector<Value> items) {
    return Value{ValueType::kArray, Array{elem_type, std::move(items)}};
  }
};

// Exact equality: same type, same payload alternative, same items; floats compared bitwise (so a
// NaN equals an identical NaN).
bool ValuesEqual(const Value& a, const Value& b);

// Human-readable rendering of a value: strings quoted and escaped (long ones cut), arrays as
// `[512 strings: "<unk>", "<s>", ...]` showing at most `max_items` items.
std::string FormatValue(const Value& v, size_t max_items = 8);

struct TensorInfo {
  std::string name;
  TensorType type = DType::kF32;
  std::vector<int64_t> dims;      // ne[0] first: ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;            // relative to the data section
  const uint8_t* data = nullptr;  // points into the mapping
  int64_t nbytes = 0;

  // Product of dims (1 for no dims). Precondition: dims valid (as the reader guarantees).
  int64_t Elements() const;
};

namespace internal {
class ByteReader;  // reader.cpp
}  // namespace internal

// A parsed GGUF file: metadata, tensor table, and views of tensor data in the mapping (Open) or in
// the caller's bytes (FromMemory).
//
// Thread-safety: immutable after construction; any number of threads may call its const methods.
class GgufFile {
 public:
  // Maps and validates `path`. Errors: kNotFound/kIoError (OS), kCorruption (format violations),
  // kUnsupported (version, unknown tensor type).
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses an in-memory image (the fuzz target and tests). The bytes must outlive the object.
  static Result<std::unique_ptr<GgufFile>> FromMemory(const uint8_t* data, size_t size);
  ~GgufFile();

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  size_t file_size() const { return size_; }
  // Byte offset of the data section (tensor offsets are relative to it). May equal or exceed
  // file_size() when the file has no tensors.
  uint64_t data_offset() const { return data_offset_; }
  const std::map<std::string, Value>& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in file order

  // nullptr if absent.
  const Value* Find(const std::string& key) const;
  const TensorInfo* FindTensor(const std::string& name) const;

  // Typed metadata getters. Missing key -> kNotFound; wrong type -> kInvalidArgument.
  Result<int64_t> GetInt(const std::string& key) const;
  Result<double> GetFloat(const std::string& key) const;
  Result<std::string> GetString(const std::string& key) const;
  Result<bool> GetBool(const std::string& key) const;
  Result<uint64_t> GetUint(const std::string& key) const;
  // The array at `key`; kInvalidArgument if it is not an array of `elem_type`. The pointer lives
  // as long as this GgufFile.
  Result<const Array*> GetArray(const std::string& key, ValueType elem_type) const;
  // Same, with a default when the key is absent (still an error if present with a wrong type).
  Result<int64_t> GetIntOr(const std::string& key, int64_t def) const;
  Result<double> GetFloatOr(const std::string& key, double def) const;
  Result<std::string> GetStringOr(const std::string& key, std::string def) const;
  Result<bool> GetBoolOr(const std::string& key, bool def) const;

  // Human-readable summary: version, metadata (long arrays abbreviated), tensor table.
  std::string Describe(bool with_tensors = true) const;

 private:
  GgufFile() = default;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  Status Parse();
  Status ParseMetadata(internal::ByteReader& in, uint64_t n_kv);
  Status ParseTensorInfos(internal::ByteReader& in, uint64_t n_tensors,
                          std::vector<size_t>* info_offsets);
  Status PlaceTensorData(size_t infos_end, const std::vector<size_t>& info_offsets);

  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  bool owns_mapping_ = false;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::map<std::string, Value> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// Builds a GGUF v3 file. Tensors are written in insertion order, each data offset aligned.
//
// Thread-safety: not synchronized; use one writer from one thread at a time.
//
// Setting a key that is already set replaces its value and keeps its original position. Setting
// `general.alignment` (an integer, nonzero power of two, as the reader requires) changes the data
// alignment; otherwise it is 32 and the key is not written. A value SetValue() cannot encode
// (payload alternative not matching its type, integer out of its type's range, arrays nested
// deeper than kMaxArrayDepth, array items of another type than elem_type) is not stored; the
// first such error is kept in status() and returned by WriteFile().
class GgufWriter {
 public:
  GgufWriter();
  void SetU8(const std::string& key, uint8_t v);
  void SetI8(const std::string& key, int8_t v);
  void SetU16(const std::string& key, uint16_t v);
  void SetI16(const std::string& key, int16_t v);
  void SetI64(const std::string& key, int64_t v);
  void SetF64(const std::string& key, double v);
  void SetU32Array(const std::string& key, const std::vector<uint32_t>& v);
  void SetU32(const std::string& key, uint32_t v);
  void SetI32(const std::string& key, int32_t v);
  void SetU64(const std::string& key, uint64_t v);
  void SetF32(const std::string& key, float v);
  void SetBool(const std::string& key, bool v);
  void SetString(const std::string& key, const std::string& v);
  void SetStringArray(const std::string& key, const std::vector<std::string>& v);
  void SetF32Array(const std::string& key, const std::vector<float>& v);
  void SetI32Array(const std::string& key, const std::vector<int32_t>& v);
  void SetValue(const std::string& key, Value v);  // any type, including nested arrays
  // `bytes` must hold exactly DTypeRowBytes(type, dims[0]) * (product of other dims) bytes.
  Status AddTensor(const std::string& name, TensorType type, const std::vector<int64_t>& dims,
                   std::vector<uint8_t> bytes);
  // A tensor whose bytes `produce` makes when the file is written, one tensor at a time, so a
  // writer of a model larger than memory holds one tensor's bytes at once. `produce` must return
  // exactly the size AddTensor would require (checked when writing).
  using TensorProducer = std::function<std::vector<uint8_t>()>;
  Status AddLazyTensor(const std::string& name, TensorType type, const std::vector<int64_t>& dims,
                       TensorProducer produce);
  // Writes the file atomically (temp file in the same directory + fsync + rename); on failure
  // `path` is untouched and no temp file remains. Returns status() first if it is an error.
  Status WriteFile(const std::string& path) const;
  // The serialized image (without the values rejected in status()).
  std::vector<uint8_t> Serialize() const;
  // The first error of a Set*() call, or ok.
  const Status& status() const { return status_; }
  size_t metadata_count() const { return kv_.size(); }
  size_t tensor_count() const { return tensors_.size(); }

 private:
  std::vector<uint8_t> SerializeHeader() const;  // everything before the data section's bytes
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> dims;
    uint64_t nbytes = 0;
    std::vector<uint8_t> bytes;  // empty while `produce` is set
    TensorProducer produce;
  };
  Status CheckTensor(const std::string& name, TensorType type, const std::vector<int64_t>& dims,
                     int64_t* nbytes) const;
  // The tensor's bytes: its own, or what its producer makes (size checked).
  Result<std::vector<uint8_t>> TensorData(const PendingTensor& t) const;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<PendingTensor> tensors_;
  uint64_t alignment_ = kDefaultAlignment;
  Status status_;
};

}  // namespace mint::gguf
