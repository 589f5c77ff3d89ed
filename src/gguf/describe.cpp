// GgufFile::Describe(): the human-readable summary behind `mint gguf info`.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "gguf/gguf.h"

namespace mint::gguf {
namespace {

constexpr size_t kArrayItemsShown = 6;
constexpr size_t kMaxNameShown = 64;

// A name from the file made safe for a terminal: control bytes become '?', long names are cut.
std::string Printable(const std::string& s) {
  std::string out = s.substr(0, kMaxNameShown);
  for (char& c : out) {
    const auto u = static_cast<uint8_t>(c);
    if (u < 0x20 || u == 0x7F) c = '?';
  }
  if (s.size() > kMaxNameShown) out += "...";
  return out;
}

std::string Shape(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

std::string HumanBytes(uint64_t n) {
  char buf[32];
  if (n < 1024) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(n));
  } else if (n < (1ull << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", n / 1024.0);
  } else if (n < (1ull << 30)) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", n / 1048576.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", n / 1073741824.0);
  }
  return buf;
}

void AppendMetadata(const std::map<std::string, Value>& metadata, std::string* out) {
  *out += "metadata: " + std::to_string(metadata.size()) + " keys\n";
  for (const auto& [key, value] : metadata) {
    *out += "  " + Printable(key) + ": " + ValueTypeName(value.type) + " = " +
            FormatValue(value, kArrayItemsShown) + "\n";
  }
}

void AppendTensorTable(const std::vector<TensorInfo>& tensors, std::string* out) {
  size_t name_width = 4;
  for (const auto& t : tensors) name_width = std::max(name_width, Printable(t.name).size());
  char line[512];
  std::snprintf(line, sizeof(line), "  %5s  %-*s  %-5s  %-26s  %12s  %12s\n", "#",
                static_cast<int>(name_width), "name", "type", "shape", "bytes", "offset");
  *out += line;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    std::snprintf(line, sizeof(line), "  %5zu  %-*s  %-5s  %-26s  %12lld  %12llu\n", i,
                  static_cast<int>(name_width), Printable(t.name).c_str(), DTypeName(t.type),
                  Shape(t.dims).c_str(), static_cast<long long>(t.nbytes),
                  static_cast<unsigned long long>(t.offset));
    *out += line;
  }
}

void AppendTotals(const std::vector<TensorInfo>& tensors, std::string* out) {
  // Saturating sums: each tensor lies inside the file, but elements of quantized types can
  // exceed bytes, and a hostile file may repeat ranges.
  uint64_t elements = 0, bytes = 0;
  std::map<std::string, size_t> per_type;
  for (const auto& t : tensors) {
    if (__builtin_add_overflow(elements, static_cast<uint64_t>(t.Elements()), &elements)) {
      elements = UINT64_MAX;
    }
    if (__builtin_add_overflow(bytes, static_cast<uint64_t>(t.nbytes), &bytes)) bytes = UINT64_MAX;
    ++per_type[DTypeName(t.type)];
  }
  *out += "total: " + std::to_string(tensors.size()) + " tensors, " + std::to_string(elements) +
          " elements, " + std::to_string(bytes) + " bytes (" + HumanBytes(bytes) + ")";
  if (!per_type.empty()) {
    *out += "; types:";
    for (const auto& [name, count] : per_type) *out += " " + name + " x" + std::to_string(count);
  }
  *out += "\n";
}

}  // namespace

std::string GgufFile::Describe(bool with_tensors) const {
  std::string out = "GGUF v" + std::to_string(version_) + ", " + std::to_string(size_) +
                    " bytes (" + HumanBytes(size_) + "), alignment " + std::to_string(alignment_) +
                    ", data section at byte " + std::to_string(data_offset_) + "\n";
  AppendMetadata(metadata_, &out);
  out += "tensors: " + std::to_string(tensors_.size()) + "\n";
  if (with_tensors && !tensors_.empty()) AppendTensorTable(tensors_, &out);
  AppendTotals(tensors_, &out);
  return out;
}

}  // namespace mint::gguf
