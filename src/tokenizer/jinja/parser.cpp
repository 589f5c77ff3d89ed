// Jinja parser, statements; see parser.h. Grammar and precedence follow jinja2/parser.py.
#include "tokenizer/jinja/parser.h"

#include <algorithm>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/parser_internal.h"

namespace mint::tokenizer::jinja {
namespace parser_internal {

Result<Body> Parser::Subparse(const std::vector<std::string>& end_names, std::string* found) {
  DepthExit exit(&depth_);
  MINT_RETURN_IF_ERROR(Enter());
  Body body;
  while (true) {
    const Token& t = Cur();
    switch (t.kind) {
      case TokenKind::kText: {
        auto s = MakeStmt(StmtKind::kText, t.line);
        s->text = t.text;
        body.push_back(std::move(s));
        Advance();
        break;
      }
      case TokenKind::kVarBegin: {
        Advance();
        auto s = MakeStmt(StmtKind::kOutput, Cur().line);
        MINT_ASSIGN_OR_RETURN(s->expr, ParseTuple());
        if (Cur().kind != TokenKind::kVarEnd) return Unexpected("end of print statement");
        Advance();
        body.push_back(std::move(s));
        break;
      }
      case TokenKind::kBlockBegin: {
        Advance();
        if (Cur().kind == TokenKind::kName &&
            std::find(end_names.begin(), end_names.end(), Cur().text) != end_names.end()) {
          *found = Cur().text;
          Advance();
          return body;
        }
        MINT_ASSIGN_OR_RETURN(StmtPtr s, ParseStatement());
        body.push_back(std::move(s));
        break;
      }
      case TokenKind::kEof:
        if (!end_names.empty()) {
          std::string names;
          for (const auto& n : end_names) names += (names.empty() ? "'" : " or '") + n + "'";
          return SyntaxError("unexpected end of template, expected " + names, t.line);
        }
        return body;
      default:
        return Unexpected();
    }
  }
}

Result<StmtPtr> Parser::ParseStatement() {
  const Token& t = Cur();
  if (t.kind != TokenKind::kName) return SyntaxError("tag name expected", t.line);
  const std::string& n = t.text;
  int line = t.line;
  if (n == "if") return ParseIf();
  if (n == "for") return ParseFor();
  if (n == "set") return ParseSet();
  if (n == "macro") return ParseMacro();
  if (n == "call") return ParseCallBlock();
  if (n == "filter") return ParseFilterBlock();
  if (n == "break" || n == "continue") {
    if (loop_depth_ == 0) return SyntaxError("'" + n + "' outside loop", line);
    auto s = MakeStmt(n == "break" ? StmtKind::kBreak : StmtKind::kContinue, line);
    Advance();
    MINT_RETURN_IF_ERROR(ExpectBlockEnd());
    return s;
  }
  if (n == "generation") {  // transformers' AssistantTracker extension: renders its body
    Advance();
    MINT_RETURN_IF_ERROR(ExpectBlockEnd());
    auto s = MakeStmt(StmtKind::kScope, line);
    std::string end;
    MINT_ASSIGN_OR_RETURN(s->body, Subparse({"endgeneration"}, &end));
    MINT_RETURN_IF_ERROR(ExpectBlockEnd());
    return s;
  }
  static const char* kUnsupported[] = {"include", "import", "from", "extends", "block",
                                       "with", "do", "autoescape", "trans", "print"};
  for (const char* u : kUnsupported) {
    if (n == u) return UnsupportedAt("{% " + n + " %}", line);
  }
  return SyntaxError("encountered unknown tag '" + n + "'", line);
}

Result<StmtPtr> Parser::ParseIf() {
  auto s = MakeStmt(StmtKind::kIf, Cur().line);
  Advance();
  while (true) {
    MINT_ASSIGN_OR_RETURN(ExprPtr cond, ParseTuple(false));
    MINT_RETURN_IF_ERROR(ExpectBlockEnd());
    std::string end;
    MINT_ASSIGN_OR_RETURN(Body body, Subparse({"elif", "else", "endif"}, &end));
    s->conds.push_back(std::move(cond));
    s->bodies.push_back(std::move(body));
    if (end == "elif") continue;
    if (end == "else") {
      MINT_RETURN_IF_ERROR(ExpectBlockEnd());
      MINT_ASSIGN_OR_RETURN(s->else_body, Subparse({"endif"}, &end));
    }
    MINT_RETURN_IF_ERROR(ExpectBlockEnd());
    return s;
  }
}

Status Parser::ParseAssignTargets(Stmt* stmt, bool with_namespace) {
  if (with_namespace && Cur().kind == TokenKind::kName && Peek().kind == TokenKind::kOp &&
      Peek().text == ".") {
    stmt->targets.push_back(Cur().text);
    Advance();
    Advance();
    MINT_ASSIGN_OR_RETURN(stmt->ns_attr, ExpectName());
    return Status::Ok();
  }
  bool parens = SkipOp("(");
  while (true) {
    MINT_ASSIGN_OR_RETURN(std::string name, ExpectName());
    stmt->targets.push_back(std::move(name));
    if (!SkipOp(",")) break;
    stmt->targets_tuple = true;
    if (Cur().kind != TokenKind::kName) break;  // trailing comma
  }
  if (parens) MINT_RETURN_IF_ERROR(ExpectOp(")"));
  if (parens && stmt->targets.size() > 1) stmt->targets_tuple = true;
  return Status::Ok();
}

Result<StmtPtr> Parser::ParseFor() {
  auto s = MakeStmt(StmtKind::kFor, Cur().line);
  Advance();
  MINT_RETURN_IF_ERROR(ParseAssignTargets(s.get(), false));
  if (!SkipName("in")) return Unexpected("'in'");
  MINT_ASSIGN_OR_RETURN(s->expr, ParseTuple(false, false, "recursive"));
  if (SkipName("if")) {
    MINT_ASSIGN_OR_RETURN(s->cond, ParseExpression());
  }
  if (IsName("recursive")) return UnsupportedAt("recursive for loops", Cur().line);
  MINT_RETURN_IF_ERROR(ExpectBlockEnd());
  ++loop_depth_;
  std::string end;
  auto body = Subparse({"endfor", "else"}, &end);
  --loop_depth_;
  if (!body.ok()) return body.status();
  s->body = std::move(body).value();
  if (end == "else") {
    MINT_RETURN_IF_ERROR(ExpectBlockEnd());
    MINT_ASSIGN_OR_RETURN(s->else_body, Subparse({"endfor"}, &end));
  }
  MINT_RETURN_IF_ERROR(ExpectBlockEnd());
  return s;
}

Result<StmtPtr> Parser::ParseSet() {
  auto s = MakeStmt(StmtKind::kSet, Cur().line);
  Advance();
  MINT_RETURN_IF_ERROR(ParseAssignTargets(s.get(), true));
  if (SkipOp("=")) {
    MINT_ASSIGN_OR_RETURN(s->expr, ParseTuple());
    MINT_RETURN_IF_ERROR(ExpectBlockEnd());
    return s;
  }
  if (IsOp("|")) return UnsupportedAt("filtered block {% set %}", Cur().line);
  if (s->targets_tuple || !s->ns_attr.empty()) return Unexpected("'='");
  MINT_RETURN_IF_ERROR(ExpectBlockEnd());
  std::string end;
  MINT_ASSIGN_OR_RETURN(s->body, Subparse({"endset"}, &end));
  MINT_RETURN_IF_ERROR(ExpectBlockEnd());
  return s;
}

Status Parser::ParseParams(Stmt* stmt) {
  MINT_RETURN_IF_ERROR(ExpectOp("("));
  while (!IsOp(")")) {
    if (!stmt->params.empty()) MINT_RETURN_IF_ERROR(ExpectOp(","));
    if (IsOp(")")) break;
    MINT_ASSIGN_OR_RETURN(std::string name, ExpectName());
    ExprPtr def;
    if (SkipOp("=")) {
      MINT_ASSIGN_OR_RETURN(def, ParseExpression());
    } else if (!stmt->defaults.empty() && stmt->defaults.back() != nullptr) {
      return SyntaxError("non-default argument follows default argument", Cur().line);
    }
    stmt->params.push_back(std::move(name));
    stmt->defaults.push_back(std::move(def));
  }
  Advance();
  return Status::Ok();
}

Result<StmtPtr> Parser::ParseMacro() {
  auto s = MakeStmt(StmtKind::kMacro, Cur().line);
  Advance();
  MINT_ASSIGN_OR_RETURN(s->name, ExpectName());
  MINT_RETURN_IF_ERROR(ParseParams(s.get()));
  MINT_RETURN_IF_ERROR(ExpectBlockEnd());
  int saved_depth = loop_depth_;
  loop_depth_ = 0;
  std::string end;
  auto body = Subparse({"endmacro"}, &end);
  loop_depth_ = saved_depth;
  if (!body.ok()) return body.status();
  s->body = std::move(body).value();
  if (Cur().kind == TokenKind::kName && Cur().text == s->name) Advance();
  MINT_RETURN_IF_ERROR(ExpectBlockEnd());
  return s;
}

Result<StmtPtr> Parser::ParseCallBlock() {
  auto s = MakeStmt(StmtKind::kCallBlock, Cur().line);
  Advance();
  if (IsOp("(")) MINT_RETURN_IF_ERROR(ParseParams(s.get()));
  MINT_ASSIGN_OR_RETURN(s->expr, ParseExpression());
  if (s->expr->kind != ExprKind::kCall) return SyntaxError("expected call", s->line);
  MINT_RETURN_IF_ERROR(ExpectBlockEnd());
  int saved_depth = loop_depth_;
  loop_depth_ = 0;
  std::string end;
  auto body = Subparse({"endcall"}, &end);
  loop_depth_ = saved_depth;
  if (!body.ok()) return body.status();
  s->body = std::move(body).value();
  MINT_RETURN_IF_ERROR(ExpectBlockEnd());
  return s;
}

Result<StmtPtr> Parser::ParseFilterBlock() {
  auto s = MakeStmt(StmtKind::kFilterBlock, Cur().line);
  Advance();
  ExprPtr chain;
  do {
    MINT_ASSIGN_OR_RETURN(chain, ParseFilter(std::move(chain)));
  } while (SkipOp("|"));
  s->expr = std::move(chain);
  MINT_RETURN_IF_ERROR(ExpectBlockEnd());
  std::string end;
  MINT_ASSIGN_OR_RETURN(s->body, Subparse({"endfilter"}, &end));
  MINT_RETURN_IF_ERROR(ExpectBlockEnd());
  return s;
}

}  // namespace parser_internal

namespace {


// jinja2 reports an unknown filter or test at compile time unless it sits in an `if` or a
// conditional expression (a "soft" frame), where the error waits until it is evaluated.
Status CheckNames(const Expr* e, bool soft);
Status CheckBody(const Body& body, bool soft);

Status CheckNames(const Expr* e, bool soft) {
  if (e == nullptr) return Status::Ok();
  if (e->kind == ExprKind::kCond) soft = true;
  if (!soft && e->kind == ExprKind::kFilter && !IsKnownFilter(e->name)) {
    return SyntaxError("no filter named '" + e->name + "'", e->line);
  }
  if (!soft && e->kind == ExprKind::kTest && !IsKnownTest(e->name)) {
    return SyntaxError("no test named '" + e->name + "'", e->line);
  }
  for (const Expr* c : {e->a.get(), e->b.get(), e->c.get(), e->d.get()}) {
    MINT_RETURN_IF_ERROR(CheckNames(c, soft));
  }
  for (auto& a : e->args) MINT_RETURN_IF_ERROR(CheckNames(a.get(), soft));
  for (auto& [k, v] : e->kwargs) MINT_RETURN_IF_ERROR(CheckNames(v.get(), soft));
  return Status::Ok();
}

Status CheckBody(const Body& body, bool soft) {
  for (auto& s : body) {
    bool is_if = s->kind == StmtKind::kIf;
    MINT_RETURN_IF_ERROR(CheckNames(s->expr.get(), soft));
    MINT_RETURN_IF_ERROR(CheckNames(s->cond.get(), false));
    for (auto& c : s->conds) MINT_RETURN_IF_ERROR(CheckNames(c.get(), true));
    for (auto& d : s->defaults) MINT_RETURN_IF_ERROR(CheckNames(d.get(), false));
    for (auto& b : s->bodies) MINT_RETURN_IF_ERROR(CheckBody(b, true));
    // for/macro/call/filter/set bodies open inner (non-soft) frames.
    MINT_RETURN_IF_ERROR(CheckBody(s->body, false));
    MINT_RETURN_IF_ERROR(CheckBody(s->else_body, is_if));
  }
  return Status::Ok();
}

}  // namespace

Result<Body> Parse(std::string_view source, const LexOptions& options) {
  MINT_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lex(source, options));
  parser_internal::Parser parser(std::move(tokens));
  MINT_ASSIGN_OR_RETURN(Body body, parser.ParseTemplate());
  MINT_RETURN_IF_ERROR(CheckBody(body, false));
  return body;
}

}  // namespace mint::tokenizer::jinja
