// Malformed GGUF images: each must give a non-ok Status with the right code and a message naming
// the problem and its byte offset; none may crash or read out of bounds (run under ASan too).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "gguf/gguf.h"

namespace mint::gguf {
namespace {

constexpr uint64_t kHuge = uint64_t{1} << 62;

// Builds a GGUF image field by field, with no validation, so tests can write anything.
class Image {
 public:
  Image& Bytes(std::string_view s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  template <typename T>
  Image& Put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b_.insert(b_.end(), p, p + sizeof(T));
    return *this;
  }
  Image& U8(uint8_t v) { return Put(v); }
  Image& U32(uint32_t v) { return Put(v); }
  Image& U64(uint64_t v) { return Put(v); }
  Image& Str(std::string_view s) { return U64(s.size()).Bytes(s); }
  Image& Header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return Bytes("GGUF").U32(version).U64(n_tensors).U64(n_kv);
  }
  // A key and its value type; the caller appends the value.
  Image& Key(std::string_view key, ValueType t) { return Str(key).U32(static_cast<uint32_t>(t)); }
  Image& KvU32(std::string_view key, uint32_t v) { return Key(key, ValueType::kUint32).U32(v); }
  Image& TensorInfo(std::string_view name, std::vector<uint64_t> dims, uint32_t type,
                    uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) U64(d);
    return U32(type).U64(offset);
  }
  Image& PadTo(size_t a) {
    b_.resize((b_.size() + a - 1) / a * a, 0);
    return *this;
  }
  Image& Zeros(size_t n) {
    b_.resize(b_.size() + n, 0);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return b_; }

 private:
  std::vector<uint8_t> b_;
};

// Parses exactly `n` bytes from a heap buffer of that size, so ASan sees any overread.
Status ParsePrefix(const std::vector<uint8_t>& image, size_t n) {
  std::unique_ptr<uint8_t[]> buf(new uint8_t[n == 0 ? 1 : n]);
  if (n > 0) std::memcpy(buf.get(), image.data(), n);
  auto f = GgufFile::FromMemory(n == 0 ? nullptr : buf.get(), n);
  return f.status();
}

Status Parse(const Image& image) { return ParsePrefix(image.bytes(), image.bytes().size()); }

struct Case {
  const char* name;
  Image image;
  StatusCode code;
  const char* message;  // a substring the message must contain
};

