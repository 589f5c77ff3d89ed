// UTF-8 helpers and the GPT-2 byte-level alphabet: the tokenizer's, and the UTF-8 ones serve
// src/grammar too.
//
// Thread-safety: pure functions over immutable tables; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mint::tokenizer {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD
inline constexpr std::string_view kMetaspace = "\xE2\x96\x81";        // U+2581 "▁"

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if the bytes there are not
// one (overlong, surrogate, > U+10FFFF, truncated, stray continuation byte).
size_t ValidUtf8SequenceLength(std::string_view s, size_t i);
// Length of the UTF-8 sequence announced by a lead byte (1 for invalid leads), for walking text
// that is known to be valid.
inline size_t Utf8LengthFromLead(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}
// Decodes the character at s[i] of valid UTF-8 text; *len receives its byte length.
uint32_t DecodeUtf8(std::string_view s, size_t i, size_t* len);
void AppendUtf8(uint32_t cp, std::string* out);

bool IsValidUtf8(std::string_view s);
// Copy of `s` with each byte that does not start a well-formed sequence replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view s);
// Length of the longest prefix of `s` that does not end inside a possibly-incomplete character:
// a trailing 1-3 byte sequence that could still become valid is excluded.
size_t CompleteUtf8Prefix(std::string_view s);

// GPT-2's reversible byte -> printable character map: each byte's character, UTF-8 encoded.
std::string_view ByteToUnicode(uint8_t b);
// Appends the byte-level spelling of raw bytes.
void AppendByteLevel(std::string_view raw, std::string* out);
// Inverse: byte-level spelling -> raw bytes. Characters outside the alphabet are copied as-is.
std::string ByteLevelDecode(std::string_view text);

// Unicode NFC (canonical decomposition, canonical ordering, canonical composition), from tables
// generated out of Python's unicodedata (nfc_data.cpp). `s` must be valid UTF-8. Text with no
// character that could change (all of ASCII, most CJK) is returned unchanged cheaply.
bool MayNeedNfc(std::string_view s);
std::string NormalizeNfc(std::string_view s);
// The first codepoint of the full canonical decomposition of `cp` (`cp` itself if it has none):
// 'é' -> 'e', Hangul syllable -> its leading jamo. What WordPiece uses to strip accents.
uint32_t FirstOfCanonicalDecomposition(uint32_t cp);

// Character classes (bits), from tables generated out of Python's unicodedata
// (scripts/gen_unicode_classes.py -> unicode_classes.cpp). A codepoint has at most one bit.
enum CharClass : uint8_t {
  kCharWhitespace = 1,   // the White_Space property
  kCharControl = 2,      // general category Cc, Cf, Co or Cs (not unassigned Cn) minus white space
  kCharPunctuation = 4,  // P*
  kCharSymbol = 8,       // S*
};
uint8_t CharClassOf(uint32_t cp);
// Unicode simple (one-to-one) lowercase mapping; `cp` itself if it has none.
uint32_t SimpleLowercase(uint32_t cp);
// Appends the Unicode lowercase of valid UTF-8 `s` (full per-character mapping: the simple one,
// except U+0130 -> "i\u0307"; no context-dependent rules such as final sigma).
void AppendLowercase(std::string_view s, std::string* out);

}  // namespace mint::tokenizer
