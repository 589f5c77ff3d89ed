// UTF-8 helpers for the Jinja interpreter: Python strings index by code point.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mint::tokenizer::jinja {

// Decodes the code point at s[*pos] and advances *pos. Invalid bytes decode as themselves
// (one byte each) so that no input is lost.
inline uint32_t DecodeUtf8(std::string_view s, size_t* pos) {
  auto b0 = static_cast<unsigned char>(s[*pos]);
  int len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xe ? 3 : (b0 >> 3) == 0x1e ? 4 : 0;
  if (len <= 1 || *pos + len > s.size()) {
    ++*pos;
    return b0;
  }
  uint32_t cp = b0 & (0x7f >> len);
  for (int i = 1; i < len; ++i) {
    auto b = static_cast<unsigned char>(s[*pos + i]);
    if ((b & 0xc0) != 0x80) {
      ++*pos;
      return b0;
    }
    cp = (cp << 6) | (b & 0x3f);
  }
  *pos += len;
  return cp;
}

inline void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Splits s into its code points, each as a UTF-8 string (Python's list(s)).
inline std::vector<std::string> SplitCodePoints(std::string_view s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    DecodeUtf8(s, &pos);
    out.emplace_back(s.substr(start, pos - start));
  }
  return out;
}

inline size_t CodePointCount(std::string_view s) {
  size_t n = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    DecodeUtf8(s, &pos);
    ++n;
  }
  return n;
}

// Python's str.isspace() for the code points that matter (ASCII whitespace, NBSP, U+2000..).
inline bool IsSpaceCodePoint(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f) || cp == 0x85 ||
         cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

}  // namespace mint::tokenizer::jinja
