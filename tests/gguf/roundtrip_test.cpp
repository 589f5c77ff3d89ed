// Writer -> reader round trips: every metadata value type (nested arrays included), every tensor
// type, custom alignment, key replacement, the atomic file write, and the writer's own checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "gguf/gguf.h"

namespace mint::gguf {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("mint_gguf_" + name)).string();
}

std::unique_ptr<GgufFile> Reparse(const std::vector<uint8_t>& image) {
  auto f = GgufFile::FromMemory(image.data(), image.size());
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? std::move(f).value() : nullptr;
}

// Deterministic bytes for a tensor.
std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 31);
  return b;
}

TEST(GgufRoundTrip, EveryScalarType) {
  GgufWriter w;
  w.SetU8("u8", 255);
  w.SetI8("i8", -128);
  w.SetU16("u16", 65535);
  w.SetI16("i16", -32768);
  w.SetU32("u32", 4294967295u);
  w.SetI32("i32", std::numeric_limits<int32_t>::min());
  w.SetU64("u64", std::numeric_limits<uint64_t>::max());
  w.SetI64("i64", std::numeric_limits<int64_t>::min());
  w.SetF32("f32", 0.1f);
  w.SetF64("f64", -1e300);
  w.SetBool("t", true);
  w.SetBool("f", false);
  w.SetString("s", std::string("h\xC3\xA9llo\0world", 12));
  w.SetString("empty", "");
  ASSERT_TRUE(w.status().ok()) << w.status().ToString();
  auto f = Reparse(w.Serialize());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->metadata().size(), 14u);

  EXPECT_EQ(f->Find("u8")->type, ValueType::kUint8);
  EXPECT_EQ(*f->GetInt("u8"), 255);
  EXPECT_EQ(f->Find("i8")->type, ValueType::kInt8);
  EXPECT_EQ(*f->GetInt("i8"), -128);
  EXPECT_EQ(f->Find("u16")->type, ValueType::kUint16);
  EXPECT_EQ(*f->GetInt("u16"), 65535);
  EXPECT_EQ(*f->GetInt("i16"), -32768);
  EXPECT_EQ(*f->GetInt("u32"), 4294967295);
  EXPECT_EQ(*f->GetInt("i32"), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(*f->GetUint("u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(f->GetInt("u64").ok());  // does not fit in int64
  EXPECT_EQ(*f->GetInt("i64"), std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(f->GetUint("i64").ok());
  EXPECT_EQ(f->Find("f32")->type, ValueType::kFloat32);
  EXPECT_EQ(*f->GetFloat("f32"), static_cast<double>(0.1f));
  EXPECT_EQ(*f->GetFloat("f64"), -1e300);
  EXPECT_TRUE(*f->GetBool("t"));
  EXPECT_FALSE(*f->GetBool("f"));
  EXPECT_EQ(*f->GetString("s"), std::string("h\xC3\xA9llo\0world", 12));
  EXPECT_EQ(*f->GetString("empty"), "");
}

TEST(GgufRoundTrip, GettersReportMissingAndWrongTypes) {
  GgufWriter w;
  w.SetU32("n", 7);
  w.SetString("s", "x");
  w.SetF32("half", 0.5f);
  w.SetF32("two", 2.0f);
  auto f = Reparse(w.Serialize());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->GetInt("missing").status().code(), StatusCode::kNotFound);
  EXPECT_NE(f->GetInt("missing").status().message().find("missing"), std::string::npos);
  EXPECT_EQ(f->GetString("n").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetBool("n").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetInt("s").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetInt("half").status().code(), StatusCode::kInvalidArgument);  // lossy
  EXPECT_EQ(*f->GetInt("two"), 2);                                             // exact
  EXPECT_EQ(*f->GetFloat("n"), 7.0);
  EXPECT_EQ(*f->GetIntOr("missing", 42), 42);
  EXPECT_EQ(*f->GetIntOr("n", 42), 7);
  EXPECT_EQ(f->GetIntOr("s", 42).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*f->GetFloatOr("missing", 1.5), 1.5);
  EXPECT_EQ(*f->GetStringOr("missing", "d"), "d");
  EXPECT_EQ(*f->GetStringOr("s", "d"), "x");
  EXPECT_TRUE(*f->GetBoolOr("missing", true));
  EXPECT_EQ(f->GetArray("n", ValueType::kUint32).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetArray("missing", ValueType::kUint32).status().code(), StatusCode::kNotFound);
}

TEST(GgufRoundTrip, ArraysOfEveryTypeAndNesting) {
  GgufWriter w;
  const ValueType scalar_types[] = {ValueType::kUint8,   ValueType::kInt8,   ValueType::kUint16,
                                    ValueType::kInt16,   ValueType::kUint32, ValueType::kInt32,
                                    ValueType::kFloat32, ValueType::kBool,   ValueType::kString,
                                    ValueType::kUint64,  ValueType::kInt64,  ValueType::kFloat64};
  for (ValueType t : scalar_types) {
    std::vector<Value> items;
    for (int i = 0; i < 5; ++i) {
      if (t == ValueType::kBool) {
        items.push_back(Value::Bool(i % 2 == 1));
      } else if (t == ValueType::kString) {
        items.push_back(Value::String("item" + std::to_string(i)));
      } else if (t == ValueType::kFloat32 || t == ValueType::kFloat64) {
        items.push_back(Value::Float(t, i * 0.25));
      } else if (t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 ||
                 t == ValueType::kInt64) {
        items.push_back(Value::Signed(t, -i));
      } else {
        items.push_back(Value::Unsigned(t, i * 3));
      }
    }
    w.SetValue(std::string("arr.") + ValueTypeName(t), Value::MakeArray(t, items));
  }
  w.SetStringArray("strs", {"<unk>", "<s>", ""});
  w.SetF32Array("f32s", {1.5f, -2.0f});
  w.SetI32Array("i32s", {-1, 0, 1});
  w.SetU32Array("u32s", {});
  // [[1, 2], [], [[true]]]: arrays of arrays with different element types, 3 levels deep.
  Value nested = Value::MakeArray(
      ValueType::kArray,
      {Value::MakeArray(ValueType::kUint8, {Value::Unsigned(ValueType::kUint8, 1),
                                            Value::Unsigned(ValueType::kUint8, 2)}),
       Value::MakeArray(ValueType::kString, {}),
       Value::MakeArray(ValueType::kArray,
                        {Value::MakeArray(ValueType::kBool, {Value::Bool(true)})})});
  w.SetValue("nested", nested);
  ASSERT_TRUE(w.status().ok()) << w.status().ToString();

  auto f = Reparse(w.Serialize());
  ASSERT_NE(f, nullptr);
  for (ValueType t : scalar_types) {
    auto a = f->GetArray(std::string("arr.") + ValueTypeName(t), t);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_EQ((*a)->items.size(), 5u);
    for (const Value& item : (*a)->items) EXPECT_EQ(item.type, t);
  }
  EXPECT_EQ(*f->GetArray("arr.i16", ValueType::kInt16).value()->items[4].AsInt(), -4);
  EXPECT_EQ(*f->GetArray("arr.u64", ValueType::kUint64).value()->items[4].AsUint(), 12u);
  EXPECT_EQ(*f->GetArray("arr.f64", ValueType::kFloat64).value()->items[3].AsFloat(), 0.75);
  EXPECT_TRUE(*f->GetArray("arr.bool", ValueType::kBool).value()->items[1].AsBool());
  EXPECT_EQ(*f->GetArray("arr.string", ValueType::kString).value()->items[2].AsString(), "item2");
  auto strs = f->GetArray("strs", ValueType::kString);
  ASSERT_TRUE(strs.ok());
  EXPECT_EQ(*(*strs)->items[1].AsString(), "<s>");
  EXPECT_EQ(*f->GetArray("f32s", ValueType::kFloat32).value()->items[1].AsFloat(), -2.0);
  EXPECT_EQ(*f->GetArray("i32s", ValueType::kInt32).value()->items[0].AsInt(), -1);
  EXPECT_TRUE(f->GetArray("u32s", ValueType::kUint32).value()->items.empty());
  EXPECT_EQ(f->GetArray("strs", ValueType::kInt32).status().code(), StatusCode::kInvalidArgument);

  const Array* n = f->Find("nested")->AsArray();
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->elem_type, ValueType::kArray);
  ASSERT_EQ(n->items.size(), 3u);
  EXPECT_EQ(n->items[0].AsArray()->elem_type, ValueType::kUint8);
  EXPECT_EQ(*n->items[0].AsArray()->items[1].AsUint(), 2u);
  EXPECT_EQ(n->items[1].AsArray()->elem_type, ValueType::kString);
  EXPECT_TRUE(n->items[1].AsArray()->items.empty());
  const Array* deep = n->items[2].AsArray()->items[0].AsArray();
  ASSERT_NE(deep, nullptr);
  EXPECT_TRUE(*deep->items[0].AsBool());
  EXPECT_EQ(FormatValue(*f->Find("nested")),
            "[3 arrays: [2 u8: 1, 2], [0 strings], [1 arrays: [1 bools: true]]]");

  // What was read can be written again unchanged (the reader keeps declared types).
  GgufWriter again;
  for (const auto& [key, value] : f->metadata()) again.SetValue(key, value);
  ASSERT_TRUE(again.status().ok()) << again.status().ToString();
  auto f2 = Reparse(again.Serialize());
  ASSERT_NE(f2, nullptr);
  ASSERT_EQ(f2->metadata().size(), f->metadata().size());
  for (const auto& [key, value] : f->metadata()) {
    const Value* v2 = f2->Find(key);
    ASSERT_NE(v2, nullptr) << key;
    EXPECT_TRUE(ValuesEqual(*v2, value)) << key;
    EXPECT_EQ(FormatValue(*v2, 100), FormatValue(value, 100)) << key;
  }
}

TEST(GgufRoundTrip, MaximumNestingIsAcceptedOneMoreIsRejectedByWriter) {
  Value v = Value::MakeArray(ValueType::kUint8, {Value::Unsigned(ValueType::kUint8, 9)});
  for (int level = 1; level < kMaxArrayDepth; ++level) v = Value::MakeArray(ValueType::kArray, {v});
  GgufWriter w;
  w.SetValue("deep", v);
  ASSERT_TRUE(w.status().ok()) << w.status().ToString();
  auto f = Reparse(w.Serialize());
  ASSERT_NE(f, nullptr);
  const Value* cur = f->Find("deep");
  for (int level = 1; level < kMaxArrayDepth; ++level) cur = &cur->AsArray()->items[0];
  EXPECT_EQ(*cur->AsArray()->items[0].AsUint(), 9u);

  GgufWriter w2;
  w2.SetValue("too_deep", Value::MakeArray(ValueType::kArray, {v}));
  EXPECT_EQ(w2.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(w2.status().message().find("nested deeper"), std::string::npos);
}

TEST(GgufRoundTrip, EveryTensorType) {
  struct Case {
    DType type;
    std::vector<int64_t> dims;
  };
  const Case cases[] = {
      {DType::kF32, {3}},
      {DType::kF16, {5, 2}},
      {DType::kBF16, {4, 3, 2}},
      {DType::kQ4_0, {64, 3}},
      {DType::kQ8_0, {32, 1, 2}},
      {DType::kQ4_K, {256, 2}},
      {DType::kQ6_K, {512, 1, 1, 3}},
      {DType::kF32, {1, 1, 1, 1}},
  };
  GgufWriter w;
  w.SetString("general.architecture", "test");
  int i = 0;
  for (const Case& c : cases) {
    int64_t rows = 1;
    for (size_t d = 1; d < c.dims.size(); ++d) rows *= c.dims[d];
    const size_t n = static_cast<size_t>(DTypeRowBytes(c.type, c.dims[0]) * rows);
    Status s = w.AddTensor("t" + std::to_string(i), c.type, c.dims, Pattern(n, uint8_t(i)));
    ASSERT_TRUE(s.ok()) << s.ToString();
    ++i;
  }
  const std::vector<uint8_t> image = w.Serialize();
  auto f = Reparse(image);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->tensors().size(), std::size(cases));
  for (size_t k = 0; k < std::size(cases); ++k) {
    const TensorInfo& t = f->tensors()[k];  // insertion order
    EXPECT_EQ(t.name, "t" + std::to_string(k));
    EXPECT_EQ(t.type, cases[k].type);
    EXPECT_EQ(t.dims, cases[k].dims);
    EXPECT_EQ(t.offset % 32, 0u);
    EXPECT_EQ((t.data - image.data()) % 32, 0);
    const std::vector<uint8_t> want = Pattern(static_cast<size_t>(t.nbytes), uint8_t(k));
    EXPECT_EQ(std::memcmp(t.data, want.data(), want.size()), 0) << t.name;
    EXPECT_EQ(f->FindTensor(t.name), &t);
  }
  EXPECT_EQ(f->FindTensor("nope"), nullptr);
  EXPECT_EQ(f->tensors()[6].Elements(), 512 * 3);
  EXPECT_EQ(f->tensors()[6].nbytes, 2 * 210 * 3);
  EXPECT_EQ(f->data_offset() % 32, 0u);
}

TEST(GgufRoundTrip, CustomAlignmentAndKeyReplacement) {
  GgufWriter w;
  w.SetU32("general.alignment", 64);
  w.SetU32("a", 1);
  w.SetString("b", "x");
  w.SetU32("a", 2);  // replaced in place, keeps its position
  ASSERT_TRUE(w.AddTensor("x", DType::kF32, {3}, Pattern(12, 1)).ok());
  ASSERT_TRUE(w.AddTensor("y", DType::kF32, {5}, Pattern(20, 2)).ok());
  EXPECT_EQ(w.metadata_count(), 3u);
  auto f = Reparse(w.Serialize());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(*f->GetInt("a"), 2);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_EQ(f->tensors()[1].offset, 64u);
}

TEST(GgufRoundTrip, WriterRejectsBadInput) {
  GgufWriter w;
  EXPECT_EQ(w.AddTensor("", DType::kF32, {1}, Pattern(4, 0)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("a", DType::kF32, {}, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("a", DType::kF32, {1, 1, 1, 1, 1}, Pattern(4, 0)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("a", DType::kF32, {0}, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("a", DType::kF32, {2}, Pattern(4, 0)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("a", DType::kQ4_0, {33}, Pattern(18, 0)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("a", static_cast<DType>(16), {256}, Pattern(66, 0)).code(),
            StatusCode::kUnsupported);  // IQ2_XXS
  EXPECT_EQ(w.AddTensor("a", DType::kF32, {int64_t{1} << 62, 8}, {}).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(w.AddTensor("a", DType::kF32, {1}, Pattern(4, 0)).ok());
  EXPECT_EQ(w.AddTensor("a", DType::kF32, {1}, Pattern(4, 0)).code(), StatusCode::kInvalidArgument);

  GgufWriter v;
  v.SetValue("bad", Value::Unsigned(ValueType::kUint8, 256));
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("bad"), std::string::npos);
  EXPECT_EQ(v.metadata_count(), 0u);
  EXPECT_FALSE(v.WriteFile(TempPath("never.gguf")).ok());
  EXPECT_FALSE(std::filesystem::exists(TempPath("never.gguf")));

  const Value bad_values[] = {
      Value::Signed(ValueType::kInt8, 128),
      Value::Signed(ValueType::kUint32, -1),
      Value{ValueType::kString, uint64_t{1}},
      Value{ValueType::kBool, std::string("yes")},
      Value::MakeArray(ValueType::kUint8, {Value::String("x")}),
      Value{static_cast<ValueType>(13), uint64_t{0}},
  };
  for (const Value& bad : bad_values) {
    GgufWriter x;
    x.SetValue("k", bad);
    EXPECT_FALSE(x.status().ok()) << FormatValue(bad);
  }
  GgufWriter align;
  align.SetU32("general.alignment", 48);
  EXPECT_FALSE(align.status().ok());
  // A signed payload that fits an unsigned type is accepted (normalized).
  GgufWriter ok;
  ok.SetValue("k", Value::Signed(ValueType::kUint16, 5));
  EXPECT_TRUE(ok.status().ok());
}

TEST(GgufRoundTrip, WriteFileIsAtomicAndOpens) {
  const std::string path = TempPath("atomic.gguf");
  std::filesystem::remove(path);
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  ASSERT_TRUE(w.AddTensor("w", DType::kF16, {8, 2}, Pattern(32, 5)).ok());
  ASSERT_TRUE(w.WriteFile(path).ok());
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->file_size(), w.Serialize().size());
  EXPECT_EQ(*(*f)->GetString("general.architecture"), "llama");
  EXPECT_EQ((*f)->tensors()[0].nbytes, 32);
  // No temp files are left beside it.
  for (const auto& e : std::filesystem::directory_iterator(::testing::TempDir())) {
    EXPECT_EQ(e.path().filename().string().find("mint_gguf_atomic.gguf.tmp"), std::string::npos);
  }
  // Writing into a directory that does not exist fails cleanly.
  EXPECT_EQ(w.WriteFile(TempPath("no/such/dir/x.gguf")).code(), StatusCode::kIoError);
}

TEST(GgufRoundTrip, LazyTensorsAreMadeWhenWrittenAndChecked) {
  const std::string path = TempPath("lazy.gguf");
  std::filesystem::remove(path);
  GgufWriter w;
  int made = 0;
  ASSERT_TRUE(w.AddTensor("a", DType::kF16, {8, 2}, Pattern(32, 5)).ok());
  ASSERT_TRUE(w.AddLazyTensor("b", DType::kF32, {4}, [&] {
                 ++made;
                 return Pattern(16, 9);
               }).ok());
  EXPECT_EQ(made, 0);  // nothing is made before the file is written
  EXPECT_EQ(w.AddLazyTensor("b", DType::kF32, {4}, [] { return Pattern(16, 9); }).code(),
            StatusCode::kInvalidArgument);  // names stay unique
  ASSERT_TRUE(w.WriteFile(path).ok());
  EXPECT_EQ(made, 1);
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const auto& t = (*f)->tensors()[1];
  EXPECT_EQ(t.name, "b");
  EXPECT_EQ(std::memcmp(t.data, Pattern(16, 9).data(), 16), 0);

  // A producer that makes the wrong size fails the write and leaves the old file in place.
  GgufWriter bad;
  ASSERT_TRUE(bad.AddLazyTensor("b", DType::kF32, {4}, [] { return Pattern(12, 1); }).ok());
  const Status s = bad.WriteFile(path);
  EXPECT_EQ(s.code(), StatusCode::kInternal) << s.ToString();
  EXPECT_TRUE(GgufFile::Open(path).ok());
}

TEST(GgufRoundTrip, OpenReportsOsErrors) {
  EXPECT_EQ(GgufFile::Open(TempPath("does-not-exist.gguf")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(GgufFile::Open(::testing::TempDir()).status().code(), StatusCode::kIoError);
  const std::string empty = TempPath("empty.gguf");
  {
    FILE* fp = std::fopen(empty.c_str(), "wb");
    ASSERT_NE(fp, nullptr);
    std::fclose(fp);
  }
  auto f = GgufFile::Open(empty);
  EXPECT_EQ(f.status().code(), StatusCode::kCorruption);
  EXPECT_NE(f.status().message().find(empty), std::string::npos);
}

TEST(GgufRoundTrip, DescribeShowsEverything) {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  std::vector<std::string> vocab;
  for (int i = 0; i < 512; ++i)
    vocab.push_back(i == 0 ? "<unk>" : i == 1 ? "<s>" : "t" + std::to_string(i));
  w.SetStringArray("tokenizer.ggml.tokens", vocab);
  w.SetString("chat", "line1\nline2\t\"q\"");
  ASSERT_TRUE(w.AddTensor("token_embd.weight", DType::kQ8_0, {64, 4}, Pattern(34 * 2 * 4, 0)).ok());
  auto f = Reparse(w.Serialize());
  ASSERT_NE(f, nullptr);
  const std::string d = f->Describe();
  EXPECT_NE(d.find("GGUF v3"), std::string::npos) << d;
  EXPECT_NE(d.find("general.architecture: string = \"llama\""), std::string::npos) << d;
  EXPECT_NE(d.find("[512 strings: \"<unk>\", \"<s>\", \"t2\""), std::string::npos) << d;
  EXPECT_NE(d.find(", ...]"), std::string::npos) << d;
  EXPECT_NE(d.find("\"line1\\nline2\\t\\\"q\\\"\""), std::string::npos) << d;
  EXPECT_NE(d.find("token_embd.weight"), std::string::npos) << d;
  EXPECT_NE(d.find("Q8_0"), std::string::npos) << d;
  EXPECT_NE(d.find("[64, 4]"), std::string::npos) << d;
  EXPECT_NE(d.find("total: 1 tensors, 256 elements, 272 bytes"), std::string::npos) << d;
  const std::string brief = f->Describe(/*with_tensors=*/false);
  EXPECT_EQ(brief.find("[64, 4]"), std::string::npos) << brief;
  EXPECT_NE(brief.find("total: 1 tensors"), std::string::npos) << brief;
}

}  // namespace
}  // namespace mint::gguf
