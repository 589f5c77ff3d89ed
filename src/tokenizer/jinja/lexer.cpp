// Jinja lexer; see lexer.h. The structure follows jinja2/lexer.py's `tokeniter` so that
// whitespace handling is byte-identical: OptionalLStrip for text before a tag, `line_starting`
// for lstrip at the first tag after a trimmed newline.
#include "tokenizer/jinja/lexer.h"

#include <cctype>
#include <cstdlib>

#include "tokenizer/jinja/utf8.h"

namespace mint::tokenizer::jinja {
namespace {

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string Normalize(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

// Python's str.rstrip() (whitespace, including the Unicode spaces we know).
std::string_view RStrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    if (IsWs(s[end - 1])) {
      --end;
      continue;
    }
    // Multi-byte whitespace: check the code point ending here.
    size_t start = end;
    while (start > 0 && (static_cast<unsigned char>(s[start - 1]) & 0xc0) == 0x80) --start;
    if (start == 0 || start == end) break;
    --start;
    size_t pos = start;
    uint32_t cp = DecodeUtf8(s, &pos);
    if (pos != end || !IsSpaceCodePoint(cp)) break;
    end = start;
  }
  return s.substr(0, end);
}

bool AllWhitespace(std::string_view s) {
  for (char c : s) {
    if (!IsWs(c)) return false;
  }
  return true;
}

int CountNewlines(std::string_view s) {
  int n = 0;
  for (char c : s) n += (c == '\n');
  return n;
}

class Lexer {
 public:
  Lexer(std::string source, const LexOptions& options)
      : src_(std::move(source)), opts_(options) {}

  Result<std::vector<Token>> Run();

 private:
  // Emits text before a tag with jinja's OptionalLStrip rule. `sign` is '-', '+' or 0.
  void EmitText(std::string_view text, char sign, bool is_variable);
  // Consumes the end of a block/comment tag after `pos_` points past its '%}'/'#}'.
  void AfterBlockEnd(char sign);
  Status LexComment();
  Status LexRaw(size_t body_start);
  Status LexTag(bool is_block);
  Status LexString(Token* tok);
  void LexNumber(Token* tok);
  bool MatchRawBegin(size_t tag_pos, size_t* body_start);

  std::string src_;
  LexOptions opts_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> out_;
};

void Lexer::EmitText(std::string_view text, char sign, bool is_variable) {
  int newlines = CountNewlines(text);
  if (sign == '-') {
    text = RStrip(text);
  } else if (sign != '+' && opts_.lstrip_blocks && !is_variable) {
    size_t nl = text.rfind('\n');
    size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
    if ((l_pos > 0 || line_starting_) && AllWhitespace(text.substr(l_pos))) {
      text = text.substr(0, l_pos);
    }
  }
  if (!text.empty()) out_.push_back(Token{TokenKind::kText, std::string(text), line_});
  line_ += newlines;
}

void Lexer::AfterBlockEnd(char sign) {
  size_t start = pos_;
  if (sign == '-') {
    while (pos_ < src_.size() && IsWs(src_[pos_])) ++pos_;
  } else if (sign != '+' && opts_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
    ++pos_;
  }
  line_ += CountNewlines(std::string_view(src_).substr(start, pos_ - start));
  line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
}

Status Lexer::LexComment() {
  size_t end = src_.find("#}", pos_);
  if (end == std::string::npos) return SyntaxError("missing end of comment tag", line_);
  char sign = 0;
  size_t body_end = end;
  if (end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+')) {
    sign = src_[end - 1];
    body_end = end - 1;
  }
  line_ += CountNewlines(std::string_view(src_).substr(pos_, body_end - pos_));
  pos_ = end + 2;
  AfterBlockEnd(sign);
  return Status::Ok();
}

bool Lexer::MatchRawBegin(size_t tag_pos, size_t* body_start) {
  size_t p = tag_pos + 2;
  if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
  while (p < src_.size() && IsWs(src_[p])) ++p;
  if (src_.compare(p, 3, "raw") != 0) return false;
  p += 3;
  while (p < src_.size() && IsWs(src_[p])) ++p;
  if (src_.compare(p, 3, "-%}") == 0) {
    p += 3;
    while (p < src_.size() && IsWs(src_[p])) ++p;  // no trim_blocks on the raw begin tag
  } else if (src_.compare(p, 2, "%}") == 0) {
    p += 2;
  } else {
    return false;
  }
  *body_start = p;
  return true;
}

Status Lexer::LexRaw(size_t body_start) {
  line_ += CountNewlines(std::string_view(src_).substr(pos_, body_start - pos_));
  line_starting_ = body_start > 0 && src_[body_start - 1] == '\n';
  size_t search = body_start;
  while (true) {
    size_t tag = src_.find("{%", search);
    if (tag == std::string::npos) return SyntaxError("missing end of raw directive", line_);
    size_t p = tag + 2;
    char sign = 0;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
    while (p < src_.size() && IsWs(src_[p])) ++p;
    if (src_.compare(p, 6, "endraw") != 0) {
      search = tag + 2;
      continue;
    }
    p += 6;
    while (p < src_.size() && IsWs(src_[p])) ++p;
    char end_sign = 0;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) end_sign = src_[p++];
    if (src_.compare(p, 2, "%}") != 0) {
      search = tag + 2;
      continue;
    }
    EmitText(std::string_view(src_).substr(body_start, tag - body_start), sign, false);
    line_ += CountNewlines(std::string_view(src_).substr(tag, p - tag));
    pos_ = p + 2;
    AfterBlockEnd(end_sign);
    return Status::Ok();
  }
}

