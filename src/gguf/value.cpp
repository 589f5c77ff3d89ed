// Metadata values: type names, lossless typed accessors, rendering for Describe().
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gguf/format.h"
#include "gguf/gguf.h"

namespace mint::gguf {
namespace {

constexpr double kTwoPow63 = 9223372036854775808.0;
constexpr double kTwoPow64 = 18446744073709551616.0;
constexpr size_t kMaxStringShown = 200;     // bytes of a top-level string before it is cut
constexpr size_t kMaxItemStringShown = 40;  // bytes of a string inside an array
constexpr size_t kMaxNestedItemsShown = 3;  // items of an array inside an array

Status NotConvertible(const Value& v, const char* to) {
  return Status::InvalidArgument(std::string("metadata value of type ") + ValueTypeName(v.type) +
                                 " is not convertible to " + to + " without loss");
}

bool IsIntegral(double d) { return std::isfinite(d) && std::trunc(d) == d; }

// Largest prefix of s no longer than n bytes that does not split a UTF-8 sequence.
size_t Utf8Cut(const std::string& s, size_t n) {
  if (n >= s.size()) return s.size();
  while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

std::string QuoteString(const std::string& s, size_t max_bytes) {
  const size_t shown = Utf8Cut(s, max_bytes);
  std::string out = "\"";
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02X", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  if (shown < s.size()) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

// Shortest decimal that reads back as the same float (f32) or double (f64).
std::string FormatFloat(double d, bool single) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[40];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, d);
    if (single ? std::strtof(buf, nullptr) == static_cast<float>(d)
               : std::strtod(buf, nullptr) == d) {
      break;
    }
  }
  return buf;
}

std::string PluralTypeName(ValueType t) {
  switch (t) {
    case ValueType::kString:
      return "strings";
    case ValueType::kArray:
      return "arrays";
    case ValueType::kBool:
      return "bools";
    default:
      return ValueTypeName(t);
  }
}

std::string FormatImpl(const Value& v, size_t max_items, size_t max_string, bool nested) {
  if (const auto* u = std::get_if<uint64_t>(&v.v)) return std::to_string(*u);
  if (const auto* i = std::get_if<int64_t>(&v.v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v.v)) {
    return FormatFloat(*d, v.type == ValueType::kFloat32);
  }
  if (const auto* b = std::get_if<bool>(&v.v)) return *b ? "true" : "false";
  if (const auto* s = std::get_if<std::string>(&v.v)) return QuoteString(*s, max_string);
  const Array& a = std::get<Array>(v.v);
  std::string out = "[" + std::to_string(a.items.size()) + " " + PluralTypeName(a.elem_type);
  if (a.items.empty()) return out + "]";
  const size_t limit = nested ? std::min(max_items, kMaxNestedItemsShown) : max_items;
  const size_t shown = std::min(a.items.size(), std::max<size_t>(limit, 1));
  out += ": ";
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) out += ", ";
    out += FormatImpl(a.items[i], max_items, kMaxItemStringShown, /*nested=*/true);
  }
  if (shown < a.items.size()) out += ", ...";
  return out + "]";
}

}  // namespace

const char* ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
      return "u8";
    case ValueType::kInt8:
      return "i8";
    case ValueType::kUint16:
      return "u16";
    case ValueType::kInt16:
      return "i16";
    case ValueType::kUint32:
      return "u32";
    case ValueType::kInt32:
      return "i32";
    case ValueType::kFloat32:
      return "f32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kArray:
      return "array";
    case ValueType::kUint64:
      return "u64";
    case ValueType::kInt64:
      return "i64";
    case ValueType::kFloat64:
      return "f64";
  }
  return "unknown";
}

bool IsValidValueType(uint32_t id) { return id <= static_cast<uint32_t>(ValueType::kFloat64); }

Result<int64_t> Value::AsInt() const {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&v)) {
    if (*u <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(*u);
  }
  if (const auto* d = std::get_if<double>(&v)) {
    if (IsIntegral(*d) && *d >= -kTwoPow63 && *d < kTwoPow63) return static_cast<int64_t>(*d);
  }
  return NotConvertible(*this, "int64");
}

Result<uint64_t> Value::AsUint() const {
  if (const auto* u = std::get_if<uint64_t>(&v)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v)) {
    if (*i >= 0) return static_cast<uint64_t>(*i);
  }
  if (const auto* d = std::get_if<double>(&v)) {
    if (IsIntegral(*d) && *d >= 0 && *d < kTwoPow64) return static_cast<uint64_t>(*d);
  }
  return NotConvertible(*this, "uint64");
}

Result<double> Value::AsFloat() const {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v)) {
    const double d = static_cast<double>(*u);
    if (d < kTwoPow64 && static_cast<uint64_t>(d) == *u) return d;
  }
  if (const auto* i = std::get_if<int64_t>(&v)) {
    const double d = static_cast<double>(*i);
    if (d < kTwoPow63 && static_cast<int64_t>(d) == *i) return d;
  }
  return NotConvertible(*this, "double");
}

Result<bool> Value::AsBool() const {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  return NotConvertible(*this, "bool");
}

Result<std::string> Value::AsString() const {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return NotConvertible(*this, "string");
}

const Array* Value::AsArray() const { return std::get_if<Array>(&v); }

bool ValuesEqual(const Value& a, const Value& b) {
  if (a.type != b.type || a.v.index() != b.v.index()) return false;
  if (const auto* d = std::get_if<double>(&a.v)) {
    return std::memcmp(d, &std::get<double>(b.v), sizeof(double)) == 0;
  }
  if (const auto* u = std::get_if<uint64_t>(&a.v)) return *u == std::get<uint64_t>(b.v);
  if (const auto* i = std::get_if<int64_t>(&a.v)) return *i == std::get<int64_t>(b.v);
  if (const auto* t = std::get_if<bool>(&a.v)) return *t == std::get<bool>(b.v);
  if (const auto* s = std::get_if<std::string>(&a.v)) return *s == std::get<std::string>(b.v);
  const Array& x = std::get<Array>(a.v);
  const Array& y = std::get<Array>(b.v);
  if (x.elem_type != y.elem_type || x.items.size() != y.items.size()) return false;
  for (size_t i = 0; i < x.items.size(); ++i) {
    if (!ValuesEqual(x.items[i], y.items[i])) return false;
  }
  return true;
}

std::string FormatValue(const Value& v, size_t max_items) {
  return FormatImpl(v, max_items, kMaxStringShown, /*nested=*/false);
}

int64_t TensorInfo::Elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

namespace internal {

size_t ScalarSize(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUint16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
      return 8;
    case ValueType::kString:
    case ValueType::kArray:
      return 0;
  }
  return 0;
}

size_t MinEncodedSize(ValueType t) {
  if (t == ValueType::kString) return 8;
  if (t == ValueType::kArray) return 12;
  return ScalarSize(t);
}

Status CorruptAt(size_t offset, const std::string& what) {
  return Status::Corruption(what + " at byte " + std::to_string(offset));
}

}  // namespace internal
}  // namespace mint::gguf
