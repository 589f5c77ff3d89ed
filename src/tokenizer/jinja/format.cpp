// json.dumps, `%` formatting and str.format with Python's output, for the Jinja builtins.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/ops.h"
#include "tokenizer/jinja/utf8.h"

namespace mint::tokenizer::jinja {
namespace {

constexpr int kMaxJsonDepth = 512;

void JsonString(std::string_view s, bool ensure_ascii, std::string* out) {
  out->push_back('"');
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    uint32_t cp = DecodeUtf8(s, &pos);
    char buf[16];
    switch (cp) {
      case '"': *out += "\\\""; continue;
      case '\\': *out += "\\\\"; continue;
      case '\n': *out += "\\n"; continue;
      case '\r': *out += "\\r"; continue;
      case '\t': *out += "\\t"; continue;
      case '\b': *out += "\\b"; continue;
      case '\f': *out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20 || (ensure_ascii && cp >= 0x7f)) {
      if (cp >= 0x10000) {
        uint32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
      } else {
        std::snprintf(buf, sizeof(buf), "\\u%04x", cp);
      }
      *out += buf;
    } else {
      out->append(s.substr(start, pos - start));
    }
  }
  out->push_back('"');
}

std::string JsonFloat(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "Infinity" : "-Infinity";
  return FormatFloat(f);
}

Status JsonValue(const Value& v, const JsonOptions& o, int level, std::string* out);

std::string Newline(const JsonOptions& o, int level) {
  std::string s = "\n";
  for (int i = 0; i < level; ++i) s += o.indent_is_string ? o.indent_str : std::string(static_cast<size_t>(o.indent), ' ');
  return s;
}

Result<std::string> JsonKey(const Value& k) {
  switch (k.kind()) {
    case Value::Kind::kString: return k.str();
    case Value::Kind::kInt: return std::to_string(k.as_int());
    case Value::Kind::kFloat: return JsonFloat(k.as_float());
    case Value::Kind::kBool: return std::string(k.as_bool() ? "true" : "false");
    case Value::Kind::kNone: return std::string("null");
    default:
      return Status::InvalidArgument(std::string("keys must be str, int, float, bool or None, not ") +
                                     k.TypeName());
  }
}

Status JsonContainer(const Value& v, const JsonOptions& o, int level, std::string* out) {
  bool is_dict = v.is_dict();
  size_t n = is_dict ? v.dict().items.size() : v.list().size();
  if (n == 0) {
    *out += is_dict ? "{}" : "[]";
    return Status::Ok();
  }
  bool indented = o.indent >= 0 || o.indent_is_string;
  *out += is_dict ? "{" : "[";
  std::string nl = indented ? Newline(o, level + 1) : "";
  *out += nl;
  std::vector<std::pair<std::string, const Value*>> entries;
  if (is_dict) {
    for (auto& [k, val] : v.dict().items) {
      MINT_ASSIGN_OR_RETURN(std::string key, JsonKey(k));
      entries.emplace_back(std::move(key), &val);
    }
    if (o.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) *out += o.item_sep + nl;
    if (is_dict) {
      JsonString(entries[i].first, o.ensure_ascii, out);
      *out += o.key_sep;
      MINT_RETURN_IF_ERROR(JsonValue(*entries[i].second, o, level + 1, out));
    } else {
      MINT_RETURN_IF_ERROR(JsonValue(v.list()[i], o, level + 1, out));
    }
  }
  if (indented) *out += Newline(o, level);
  *out += is_dict ? "}" : "]";
  return Status::Ok();
}

Status JsonValue(const Value& v, const JsonOptions& o, int level, std::string* out) {
  if (level > kMaxJsonDepth) return Status::InvalidArgument("Circular reference detected");
  switch (v.kind()) {
    case Value::Kind::kNone: *out += "null"; return Status::Ok();
    case Value::Kind::kBool: *out += v.as_bool() ? "true" : "false"; return Status::Ok();
    case Value::Kind::kInt: *out += std::to_string(v.as_int()); return Status::Ok();
    case Value::Kind::kFloat: *out += JsonFloat(v.as_float()); return Status::Ok();
    case Value::Kind::kString: JsonString(v.str(), o.ensure_ascii, out); return Status::Ok();
    case Value::Kind::kList:
    case Value::Kind::kTuple:
    case Value::Kind::kDict: return JsonContainer(v, o, level, out);
    default:
      return Status::InvalidArgument(std::string("Object of type ") + v.TypeName() +
                                     " is not JSON serializable");
  }
}

// One %-conversion: spec is the text between '%' and the type char (flags/width/precision).
Result<std::string> FormatOne(char type, const std::string& spec, const Value& v) {
  std::string f = "%" + spec;
  char buf[512];
  if (spec.size() > 20) return Status::InvalidArgument("format spec too long");
  switch (type) {
    case 's':
    case 'r': {
      std::string s = type == 's' ? v.ToString() : v.Repr();
      if (spec.empty()) return s;
      // Width/precision for strings, applied by code point count.
      bool left = spec.find('-') != std::string::npos;
      size_t dot = spec.find('.');
      std::string w = spec.substr(0, dot);
      w.erase(std::remove_if(w.begin(), w.end(), [](char c) { return !std::isdigit(c); }), w.end());
      if (dot != std::string::npos) {
        size_t prec = static_cast<size_t>(std::atoi(spec.c_str() + dot + 1));
        auto cps = SplitCodePoints(s);
        if (cps.size() > prec) {
          s.clear();
          for (size_t i = 0; i < prec; ++i) s += cps[i];
        }
      }
      size_t width = w.empty() ? 0 : static_cast<size_t>(std::min(std::atoi(w.c_str()), 4096));
      size_t len = CodePointCount(s);
      if (len < width) s = left ? s + std::string(width - len, ' ') : std::string(width - len, ' ') + s;
      return s;
    }
    case 'd':
    case 'i':
    case 'x':
    case 'X':
    case 'o': {
      if (!v.is_number()) {
        return Status::InvalidArgument(std::string("%") + type + " format: a number is required, not " +
                                       v.TypeName());
      }
      int64_t i = v.is_float() ? static_cast<int64_t>(v.as_float()) : v.as_int();
      f += std::string("ll") + (type == 'i' ? 'd' : type);
      std::snprintf(buf, sizeof(buf), f.c_str(), static_cast<long long>(i));
      return std::string(buf);
    }
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      if (!v.is_number()) {
        return Status::InvalidArgument(std::string("must be real number, not ") + v.TypeName());
      }
      f += type;
      std::snprintf(buf, sizeof(buf), f.c_str(), v.as_float());
      return std::string(buf);
    }
    default:
      return Status::Unsupported(std::string("unsupported format character '") + type + "'");
  }
}

}  // namespace