std::vector<Case> MalformedCases() {
  const auto u32 = [](std::string_view k, uint32_t v) { return Image().Header(0, 1).KvU32(k, v); };
  const auto one_tensor = [](std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    return Image().Header(1, 0).TensorInfo("t", std::move(dims), type, offset).PadTo(32).Zeros(64);
  };
  Image deep = Image().Header(0, 1).Key("deep", ValueType::kArray);
  for (int i = 0; i < 9; ++i) deep.U32(static_cast<uint32_t>(ValueType::kArray)).U64(1);
  deep.U32(static_cast<uint32_t>(ValueType::kUint8)).U64(0);

  std::vector<Case> c;
  c.push_back(
      {"empty", Image(), StatusCode::kCorruption, "truncated: magic needs 4 bytes at byte 0"});
  c.push_back({"short magic", Image().Bytes("GGU"), StatusCode::kCorruption, "truncated: magic"});
  c.push_back({"bad magic", Image().Bytes("GGML").U32(3).U64(0).U64(0), StatusCode::kCorruption,
               "bad magic 47 47 4D 4C (expected \"GGUF\") at byte 0"});
  c.push_back({"version 1", Image().Header(0, 0, 1), StatusCode::kUnsupported, "version 1"});
  c.push_back({"version 4", Image().Header(0, 0, 4), StatusCode::kUnsupported,
               "unknown GGUF version 4 at byte 4"});
  c.push_back(
      {"big-endian", Image().Header(0, 0, 0x03000000), StatusCode::kUnsupported, "big-endian"});
  c.push_back({"header only 20 bytes", Image().Bytes("GGUF").U32(3).U64(0).U32(0),
               StatusCode::kCorruption, "truncated: metadata count needs 8 bytes at byte 16"});
  c.push_back(
      {"huge tensor count", Image().Header(kHuge, 0), StatusCode::kCorruption,
       "tensor count 4611686018427387904 cannot fit in the 0 bytes after the header at byte 8"});
  c.push_back({"max kv count", Image().Header(0, UINT64_MAX).Zeros(100), StatusCode::kCorruption,
               "metadata count 18446744073709551615 cannot fit"});
  c.push_back({"huge key length", Image().Header(0, 1).U64(kHuge).Zeros(16),
               StatusCode::kCorruption, "metadata key length 4611686018427387904 exceeds"});
  c.push_back({"unknown value type", Image().Header(0, 1).Str("k").U32(13).U32(0),
               StatusCode::kCorruption, "metadata key \"k\" has unknown value type 13 at byte 33"});
  c.push_back({"huge string value", Image().Header(0, 1).Key("k", ValueType::kString).U64(kHuge),
               StatusCode::kCorruption, "string value length 4611686018427387904 exceeds"});
  c.push_back({"huge array", Image().Header(0, 1).Key("k", ValueType::kArray).U32(0).U64(kHuge),
               StatusCode::kCorruption, "array of 4611686018427387904 u8 needs at least 1 bytes"});
  c.push_back({"huge string array",
               Image().Header(0, 1).Key("k", ValueType::kArray).U32(8).U64(1000).Zeros(7999),
               StatusCode::kCorruption, "array of 1000 string needs at least 8 bytes each"});
  c.push_back({"array elem type", Image().Header(0, 1).Key("k", ValueType::kArray).U32(99).U64(0),
               StatusCode::kCorruption, "unknown array element type 99"});
  c.push_back({"nesting depth 9", deep, StatusCode::kCorruption, "nested deeper than 8 levels"});
  c.push_back({"bool 2", Image().Header(0, 1).Key("b", ValueType::kBool).U8(2),
               StatusCode::kCorruption, "bool value 2 is neither 0 nor 1 at byte 37"});
  c.push_back({"truncated u64", Image().Header(0, 1).Key("k", ValueType::kUint64).U32(1),
               StatusCode::kCorruption, "truncated: u64 value needs 8 bytes"});
  c.push_back({"duplicate key", Image().Header(0, 2).KvU32("k", 1).KvU32("k", 2),
               StatusCode::kCorruption, "duplicate metadata key \"k\" at byte 41"});
  c.push_back({"alignment 0", u32("general.alignment", 0), StatusCode::kCorruption,
               "general.alignment must be a nonzero power of two, got u32 0"});
  c.push_back({"alignment 48", u32("general.alignment", 48), StatusCode::kCorruption,
               "general.alignment must be a nonzero power of two"});
  c.push_back({"alignment string",
               Image().Header(0, 1).Key("general.alignment", ValueType::kString).Str("32"),
               StatusCode::kCorruption,
               "general.alignment must be a nonzero power of two, got string"});
  c.push_back({"empty tensor name", one_tensor({4}, 0, 0), StatusCode::kCorruption, ""});
  c.back().image = Image().Header(1, 0).TensorInfo("", {4}, 0, 0).PadTo(32).Zeros(32);
  c.back().message = "empty tensor name at byte 24";
  c.push_back({"0 dims", one_tensor({}, 0, 0), StatusCode::kCorruption,
               "tensor \"t\" has 0 dimensions (1..4 allowed) at byte 33"});
  c.push_back(
      {"5 dims", one_tensor({1, 1, 1, 1, 1}, 0, 0), StatusCode::kCorruption, "has 5 dimensions"});
  c.push_back({"dim 0", one_tensor({4, 0}, 0, 0), StatusCode::kCorruption,
               "dimension 1 is 0 (must be in 1..2^63-1) at byte 45"});
  c.push_back({"dim 2^63", one_tensor({uint64_t{1} << 63}, 0, 0), StatusCode::kCorruption,
               "dimension 0 is 9223372036854775808"});
  c.push_back({"dims overflow", one_tensor({1u << 31, 1u << 31, 1u << 31}, 0, 0),
               StatusCode::kCorruption, "element count or byte size overflows int64"});
  c.push_back({"bytes overflow", one_tensor({uint64_t{1} << 62}, 0, 0), StatusCode::kCorruption,
               "overflows int64"});
  c.push_back({"type IQ2_XXS", one_tensor({256}, 16, 0), StatusCode::kUnsupported,
               "tensor \"t\" has type IQ2_XXS (ggml type 16), which Mint does not support"});
  c.push_back({"type 1000", one_tensor({32}, 1000, 0), StatusCode::kUnsupported, "ggml type 1000"});
  c.push_back({"Q4_0 row 33", one_tensor({33}, 2, 0), StatusCode::kCorruption,
               "row of 33 elements is not a multiple of the Q4_0 block size 32"});
  c.push_back({"misaligned offset", one_tensor({4}, 0, 4), StatusCode::kCorruption,
               "data offset 4 is not a multiple of the alignment 32 at byte 24"});
  c.push_back({"offset past end", one_tensor({4}, 0, 64), StatusCode::kCorruption,
               "lies outside the file"});
  c.push_back({"offset wraps", one_tensor({4}, 0, UINT64_MAX - 31), StatusCode::kCorruption,
               "lies outside the file"});
  c.push_back({"data past end", one_tensor({32}, 0, 0), StatusCode::kCorruption,
               "with 128 bytes lies outside the file of 128 bytes"});
  c.push_back({"duplicate tensor",
               Image()
                   .Header(2, 0)
                   .TensorInfo("t", {4}, 0, 0)
                   .TensorInfo("t", {4}, 0, 32)
                   .PadTo(32)
                   .Zeros(64),
               StatusCode::kCorruption, "duplicate tensor name \"t\" at byte 57"});
  c.push_back({"tensor count vs metadata",
               Image().Header(1, 1).Key("s", ValueType::kString).Str(std::string(40, 'x')),
               StatusCode::kCorruption,
               "tensor count 1 cannot fit in the 0 bytes after the metadata"});
  return c;
}

