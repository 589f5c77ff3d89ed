// Internal to the Jinja parser (parser.cpp: statements, parser_expr.cpp: expressions).
//
// Thread-safety: a Parser is used by one thread for one template.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace mint::tokenizer::jinja::parser_internal {

inline Status UnsupportedAt(const std::string& feature, int line) {
  return Status::Unsupported("unsupported Jinja feature at line " + std::to_string(line) + ": " +
                             feature);
}

inline ExprPtr MakeExpr(ExprKind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

inline StmtPtr MakeStmt(StmtKind kind, int line) {
  auto s = std::make_unique<Stmt>();
  s->kind = kind;
  s->line = line;
  return s;
}

inline std::string Describe(const Token& t) {
  switch (t.kind) {
    case TokenKind::kEof: return "end of template";
    case TokenKind::kBlockEnd: return "end of statement block";
    case TokenKind::kVarEnd: return "end of print statement";
    case TokenKind::kString: return "string";
    default: return "'" + t.text + "'";
  }
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Result<Body> ParseTemplate() {
    std::string end;
    MINT_ASSIGN_OR_RETURN(Body body, Subparse({}, &end));
    return body;
  }

 private:
  const Token& Cur() const { return toks_[pos_]; }
  const Token& Peek(size_t n = 1) const { return toks_[std::min(pos_ + n, toks_.size() - 1)]; }
  void Advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool IsName(std::string_view s, size_t ahead = 0) const {
    const Token& t = Peek(ahead);
    return t.kind == TokenKind::kName && t.text == s;
  }
  bool IsOp(std::string_view s) const { return Cur().kind == TokenKind::kOp && Cur().text == s; }
  bool SkipOp(std::string_view s) {
    if (!IsOp(s)) return false;
    Advance();
    return true;
  }
  bool SkipName(std::string_view s) {
    if (!IsName(s)) return false;
    Advance();
    return true;
  }
  Status Unexpected(const std::string& expected = "") const {
    std::string msg = "unexpected " + Describe(Cur());
    if (!expected.empty()) msg += ", expected " + expected;
    return SyntaxError(msg, Cur().line);
  }
  Status ExpectOp(std::string_view s) {
    if (SkipOp(s)) return Status::Ok();
    return Unexpected("'" + std::string(s) + "'");
  }
  Status ExpectBlockEnd() {
    if (Cur().kind != TokenKind::kBlockEnd) return Unexpected("end of statement block");
    Advance();
    return Status::Ok();
  }
  Result<std::string> ExpectName() {
    if (Cur().kind != TokenKind::kName) return Unexpected("name");
    std::string s = Cur().text;
    Advance();
    return s;
  }

  Result<Body> Subparse(const std::vector<std::string>& end_names, std::string* found);
  Result<StmtPtr> ParseStatement();
  Result<StmtPtr> ParseIf();
  Result<StmtPtr> ParseFor();
  Result<StmtPtr> ParseSet();
  Result<StmtPtr> ParseMacro();
  Result<StmtPtr> ParseCallBlock();
  Result<StmtPtr> ParseFilterBlock();
  Status ParseParams(Stmt* stmt);
  Status ParseAssignTargets(Stmt* stmt, bool with_namespace);

  Result<ExprPtr> ParseTuple(bool with_condexpr = true, bool explicit_parens = false,
                             const char* extra_end = nullptr);
  Result<ExprPtr> ParseExpression(bool with_condexpr = true) {
    return with_condexpr ? ParseCondexpr() : ParseOr();
  }
  Result<ExprPtr> ParseCondexpr();
  Result<ExprPtr> ParseOr();
  Result<ExprPtr> ParseAnd();
  Result<ExprPtr> ParseNot();
  Result<ExprPtr> ParseCompare();
  Result<ExprPtr> ParseMath1();
  Result<ExprPtr> ParseConcat();
  Result<ExprPtr> ParseMath2();
  Result<ExprPtr> ParsePow();
  Result<ExprPtr> ParseUnary(bool with_filter);
  Result<ExprPtr> ParsePrimary();
  Result<ExprPtr> ParseListOrDict(bool is_dict);
  Result<ExprPtr> ParsePostfix(ExprPtr node);
  Result<ExprPtr> ParseSubscript(ExprPtr node);
  Result<ExprPtr> ParseSubscribed();
  Result<ExprPtr> ParseFilterExpr(ExprPtr node);
  Result<ExprPtr> ParseFilter(ExprPtr node);
  Result<ExprPtr> ParseTest(ExprPtr node);
  Status ParseCallArgs(Expr* call);
  Result<std::string> ParseDottedName();

  // Bounds recursion on nested expressions and blocks so hostile input cannot overflow the stack.
  Status Enter() {
    if (++depth_ > kMaxDepth) return SyntaxError("template nested too deeply", Cur().line);
    return Status::Ok();
  }
  static constexpr int kMaxDepth = 256;

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int loop_depth_ = 0;
  int depth_ = 0;
};

// Undoes the depth taken by each iteration of a left-associative loop (a + b + c nests left).
struct DepthScope {
  int* depth;
  int n = 0;
  ~DepthScope() { *depth -= n; }
};

// Decrements the parser's depth when a nested parse returns.
class DepthExit {
 public:
  explicit DepthExit(int* depth) : depth_(depth) {}
  ~DepthExit() { --*depth_; }
  DepthExit(const DepthExit&) = delete;
  DepthExit& operator=(const DepthExit&) = delete;

 private:
  int* depth_;
};

}  // namespace mint::tokenizer::jinja::parser_internal
