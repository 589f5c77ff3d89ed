// Writes a seed corpus for gguf_fuzz: small valid GGUF files that cover every metadata value type,
// nested arrays, every tensor type, v2, a custom alignment, and shrunken copies of real GGUFs
// (metadata arrays cut to a few items, tensors cut to a few rows) so seeds stay under -max_len.
//
//   gguf_seeds OUT_DIR [REAL.gguf ...]
#include <cstdio>
#include <filesystem>
#include <string>

#include "gguf/gguf.h"

namespace {

using mint::DType;
using mint::gguf::GgufFile;
using mint::gguf::GgufWriter;
using mint::gguf::Value;
using mint::gguf::ValueType;

int failures = 0;

void Write(const GgufWriter& w, const std::filesystem::path& path) {
  if (mint::Status s = w.WriteFile(path.string()); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    ++failures;
  }
}

void Check(const mint::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    ++failures;
  }
}

void ScalarsAndArrays(const std::filesystem::path& dir) {
  GgufWriter w;
  w.SetU8("u8", 1);
  w.SetI8("i8", -1);
  w.SetU16("u16", 2);
  w.SetI16("i16", -2);
  w.SetU32("u32", 3);
  w.SetI32("i32", -3);
  w.SetF32("f32", 0.5f);
  w.SetBool("bool", true);
  w.SetString("string", "text");
  w.SetU64("u64", 4);
  w.SetI64("i64", -4);
  w.SetF64("f64", 0.25);
  w.SetStringArray("strings", {"<unk>", "<s>", "</s>"});
  w.SetF32Array("f32s", {0.0f, -1.0f});
  w.SetI32Array("i32s", {1, 2, 3});
  w.SetU32Array("u32s", {7});
  w.SetValue("nested", Value::MakeArray(ValueType::kArray,
                                        {Value::MakeArray(ValueType::kUint8,
                                                          {Value::Unsigned(ValueType::kUint8, 9)}),
                                         Value::MakeArray(ValueType::kArray, {})}));
  Write(w, dir / "scalars_arrays.gguf");
}

void EveryTensorType(const std::filesystem::path& dir, uint32_t alignment) {
  GgufWriter w;
  if (alignment != 32) w.SetU32("general.alignment", alignment);
  w.SetString("general.architecture", "llama");
  const std::pair<DType, int64_t> types[] = {
      {DType::kF32, 4},   {DType::kF16, 4},    {DType::kBF16, 4},  {DType::kQ4_0, 32},
      {DType::kQ8_0, 32}, {DType::kQ4_K, 256}, {DType::kQ6_K, 256}};
  int i = 0;
  for (const auto& [type, cols] : types) {
    const std::vector<int64_t> dims = {cols, 2};
    std::vector<uint8_t> bytes(static_cast<size_t>(mint::DTypeRowBytes(type, cols) * 2), 0x11);
    Check(w.AddTensor("t" + std::to_string(i++), type, dims, std::move(bytes)));
  }
  Check(w.AddTensor("four_d", DType::kF32, {1, 2, 1, 2}, std::vector<uint8_t>(16, 0x22)));
  Write(w, dir / ("tensors_align" + std::to_string(alignment) + ".gguf"));
}

// Cuts arrays to `keep` items, recursively.
Value Shrink(const Value& v, size_t keep) {
  const auto* a = v.AsArray();
  if (a == nullptr) return v;
  std::vector<Value> items;
  for (size_t i = 0; i < a->items.size() && i < keep; ++i)
    items.push_back(Shrink(a->items[i], keep));
  return Value::MakeArray(a->elem_type, std::move(items));
}

void ShrunkenCopy(const std::string& path, const std::filesystem::path& dir) {
  auto f = GgufFile::Open(path);
  if (!f.ok()) {
    Check(f.status());
    return;
  }
  GgufWriter w;
  for (const auto& [key, value] : (*f)->metadata()) w.SetValue(key, Shrink(value, 8));
  int kept = 0;
  for (const auto& t : (*f)->tensors()) {
    if (kept++ >= 6) break;
    std::vector<int64_t> dims = t.dims;
    for (size_t d = 1; d < dims.size(); ++d) dims[d] = 1;
    const int64_t n = mint::DTypeRowBytes(t.type, dims[0]);
    Check(w.AddTensor(t.name, t.type, dims, std::vector<uint8_t>(t.data, t.data + n)));
  }
  Write(w, dir / ("shrunk_" + std::filesystem::path(path).filename().string()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [REAL.gguf ...]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  Write(GgufWriter(), dir / "empty.gguf");
  ScalarsAndArrays(dir);
  EveryTensorType(dir, 32);
  EveryTensorType(dir, 64);
  for (int i = 2; i < argc; ++i) ShrunkenCopy(argv[i], dir);
  return failures == 0 ? 0 : 1;
}