Status Lexer::LexString(Token* tok) {
  char quote = src_[pos_];
  size_t p = pos_ + 1;
  std::string value;
  int start_line = line_;
  while (true) {
    if (p >= src_.size()) return SyntaxError("unterminated string", start_line);
    char c = src_[p];
    if (c == quote) break;
    if (c != '\\') {
      value += c;
      ++p;
      continue;
    }
    if (p + 1 >= src_.size()) return SyntaxError("unterminated string", start_line);
    char e = src_[p + 1];
    p += 2;
    switch (e) {
      case '\\': value += '\\'; break;
      case '\'': value += '\''; break;
      case '"': value += '"'; break;
      case 'a': value += '\a'; break;
      case 'b': value += '\b'; break;
      case 'f': value += '\f'; break;
      case 'n': value += '\n'; break;
      case 'r': value += '\r'; break;
      case 't': value += '\t'; break;
      case 'v': value += '\v'; break;
      case '\n': break;  // line continuation
      case 'x':
      case 'u':
      case 'U': {
        size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (p + n > src_.size()) return SyntaxError("truncated \\" + std::string(1, e) + " escape", line_);
        uint32_t cp = 0;
        for (size_t i = 0; i < n; ++i) {
          char h = src_[p + i];
          if (!std::isxdigit(static_cast<unsigned char>(h))) {
            return SyntaxError("truncated \\" + std::string(1, e) + " escape", line_);
          }
          cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                   ? h - '0'
                                                   : std::tolower(h) - 'a' + 10);
        }
        if (cp > 0x10ffff) return SyntaxError("illegal Unicode character in string", line_);
        p += n;
        AppendUtf8(cp, &value);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t cp = static_cast<uint32_t>(e - '0');
          for (int i = 0; i < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++i) {
            cp = cp * 8 + static_cast<uint32_t>(src_[p++] - '0');
          }
          AppendUtf8(cp, &value);
        } else {
          value += '\\';
          value += e;
        }
    }
  }
  line_ += CountNewlines(std::string_view(src_).substr(pos_, p + 1 - pos_));
  tok->kind = TokenKind::kString;
  tok->text = std::move(value);
  pos_ = p + 1;
  return Status::Ok();
}

void Lexer::LexNumber(Token* tok) {
  auto digits = [&](size_t p) {  // end of (\d+_)*\d+ starting at p, or p if none
    size_t q = p;
    while (q < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q]))) {
      ++q;
      if (q + 1 < src_.size() && src_[q] == '_' &&
          std::isdigit(static_cast<unsigned char>(src_[q + 1]))) {
        ++q;
      }
    }
    return q;
  };
  size_t int_end = digits(pos_);
  size_t end = int_end;
  bool is_float = false;
  bool after_dot = pos_ > 0 && src_[pos_ - 1] == '.';
  if (!after_dot) {
    size_t p = int_end;
    if (p + 1 < src_.size() && src_[p] == '.' && std::isdigit(static_cast<unsigned char>(src_[p + 1]))) {
      p = digits(p + 1);
      is_float = true;
      end = p;
    }
    if (p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
      size_t q = p + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      size_t e_end = digits(q);
      if (e_end > q) {
        is_float = true;
        end = e_end;
      }
    }
  }
  std::string text;
  for (size_t i = pos_; i < end; ++i) {
    if (src_[i] != '_') text += src_[i];
  }
  if (is_float) {
    tok->kind = TokenKind::kFloat;
    tok->float_value = std::strtod(text.c_str(), nullptr);
  } else {
    tok->kind = TokenKind::kInt;
    errno = 0;
    tok->int_value = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == ERANGE) {  // Python ints are unbounded; approximate huge ones as floats
      tok->kind = TokenKind::kFloat;
      tok->float_value = std::strtod(text.c_str(), nullptr);
    }
  }
  tok->text = src_.substr(pos_, end - pos_);
  pos_ = end;
}

