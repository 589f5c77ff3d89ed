#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <vector>

namespace mint::tokenizer {

size_t ValidUtf8SequenceLength(std::string_view s, size_t i) {
  const size_t n = s.size() - i;
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) return 1;
  auto cont = [&](size_t k) { return k < n && (static_cast<uint8_t>(s[i + k]) & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const auto b1 = static_cast<uint8_t>(s[i + 1]);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;   // overlong
    if (b0 == 0xED && b1 >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto b1 = static_cast<uint8_t>(s[i + 1]);
    if (b0 == 0xF0 && b1 < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && b1 >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

uint32_t DecodeUtf8(std::string_view s, size_t i, size_t* len) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  size_t n = Utf8LengthFromLead(b0);
  if (i + n > s.size()) n = 1;
  *len = n;
  if (n == 1) return b0;
  uint32_t cp = b0 & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  return cp;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t n = ValidUtf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    const size_t n = ValidUtf8SequenceLength(s, i);
    if (n == 0) {
      out.append(kReplacementChar);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

size_t CompleteUtf8Prefix(std::string_view s) {
  // Look back at most 3 bytes for a lead byte whose sequence is not yet complete.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto b = static_cast<uint8_t>(s[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const size_t need = Utf8LengthFromLead(b);
    if (b >= 0xC0 && need > back) {
      // Incomplete: hold it back only if the bytes so far could still become valid. Pad with
      // the smallest continuation bytes that are legal after this lead.
      std::string probe(s.substr(n - back));
      while (probe.size() < need) {
        const bool second = probe.size() == 1;
        probe.push_back(second && b == 0xE0 ? '\xA0' : second && b == 0xF0 ? '\x90' : '\x80');
      }
      if (ValidUtf8SequenceLength(probe, 0) == need) return n - back;
    }
    return n;
  }
  return n;
}

namespace {

struct ByteLevelTables {
  std::array<std::string, 256> byte_to_text;
  std::array<int16_t, 512> cp_to_byte;  // codepoints of the alphabet are < 0x144
  ByteLevelTables() {
    cp_to_byte.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const int cp = printable ? b : next++;
      AppendUtf8(static_cast<uint32_t>(cp), &byte_to_text[b]);
      cp_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTables& Tables() {
  static const ByteLevelTables tables;
  return tables;
}

}  // namespace

std::string_view ByteToUnicode(uint8_t b) { return Tables().byte_to_text[b]; }

void AppendByteLevel(std::string_view raw, std::string* out) {
  const auto& t = Tables();
  for (char c : raw) out->append(t.byte_to_text[static_cast<uint8_t>(c)]);
}

std::string ByteLevelDecode(std::string_view text) {
  const auto& t = Tables();
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = ValidUtf8SequenceLength(text, i);
    if (n == 0) {
      out.push_back(text[i++]);
      continue;
    }
    size_t len = 0;
    const uint32_t cp = DecodeUtf8(text, i, &len);
    if (cp < t.cp_to_byte.size() && t.cp_to_byte[cp] >= 0) {
      out.push_back(static_cast<char>(t.cp_to_byte[cp]));
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

// ---- NFC -------------------------------------------------------------------------------------

namespace nfc_data {
extern const uint32_t kCombiningClass[];
extern const size_t kCombiningClassCount;
extern const uint32_t kDecomposition[];
extern const size_t kDecompositionCount;
}  // namespace nfc_data

namespace {

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

struct NfcTables {
  std::vector<uint64_t> suspicious_bmp;   // bit per BMP codepoint that may change under NFC
  std::vector<uint32_t> suspicious_high;  // sorted, above the BMP
  std::unordered_map<uint64_t, uint32_t> compose;  // (first << 21 | second) -> composite
  NfcTables() : suspicious_bmp(65536 / 64, 0) {
    auto mark = [&](uint32_t cp) {
      if (cp < 65536) {
        suspicious_bmp[cp >> 6] |= uint64_t{1} << (cp & 63);
      } else {
        suspicious_high.push_back(cp);
      }
    };
    for (size_t i = 0; i < nfc_data::kCombiningClassCount; ++i) {
      mark(nfc_data::kCombiningClass[i] >> 8);
    }
    for (size_t i = 0; i < nfc_data::kDecompositionCount; ++i) {
      const uint32_t* e = &nfc_data::kDecomposition[3 * i];
      const uint32_t cp = e[0] & 0x7FFFFFFF;
      mark(cp);
      if (e[2] != 0) mark(e[2]);  // may compose with what precedes it
      if (e[0] & 0x80000000) compose[(uint64_t{e[1]} << 21) | e[2]] = cp;
    }
    for (uint32_t cp = kLBase; cp < 0x1200; ++cp) mark(cp);  // conjoining jamo
    std::sort(suspicious_high.begin(), suspicious_high.end());
  }
  bool Suspicious(uint32_t cp) const {
    if (cp < 0x300) return false;
    if (cp < 65536) return (suspicious_bmp[cp >> 6] >> (cp & 63)) & 1;
    return std::binary_search(suspicious_high.begin(), suspicious_high.end(), cp);
  }
};

const NfcTables& Nfc() {
  static const NfcTables tables;
  return tables;
}

uint8_t CombiningClass(uint32_t cp) {
  if (cp < 0x300) return 0;
  const uint32_t* b = nfc_data::kCombiningClass;
  const uint32_t* e = b + nfc_data::kCombiningClassCount;
  const uint32_t* it = std::lower_bound(b, e, cp << 8);
  return it != e && (*it >> 8) == cp ? static_cast<uint8_t>(*it & 0xFF) : 0;
}

void Decompose(uint32_t cp, std::vector<uint32_t>* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out->push_back(kTBase + s % kTCount);
    return;
  }
  const uint32_t* data = nfc_data::kDecomposition;
  size_t lo = 0, hi = nfc_data::kDecompositionCount;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    const uint32_t key = data[3 * mid] & 0x7FFFFFFF;
    if (key == cp) {
      Decompose(data[3 * mid + 1], out);
      if (data[3 * mid + 2] != 0) Decompose(data[3 * mid + 2], out);
      return;
    }
    if (key < cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  out->push_back(cp);
}

uint32_t Compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const auto& map = Nfc().compose;
  auto it = map.find((uint64_t{a} << 21) | b);
  return it == map.end() ? 0 : it->second;
}

}  // namespace

bool MayNeedNfc(std::string_view s) {
  const NfcTables& t = Nfc();
  for (size_t i = 0; i < s.size();) {
    if (static_cast<uint8_t>(s[i]) < 0xCC) {  // below U+0300
      i += Utf8LengthFromLead(static_cast<uint8_t>(s[i]));
      continue;
    }
    size_t len = 0;
    if (t.Suspicious(DecodeUtf8(s, i, &len))) return true;
    i += len;
  }
  return false;
}

std::string NormalizeNfc(std::string_view s) {
  if (!MayNeedNfc(s)) return std::string(s);
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    Decompose(DecodeUtf8(s, i, &len), &cps);
    i += len;
  }
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < cps.size();) {
    if (CombiningClass(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && CombiningClass(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + i, cps.begin() + j,
                     [](uint32_t a, uint32_t b) { return CombiningClass(a) < CombiningClass(b); });
    i = j;
  }
  // Canonical composition.
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  size_t starter = std::string::npos;  // index in `out` of the last starter
  int last_ccc = -1;
  for (uint32_t cp : cps) {
    const int ccc = CombiningClass(cp);
    if (starter != std::string::npos &&
        (last_ccc < ccc || (last_ccc == 0 && out.size() == starter + 1))) {
      if (const uint32_t c = Compose(out[starter], cp)) {
        out[starter] = c;
        continue;
      }
    }
    if (ccc == 0) starter = out.size();
    last_ccc = ccc;
    out.push_back(cp);
  }
  std::string result;
  result.reserve(s.size());
  for (uint32_t cp : out) AppendUtf8(cp, &result);
  return result;
}

uint32_t FirstOfCanonicalDecomposition(uint32_t cp) {
  if (cp < 0xC0) return cp;  // nothing below U+00C0 decomposes
  if (cp >= kSBase && cp < kSBase + kSCount) return kLBase + (cp - kSBase) / kNCount;
  const NfcTables& t = Nfc();
  // Every decomposable codepoint from U+0300 on is marked suspicious; below, search directly.
  while (cp >= 0xC0 && (cp < 0x300 || t.Suspicious(cp))) {
    const uint32_t* data = nfc_data::kDecomposition;
    size_t lo = 0, hi = nfc_data::kDecompositionCount;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if ((data[3 * mid] & 0x7FFFFFFF) < cp) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo == nfc_data::kDecompositionCount || (data[3 * lo] & 0x7FFFFFFF) != cp) break;
    cp = data[3 * lo + 1];
  }
  return cp;
}

// ---- Character classes and lowercase ---------------------------------------------------------

namespace unicode_classes {
extern const uint32_t kClassRuns[];
extern const size_t kClassRunCount;
extern const uint32_t kLowercase[];
extern const size_t kLowercaseCount;
}  // namespace unicode_classes

namespace {

struct AsciiTables {
  std::array<uint8_t, 128> cls{};
  AsciiTables() {
    const uint32_t* runs = unicode_classes::kClassRuns;
    size_t r = 0;
    for (uint32_t cp = 0; cp < 128; ++cp) {
      while (r + 1 < unicode_classes::kClassRunCount && (runs[r + 1] >> 8) <= cp) ++r;
      cls[cp] = static_cast<uint8_t>(runs[r] & 0xFF);
    }
  }
};

const AsciiTables& Ascii() {
  static const AsciiTables tables;
  return tables;
}

}  // namespace

uint8_t CharClassOf(uint32_t cp) {
  if (cp < 128) return Ascii().cls[cp];
  const uint32_t* b = unicode_classes::kClassRuns;
  const uint32_t* e = b + unicode_classes::kClassRunCount;
  // The last run starting at or below cp: upper_bound of (cp << 8 | 0xFF), minus one.
  const uint32_t* it = std::upper_bound(b, e, (cp << 8) | 0xFF);
  return it == b ? 0 : static_cast<uint8_t>(it[-1] & 0xFF);
}

uint32_t SimpleLowercase(uint32_t cp) {
  if (cp < 128) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
  if (cp < 0xC0) return cp;
  const uint32_t* data = unicode_classes::kLowercase;
  size_t lo = 0, hi = unicode_classes::kLowercaseCount;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (data[2 * mid] < cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < unicode_classes::kLowercaseCount && data[2 * lo] == cp ? data[2 * lo + 1] : cp;
}

void AppendLowercase(std::string_view s, std::string* out) {
  out->reserve(out->size() + s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      out->push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : static_cast<char>(c));
      ++i;
      continue;
    }
    size_t len = 0;
    const uint32_t cp = DecodeUtf8(s, i, &len);
    if (cp == 0x130) {
      out->append("i\xCC\x87");  // i + U+0307 COMBINING DOT ABOVE
    } else {
      const uint32_t lower = SimpleLowercase(cp);
      if (lower == cp) {
        out->append(s.substr(i, len));
      } else {
        AppendUtf8(lower, out);
      }
    }
    i += len;
  }
}

}  // namespace mint::tokenizer
