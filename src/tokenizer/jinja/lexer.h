// Lexer of Mint's Jinja interpreter. Mirrors jinja2's lexer as transformers configures it:
// trim_blocks and lstrip_blocks on, `-`/`+` whitespace control, comments, {% raw %}, one
// trailing newline of the source dropped (keep_trailing_newline=False), \r\n and \r -> \n.
//
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mint::tokenizer::jinja {

enum class TokenKind {
  kText,        // template data between tags (already whitespace-stripped)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,      // text holds the unescaped contents
  kInt,
  kFloat,
  kOp,          // text holds the operator: "+", "//", "==", "(", ...
  kEof,
};

struct Token {
  TokenKind kind;
  std::string text;
  int line = 1;
  int64_t int_value = 0;
  double float_value = 0;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Tokenizes a whole template. Errors (unclosed tag, bad string, unbalanced bracket) name the line.
Result<std::vector<Token>> Lex(std::string_view source, const LexOptions& options = {});

// The error every stage of the template compiler reports a syntax error with.
inline Status SyntaxError(const std::string& msg, int line) {
  return Status::InvalidArgument("template syntax error at line " + std::to_string(line) + ": " +
                                 msg);
}

}  // namespace mint::tokenizer::jinja
