// Python-compatible string helpers; see string_util.h.
#include "tokenizer/jinja/string_util.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "tokenizer/jinja/utf8.h"

namespace mint::tokenizer::jinja {

std::vector<std::string> SplitOn(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos || sep.empty()) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, p - start));
    start = p + sep.size();
  }
}

std::string AsciiLower(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string AsciiUpper(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Capitalize(const std::string& s) {
  std::string out = AsciiLower(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string PythonTitle(const std::string& s) {
  std::string out = s;
  bool prev_cased = false;
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalpha(u)) {
      c = static_cast<char>(prev_cased ? std::tolower(u) : std::toupper(u));
      prev_cased = true;
    } else {
      prev_cased = false;
    }
  }
  return out;
}

std::string JinjaTitle(const std::string& s) {
  std::string out = s;
  bool at_start = true;
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || std::isspace(u);
    if (sep) {
      at_start = true;
      continue;
    }
    c = static_cast<char>(at_start ? std::toupper(u) : std::tolower(u));
    at_start = false;
  }
  return out;
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    uint32_t cp = DecodeUtf8(s, &pos);
    bool brk = cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || (cp >= 0x1c && cp <= 0x1e) ||
               cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!brk) {
      cur.append(s, start, pos - start);
      continue;
    }
    if (cp == '\r' && pos < s.size() && s[pos] == '\n') ++pos;
    out.push_back(std::move(cur));
    cur.clear();
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string Replace(const std::string& s, const std::string& old, const std::string& repl,
                    int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts `repl` between every code point (and at both ends).
    std::vector<std::string> cps = SplitCodePoints(s);
    int64_t done = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      if (i < cps.size()) out += cps[i];
    }
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t p = s.find(old, start);
    if (p == std::string::npos) break;
    out.append(s, start, p - start);
    out += repl;
    start = p + old.size();
    ++done;
  }
  out.append(s, start, std::string::npos);
  return out;
}

std::string Strip(const std::string& s, const Value* chars, bool left, bool right) {
  std::vector<uint32_t> set;
  if (chars != nullptr && chars->is_string()) {
    size_t p = 0;
    while (p < chars->str().size()) set.push_back(DecodeUtf8(chars->str(), &p));
  }
  auto strip_cp = [&](uint32_t cp) {
    if (chars == nullptr || !chars->is_string()) return IsSpaceCodePoint(cp);
    for (uint32_t c : set) {
      if (c == cp) return true;
    }
    return false;
  };
  // Decode once into (start offset, code point).
  std::vector<std::pair<size_t, uint32_t>> cps;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    cps.emplace_back(start, DecodeUtf8(s, &pos));
  }
  size_t b = 0, e = cps.size();
  if (left) {
    while (b < e && strip_cp(cps[b].second)) ++b;
  }
  if (right) {
    while (e > b && strip_cp(cps[e - 1].second)) --e;
  }
  size_t from = b < cps.size() ? cps[b].first : s.size();
  size_t to = e < cps.size() ? cps[e].first : s.size();
  return s.substr(from, to - from);
}

int64_t WordCount(const std::string& s) {
  int64_t n = 0;
  bool in_word = false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bool w = std::isalnum(u) || c == '_' || u >= 0x80;
    if (w && !in_word) ++n;
    in_word = w;
  }
  return n;
}

bool ParsePythonInt(const std::string& s, int64_t* out) {
  std::string t = Strip(s, nullptr, true, true);
  std::string digits;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '_' && i > 0 && std::isdigit(static_cast<unsigned char>(t[i - 1])) &&
        i + 1 < t.size() && std::isdigit(static_cast<unsigned char>(t[i + 1]))) {
      continue;
    }
    if (!(std::isdigit(static_cast<unsigned char>(c)) || (i == 0 && (c == '+' || c == '-')))) {
      return false;
    }
    digits += c;
  }
  if (digits.empty() || digits == "+" || digits == "-") return false;
  errno = 0;
  *out = std::strtoll(digits.c_str(), nullptr, 10);
  return errno == 0;
}

bool ParsePythonFloat(const std::string& s, double* out) {
  std::string t = Strip(s, nullptr, true, true);
  if (t.empty()) return false;
  std::string lower = AsciiLower(t);
  std::string body = (lower[0] == '+' || lower[0] == '-') ? lower.substr(1) : lower;
  if (body == "inf" || body == "infinity" || body == "nan") {
    *out = std::strtod(lower.c_str(), nullptr);
    return true;
  }
  for (char c : body) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == '+' ||
          c == '-')) {
      return false;
    }
  }
  char* end = nullptr;
  *out = std::strtod(t.c_str(), &end);
  return end != nullptr && *end == '\0';
}

int64_t CodePointIndex(const std::string& s, size_t byte_offset) {
  return static_cast<int64_t>(CodePointCount(std::string_view(s).substr(0, byte_offset)));
}

}  // namespace mint::tokenizer::jinja
