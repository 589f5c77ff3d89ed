// libFuzzer target for the GGUF reader: parse arbitrary bytes, then touch everything a parsed file
// exposes (every accessor, every value, every tensor byte range, Describe) and check that what was
// read can be written again and re-read identically. Any crash, sanitizer report or trap is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "gguf/gguf.h"

namespace {

using mint::gguf::Array;
using mint::gguf::GgufFile;
using mint::gguf::GgufWriter;
using mint::gguf::Value;
using mint::gguf::ValueType;

// Writing a copy pads tensors to the file's alignment; skip absurd alignments to bound memory.
constexpr uint64_t kMaxCopyAlignment = 1 << 16;

void Require(bool cond) {
  if (!cond) __builtin_trap();
}

// Calls every accessor of a value and its items; returns a checksum so nothing is optimized out.
size_t TouchValue(const Value& v) {
  size_t sum = static_cast<size_t>(v.type);
  if (auto i = v.AsInt(); i.ok()) sum += static_cast<size_t>(*i);
  if (auto u = v.AsUint(); u.ok()) sum += static_cast<size_t>(*u);
  if (auto d = v.AsFloat(); d.ok()) sum += *d > 0 ? 1 : 0;
  if (auto b = v.AsBool(); b.ok()) sum += *b;
  if (auto s = v.AsString(); s.ok()) sum += s->size();
  if (const Array* a = v.AsArray()) {
    Require(v.type == ValueType::kArray);
    for (const Value& item : a->items) {
      Require(item.type == a->elem_type);
      sum += TouchValue(item);
    }
  }
  return sum;
}

size_t TouchFile(const GgufFile& f) {
  size_t sum = f.version() + f.alignment() + f.file_size() + f.data_offset();
  Require(f.alignment() != 0 && (f.alignment() & (f.alignment() - 1)) == 0);
  for (const auto& [key, value] : f.metadata()) {
    Require(f.Find(key) == &value);
    sum += TouchValue(value);
    sum += f.GetInt(key).ok() + f.GetUint(key).ok() + f.GetFloat(key).ok() + f.GetString(key).ok() +
           f.GetBool(key).ok();
    sum += f.GetIntOr(key, 1).ok() + f.GetFloatOr(key, 1).ok() + f.GetStringOr(key, "").ok() +
           f.GetBoolOr(key, false).ok();
    if (value.AsArray() != nullptr) sum += f.GetArray(key, value.AsArray()->elem_type).ok();
    sum += mint::gguf::FormatValue(value).size();
  }
  for (const auto& t : f.tensors()) {
    Require(f.FindTensor(t.name) == &t);
    Require(t.nbytes > 0 && t.Elements() > 0);
    // The reader promises every tensor lies inside the image: read its first and last byte.
    sum += t.data[0] + t.data[t.nbytes - 1];
  }
  Require(f.FindTensor("") == nullptr);
  sum += f.Describe(true).size() + f.Describe(false).size();
  return sum;
}

// What parsed must survive a copy through the writer unchanged.
void CheckCopy(const GgufFile& f) {
  if (f.alignment() > kMaxCopyAlignment) return;
  GgufWriter w;
  for (const auto& [key, value] : f.metadata()) w.SetValue(key, value);
  for (const auto& t : f.tensors()) {
    Require(
        w.AddTensor(t.name, t.type, t.dims, std::vector<uint8_t>(t.data, t.data + t.nbytes)).ok());
  }
  Require(w.status().ok());
  const std::vector<uint8_t> image = w.Serialize();
  auto copy = GgufFile::FromMemory(image.data(), image.size());
  Require(copy.ok());
  const GgufFile& c = **copy;
  Require(c.alignment() == f.alignment());
  Require(c.metadata().size() == f.metadata().size());
  for (const auto& [key, value] : f.metadata()) {
    const Value* v = c.Find(key);
    Require(v != nullptr && mint::gguf::ValuesEqual(*v, value));
  }
  Require(c.tensors().size() == f.tensors().size());
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& a = f.tensors()[i];
    const auto& b = c.tensors()[i];
    Require(a.name == b.name && a.type == b.type && a.dims == b.dims && a.nbytes == b.nbytes);
    Require(std::equal(a.data, a.data + a.nbytes, b.data));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = GgufFile::FromMemory(data, size);
  if (!f.ok()) {
    Require(!f.status().message().empty());
    return 0;
  }
  volatile size_t sink = TouchFile(**f);
  (void)sink;
  CheckCopy(**f);
  return 0;
}
