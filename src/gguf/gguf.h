// GGUF v2/v3 files: a validating reader over mmap, and a writer.
//
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md. All integers little-endian.
// Reader contract: Open() validates every count, string length, array size, tensor dimension,
// type, offset and size against the file before any of it is used; on success every TensorInfo's
// [data, data + nbytes) lies inside the mapping. A malformed or truncated file yields a Status that
// names the problem (and the byte offset where it was found), never a crash or an out-of-bounds
// read.
//
// Thread-safety: a GgufFile is immutable after Open(); any number of threads may read it. The
// writer is single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
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
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};

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
};

struct TensorInfo {
  std::string name;
  TensorType type = DType::kF32;
  std::vector<int64_t> dims;  // ne[0] first: ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;        // relative to the data section
  const uint8_t* data = nullptr;  // points into the mapping
  int64_t nbytes = 0;

  int64_t Elements() const;
};

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
  const std::map<std::string, Value>& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // nullptr if absent.
  const Value* Find(const std::string& key) const;
  const TensorInfo* FindTensor(const std::string& name) const;

  // Typed metadata getters. Missing key -> kNotFound; wrong type -> kInvalidArgument.
  Result<int64_t> GetInt(const std::string& key) const;
  Result<double> GetFloat(const std::string& key) const;
  Result<std::string> GetString(const std::string& key) const;
  Result<bool> GetBool(const std::string& key) const;
  // Same, with a default when the key is absent (still an error if present with a wrong type).
  Result<int64_t> GetIntOr(const std::string& key, int64_t def) const;
  Result<double> GetFloatOr(const std::string& key, double def) const;
  Result<std::string> GetStringOr(const std::string& key, std::string def) const;
  Result<bool> GetBoolOr(const std::string& key, bool def) const;

  // Human-readable summary: version, metadata (long arrays abbreviated), tensor table.
  std::string Describe(bool with_tensors = true) const;

 private:
  GgufFile() = default;
  Status Parse();

  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  bool owns_mapping_ = false;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::map<std::string, Value> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// Builds a GGUF v3 file. Tensors are written in insertion order, each data offset aligned.
class GgufWriter {
 public:
  GgufWriter();
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
  // Writes the file atomically (temp file + rename).
  Status WriteFile(const std::string& path) const;
  // The serialized image.
  std::vector<uint8_t> Serialize() const;

 private:
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> dims;
    std::vector<uint8_t> bytes;
  };
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<PendingTensor> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace mint::gguf