Status Lexer::LexTag(bool is_block) {
  std::vector<char> balance;
  while (true) {
    while (pos_ < src_.size() && IsWs(src_[pos_])) {
      if (src_[pos_] == '\n') ++line_;
      ++pos_;
    }
    if (pos_ >= src_.size()) return SyntaxError("unexpected end of template, tag not closed", line_);
    std::string_view rest = std::string_view(src_).substr(pos_);
    if (balance.empty()) {
      const char* end = is_block ? "%}" : "}}";
      char sign = 0;
      if ((rest[0] == '-' || (is_block && rest[0] == '+')) && rest.substr(1, 2) == end) {
        sign = rest[0];
        pos_ += 3;
      } else if (rest.substr(0, 2) == end) {
        pos_ += 2;
      } else {
        sign = 1;  // not an end tag
      }
      if (sign != 1) {
        out_.push_back(Token{is_block ? TokenKind::kBlockEnd : TokenKind::kVarEnd, "", line_});
        if (is_block) {
          AfterBlockEnd(sign);
        } else {
          AfterBlockEnd(sign == '-' ? '-' : '+');  // no trim_blocks after }}
        }
        return Status::Ok();
      }
    }
    Token tok{TokenKind::kOp, "", line_};
    char c = rest[0];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      LexNumber(&tok);
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t p = pos_;
      while (p < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[p])) || src_[p] == '_')) ++p;
      tok.kind = TokenKind::kName;
      tok.text = src_.substr(pos_, p - pos_);
      pos_ = p;
    } else if (c == '\'' || c == '"') {
      MINT_RETURN_IF_ERROR(LexString(&tok));
    } else {
      static const char* kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
      std::string op;
      for (const char* t : kTwo) {
        if (rest.substr(0, 2) == t) op = t;
      }
      if (op.empty()) {
        if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos) {
          return SyntaxError("unexpected char '" + std::string(1, c) + "'", line_);
        }
        op = std::string(1, c);
      }
      if (op == "(" || op == "[" || op == "{") {
        balance.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
      } else if (op == ")" || op == "]" || op == "}") {
        if (balance.empty()) return SyntaxError("unexpected '" + op + "'", line_);
        if (balance.back() != op[0]) {
          return SyntaxError("unexpected '" + op + "', expected '" + std::string(1, balance.back()) + "'", line_);
        }
        balance.pop_back();
      }
      tok.text = op;
      pos_ += op.size();
    }
    out_.push_back(std::move(tok));
  }
}

Result<std::vector<Token>> Lexer::Run() {
  while (pos_ < src_.size()) {
    size_t tag = pos_;
    while (true) {
      tag = src_.find('{', tag);
      if (tag == std::string::npos || tag + 1 >= src_.size()) {
        tag = std::string::npos;
        break;
      }
      char n = src_[tag + 1];
      if (n == '{' || n == '%' || n == '#') break;
      ++tag;
    }
    if (tag == std::string::npos) {
      out_.push_back(Token{TokenKind::kText, src_.substr(pos_), line_});
      line_ += CountNewlines(std::string_view(src_).substr(pos_));
      pos_ = src_.size();
      break;
    }
    char type = src_[tag + 1];
    char sign = 0;
    if (tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+')) sign = src_[tag + 2];
    std::string_view text = std::string_view(src_).substr(pos_, tag - pos_);
    size_t raw_body = 0;
    if (type == '%' && MatchRawBegin(tag, &raw_body)) {
      EmitText(text, sign, false);
      pos_ = tag;
      MINT_RETURN_IF_ERROR(LexRaw(raw_body));
      continue;
    }
    EmitText(text, sign, type == '{');
    pos_ = tag + 2 + (sign != 0 ? 1 : 0);
    line_starting_ = false;
    if (type == '#') {
      MINT_RETURN_IF_ERROR(LexComment());
    } else {
      bool is_block = type == '%';
      out_.push_back(Token{is_block ? TokenKind::kBlockBegin : TokenKind::kVarBegin, "", line_});
      MINT_RETURN_IF_ERROR(LexTag(is_block));
    }
  }
  out_.push_back(Token{TokenKind::kEof, "", line_});
  return std::move(out_);
}

}  // namespace

Result<std::vector<Token>> Lex(std::string_view source, const LexOptions& options) {
  Lexer lexer(Normalize(source), options);
  return lexer.Run();
}

}  // namespace mint::tokenizer::jinja