Result<std::string> ToJson(const Value& value, const JsonOptions& options) {
  std::string out;
  MINT_RETURN_IF_ERROR(JsonValue(value, options, 0, &out));
  return out;
}

Result<std::string> PercentFormat(const std::string& fmt, const Value& args) {
  List positional = args.is_tuple() ? args.list() : List{args};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) return Status::InvalidArgument("incomplete format");
    const Value* v = nullptr;
    if (fmt[i] == '(') {
      size_t close = fmt.find(')', i);
      if (close == std::string::npos) return Status::InvalidArgument("incomplete format key");
      if (!args.is_dict()) return Status::InvalidArgument("format requires a mapping");
      v = args.dict().Find(std::string_view(fmt).substr(i + 1, close - i - 1));
      if (v == nullptr) return Status::InvalidArgument("KeyError in format");
      i = close + 1;
    }
    size_t spec_start = i;
    while (i < fmt.size() && std::string_view("-+ #0123456789.").find(fmt[i]) != std::string_view::npos) ++i;
    if (i >= fmt.size()) return Status::InvalidArgument("incomplete format");
    if (fmt[i] == '%') {
      out += '%';
      continue;
    }
    if (v == nullptr) {
      if (args.is_dict() && !args.is_tuple()) {
        v = &args;
      } else {
        if (next >= positional.size()) {
          return Status::InvalidArgument("not enough arguments for format string");
        }
        v = &positional[next++];
      }
    }
    MINT_ASSIGN_OR_RETURN(std::string piece,
                          FormatOne(fmt[i], fmt.substr(spec_start, i - spec_start), *v));
    out += piece;
  }
  if (!args.is_dict() && next < positional.size()) {
    return Status::InvalidArgument("not all arguments converted during string formatting");
  }
  return out;
}

Result<std::string> StrFormat(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      return Status::InvalidArgument("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = fmt.find('}', i);
    if (close == std::string::npos) return Status::InvalidArgument("Single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close;
    bool repr = false;
    if (field.size() >= 2 && field[field.size() - 2] == '!') {
      repr = field.back() == 'r';
      field.resize(field.size() - 2);
    }
    if (field.find_first_of(":.[") != std::string::npos) {
      return Status::Unsupported("str.format field '{" + field + "}' is not supported");
    }
    const Value* v = nullptr;
    if (field.empty()) {
      v = auto_index < args.positional.size() ? &args.positional[auto_index] : nullptr;
      ++auto_index;
    } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
      size_t idx = static_cast<size_t>(std::atoi(field.c_str()));
      v = idx < args.positional.size() ? &args.positional[idx] : nullptr;
    } else {
      v = args.Kwarg(field);
    }
    if (v == nullptr) return Status::InvalidArgument("Replacement index out of range for format");
    out += repr ? v->Repr() : v->ToString();
  }
  return out;
}

}  // namespace mint::tokenizer::jinja
