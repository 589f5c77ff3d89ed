// String helpers with Python str semantics (code points, whitespace) for the Jinja builtins.
// Case mapping is ASCII-only (documented limitation: non-ASCII letters keep their case).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace mint::tokenizer::jinja {

std::vector<std::string> SplitOn(std::string_view s, std::string_view sep);
std::string AsciiLower(const std::string& s);
std::string AsciiUpper(const std::string& s);
std::string Capitalize(const std::string& s);   // str.capitalize()
std::string PythonTitle(const std::string& s);  // str.title()
std::string JinjaTitle(const std::string& s);   // jinja2's |title
std::string HtmlEscape(const std::string& s);   // markupsafe.escape
// str.splitlines() (\n, \r\n, \r, \v, \f, \x1c-\x1e, U+0085, U+2028, U+2029).
std::vector<std::string> SplitLines(const std::string& s);
// str.replace(old, new, count); count < 0 = all.
std::string Replace(const std::string& s, const std::string& old, const std::string& repl,
                    int64_t count);
// str.strip/lstrip/rstrip(chars); chars null or None = whitespace.
std::string Strip(const std::string& s, const Value* chars, bool left, bool right);
// len(re.findall(r"\w+", s)).
int64_t WordCount(const std::string& s);
// int(s) / float(s) for strings, as Python parses them (surrounding whitespace allowed).
bool ParsePythonInt(const std::string& s, int64_t* out);
bool ParsePythonFloat(const std::string& s, double* out);
// Byte offset -> code point index.
int64_t CodePointIndex(const std::string& s, size_t byte_offset);

}  // namespace mint::tokenizer::jinja
