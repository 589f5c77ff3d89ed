// Internal to the gguf component: wire-format constants shared by the reader and the writer, and
// the bounds-checked little-endian reader the parser is built on. Not part of the facade.
//
// Thread-safety: ByteReader is a value type used by one thread; the rest are pure functions.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"

namespace mint::gguf::internal {

inline constexpr uint8_t kMagic[4] = {'G', 'G', 'U', 'F'};
inline constexpr uint32_t kWriteVersion = 3;
inline constexpr const char* kAlignmentKey = "general.alignment";

// Smallest number of bytes one value of type `t` occupies in a file (an empty string is its
// 8-byte length; an empty array is its 4-byte element type + 8-byte count). 0 for invalid types.
size_t MinEncodedSize(ValueType t);

// Encoded size of the fixed-width scalar types; 0 for string, array and invalid types.
size_t ScalarSize(ValueType t);

// Bytes of a tensor of `type` whose dims are 1..kMaxTensorDims values > 0. Fails (with the reason
// in the message) if dims[0] is not a multiple of the type's block size or the element count or
// byte size overflows int64_t.
Status TensorBytes(DType type, const std::vector<int64_t>& dims, int64_t* nbytes);

// kCorruption "<what> at byte <offset>".
Status CorruptAt(size_t offset, const std::string& what);

// Reads little-endian fields from [data, data + size) and never past it: every read checks the
// remaining length first and reports truncation with the offset and the field's name.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  size_t size() const { return size_; }
  size_t remaining() const { return size_ - pos_; }

  Status ReadU8(uint8_t* out, const char* what) { return ReadScalar(out, what); }
  Status ReadU16(uint16_t* out, const char* what) { return ReadScalar(out, what); }
  Status ReadU32(uint32_t* out, const char* what) { return ReadScalar(out, what); }
  Status ReadU64(uint64_t* out, const char* what) { return ReadScalar(out, what); }
  // A GGUF string: u64 length, then that many bytes (not NUL-terminated, not validated as UTF-8).
  Status ReadString(std::string* out, const char* what);
  // Copies n raw bytes; fails (without reading) if fewer remain.
  Status ReadBytes(void* out, size_t n, const char* what);

  // kCorruption "truncated: <what> needs <need> bytes at byte <pos>, <remaining> left".
  Status Truncated(size_t need, const char* what) const;

 private:
  template <typename T>
  Status ReadScalar(T* out, const char* what) {
    // Host is little-endian (x86-64, aarch64 as Mint builds them), so a memcpy is the decode.
    static_assert(std::endian::native == std::endian::little);
    return ReadBytes(out, sizeof(T), what);
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace mint::gguf::internal