TEST(GgufMalformed, EachCaseFailsWithANamedProblem) {
  for (const Case& c : MalformedCases()) {
    SCOPED_TRACE(c.name);
    Status s = Parse(c.image);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), c.code) << s.ToString();
    EXPECT_NE(s.message().find(c.message), std::string::npos)
        << "want \"" << c.message << "\" in: " << s.ToString();
    EXPECT_NE(s.message().find("at byte "), std::string::npos) << s.ToString();
  }
}

TEST(GgufMalformed, HandBuiltValidImagesParse) {
  // The builder itself is right: the same shapes with good values are accepted.
  Image v2 = Image().Header(1, 1, /*version=*/2).KvU32("general.alignment", 64);
  v2.TensorInfo("t", {4, 2}, 0, 0).PadTo(64).Zeros(32);
  auto f = GgufFile::FromMemory(v2.bytes().data(), v2.bytes().size());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->version(), 2u);
  EXPECT_EQ((*f)->alignment(), 64u);
  EXPECT_EQ((*f)->tensors()[0].nbytes, 32);
  // 24 header + 33 alignment key + 41 tensor info = 98, padded to 128.
  EXPECT_EQ((*f)->data_offset(), 128u);
  EXPECT_EQ((*f)->tensors()[0].data, v2.bytes().data() + 128);

  Image deep8 = Image().Header(0, 1).Key("deep", ValueType::kArray);
  for (int i = 0; i < 7; ++i) deep8.U32(static_cast<uint32_t>(ValueType::kArray)).U64(1);
  deep8.U32(static_cast<uint32_t>(ValueType::kUint8)).U64(0);
  EXPECT_TRUE(Parse(deep8).ok()) << Parse(deep8).ToString();
}

// A small valid file whose last byte of content (the last tensor's data, or with no tensors the
// last metadata value) is nonzero, so the end of the content is found past the writer's padding.
std::vector<uint8_t> SmallValidFile(bool with_tensors) {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetU32("llama.block_count", 2);
  w.SetF32("eps", 1e-5f);
  w.SetBool("flag", true);
  w.SetStringArray("tokens", {"<unk>", "a", "bc"});
  w.SetValue("nested",
             Value::MakeArray(
                 ValueType::kArray,
                 {Value::MakeArray(ValueType::kInt16, {Value::Signed(ValueType::kInt16, -3)})}));
  if (with_tensors) {
    EXPECT_TRUE(w.AddTensor("a", DType::kF16, {4}, std::vector<uint8_t>(8, 1)).ok());
    EXPECT_TRUE(w.AddTensor("b", DType::kF32, {4, 2}, std::vector<uint8_t>(32, 2)).ok());
  }
  return w.Serialize();
}

TEST(GgufMalformed, TruncationAtEveryByteFails) {
  for (bool with_tensors : {false, true}) {
    const std::vector<uint8_t> image = SmallValidFile(with_tensors);
    size_t content_end = image.size();
    while (content_end > 0 && image[content_end - 1] == 0) --content_end;
    ASSERT_GT(content_end + 32, image.size());
    // Padding after the content is not required (llama.cpp's reader does not require it either).
    for (size_t n = content_end; n <= image.size(); ++n) {
      EXPECT_TRUE(ParsePrefix(image, n).ok()) << ParsePrefix(image, n).ToString();
    }
    for (size_t n = 0; n < content_end; ++n) {
      Status s = ParsePrefix(image, n);
      ASSERT_FALSE(s.ok()) << "prefix of " << n << " of " << image.size() << " bytes parsed";
      EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
      EXPECT_NE(s.message().find("at byte "), std::string::npos) << s.ToString();
    }
  }
}

TEST(GgufMalformed, RandomCorruptionNeverCrashes) {
  const std::vector<uint8_t> image = SmallValidFile(true);
  std::mt19937 rng(1234);
  int failed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> bad = image;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) bad[rng() % bad.size()] = static_cast<uint8_t>(rng());
    auto f = GgufFile::FromMemory(bad.data(), bad.size());
    if (!f.ok()) {
      ++failed;
      EXPECT_FALSE(f.status().message().empty());
      continue;
    }
    // What parses must be consistent: every tensor inside the image.
    for (const auto& t : (*f)->tensors()) {
      ASSERT_GE(t.data, bad.data());
      ASSERT_LE(t.data + t.nbytes, bad.data() + bad.size());
    }
    EXPECT_FALSE((*f)->Describe().empty());
  }
  EXPECT_GT(failed, 1000);
}

}  // namespace
}  // namespace mint::gguf
