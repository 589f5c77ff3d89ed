// Jinja parser; see parser.h. Grammar and precedence follow jinja2/parser.py:
// condexpr < or < and < not < compare < + - < ~ < * / // % < ** < unary < postfix/filters.
#include "tokenizer/jinja/parser.h"

#include <algorithm>

#include "tokenizer/jinja/builtins.h"

namespace mint::tokenizer::jinja {
namespace {

Status SyntaxError(const std::string& msg, int line) {
  return Status::InvalidArgument("template syntax error at line " + std::to_string(line) + ": " +
                                 msg);
}

Status UnsupportedAt(const std::string& feature, int line) {
  return Status::Unsupported("unsupported Jinja feature at line " + std::to_string(line) + ": " +
                             feature);
}

ExprPtr MakeExpr(ExprKind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

StmtPtr MakeStmt(StmtKind kind, int line) {
  auto s = std::make_unique<Stmt>();
  s->kind = kind;
  s->line = line;
  return s;
}

std::string Describe(const Token& t) {
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

Result<ExprPtr> Parser::ParseTuple(bool with_condexpr, bool explicit_parens,
                                   const char* extra_end) {
  int line = Cur().line;
  std::vector<ExprPtr> args;
  bool is_tuple = false;
  while (true) {
    if (!args.empty()) MINT_RETURN_IF_ERROR(ExpectOp(","));
    TokenKind k = Cur().kind;
    if (k == TokenKind::kVarEnd || k == TokenKind::kBlockEnd || IsOp(")") ||
        (extra_end != nullptr && IsName(extra_end))) {
      break;
    }
    MINT_ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(with_condexpr));
    args.push_back(std::move(e));
    if (IsOp(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!args.empty()) return std::move(args[0]);
    if (!explicit_parens) return SyntaxError("expected an expression, got " + Describe(Cur()), line);
  }
  auto t = MakeExpr(ExprKind::kTuple, line);
  t->args = std::move(args);
  return t;
}

Result<ExprPtr> Parser::ParseCondexpr() {
  DepthScope ds{&depth_};
  MINT_ASSIGN_OR_RETURN(ExprPtr expr1, ParseOr());
  while (IsName("if")) {
    MINT_RETURN_IF_ERROR(Enter());
    ++ds.n;
    int line = Cur().line;
    Advance();
    MINT_ASSIGN_OR_RETURN(ExprPtr cond, ParseOr());
    ExprPtr expr3;
    if (SkipName("else")) {
      MINT_ASSIGN_OR_RETURN(expr3, ParseCondexpr());
    }
    auto c = MakeExpr(ExprKind::kCond, line);
    c->a = std::move(expr1);
    c->b = std::move(cond);
    c->c = std::move(expr3);
    expr1 = std::move(c);
  }
  return expr1;
}

ExprPtr MakeBinary(std::string op, ExprPtr l, ExprPtr r, int line) {
  auto e = MakeExpr(ExprKind::kBinary, line);
  e->name = std::move(op);
  e->a = std::move(l);
  e->b = std::move(r);
  return e;
}

Result<ExprPtr> Parser::ParseOr() {
  DepthScope ds{&depth_};
  MINT_ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
  while (IsName("or")) {
    MINT_RETURN_IF_ERROR(Enter());
    ++ds.n;
    int line = Cur().line;
    Advance();
    MINT_ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
    left = MakeBinary("or", std::move(left), std::move(right), line);
  }
  return left;
}

Result<ExprPtr> Parser::ParseAnd() {
  DepthScope ds{&depth_};
  MINT_ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
  while (IsName("and")) {
    MINT_RETURN_IF_ERROR(Enter());
    ++ds.n;
    int line = Cur().line;
    Advance();
    MINT_ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
    left = MakeBinary("and", std::move(left), std::move(right), line);
  }
  return left;
}

Result<ExprPtr> Parser::ParseNot() {
  DepthExit exit(&depth_);
  MINT_RETURN_IF_ERROR(Enter());
  if (IsName("not")) {
    auto e = MakeExpr(ExprKind::kUnary, Cur().line);
    Advance();
    e->name = "not";
    MINT_ASSIGN_OR_RETURN(e->a, ParseNot());
    return e;
  }
  return ParseCompare();
}

Result<ExprPtr> Parser::ParseCompare() {
  int line = Cur().line;
  MINT_ASSIGN_OR_RETURN(ExprPtr expr, ParseMath1());
  auto cmp = MakeExpr(ExprKind::kCompare, line);
  while (true) {
    std::string op;
    if (Cur().kind == TokenKind::kOp &&
        (IsOp("==") || IsOp("!=") || IsOp("<") || IsOp(">") || IsOp("<=") || IsOp(">="))) {
      op = Cur().text;
      Advance();
    } else if (IsName("in")) {
      op = "in";
      Advance();
    } else if (IsName("not") && IsName("in", 1)) {
      op = "notin";
      Advance();
      Advance();
    } else {
      break;
    }
    MINT_ASSIGN_OR_RETURN(ExprPtr rhs, ParseMath1());
    cmp->ops.push_back(op);
    cmp->args.push_back(std::move(rhs));
  }
  if (cmp->ops.empty()) return expr;
  cmp->a = std::move(expr);
  return cmp;
}

Result<ExprPtr> Parser::ParseMath1() {
  DepthScope ds{&depth_};
  MINT_ASSIGN_OR_RETURN(ExprPtr left, ParseConcat());
  while (IsOp("+") || IsOp("-")) {
    MINT_RETURN_IF_ERROR(Enter());
    ++ds.n;
    std::string op = Cur().text;
    int line = Cur().line;
    Advance();
    MINT_ASSIGN_OR_RETURN(ExprPtr right, ParseConcat());
    left = MakeBinary(op, std::move(left), std::move(right), line);
  }
  return left;
}

Result<ExprPtr> Parser::ParseConcat() {
  DepthScope ds{&depth_};
  MINT_ASSIGN_OR_RETURN(ExprPtr left, ParseMath2());
  while (IsOp("~")) {
    MINT_RETURN_IF_ERROR(Enter());
    ++ds.n;
    int line = Cur().line;
    Advance();
    MINT_ASSIGN_OR_RETURN(ExprPtr right, ParseMath2());
    left = MakeBinary("~", std::move(left), std::move(right), line);
  }
  return left;
}

Result<ExprPtr> Parser::ParseMath2() {
  DepthScope ds{&depth_};
  MINT_ASSIGN_OR_RETURN(ExprPtr left, ParsePow());
  while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
    MINT_RETURN_IF_ERROR(Enter());
    ++ds.n;
    std::string op = Cur().text;
    int line = Cur().line;
    Advance();
    MINT_ASSIGN_OR_RETURN(ExprPtr right, ParsePow());
    left = MakeBinary(op, std::move(left), std::move(right), line);
  }
  return left;
}

Result<ExprPtr> Parser::ParsePow() {
  DepthScope ds{&depth_};
  MINT_ASSIGN_OR_RETURN(ExprPtr left, ParseUnary(true));
  while (IsOp("**")) {
    MINT_RETURN_IF_ERROR(Enter());
    ++ds.n;
    int line = Cur().line;
    Advance();
    MINT_ASSIGN_OR_RETURN(ExprPtr right, ParseUnary(true));
    left = MakeBinary("**", std::move(left), std::move(right), line);
  }
  return left;
}

Result<ExprPtr> Parser::ParseUnary(bool with_filter) {
  DepthExit exit(&depth_);
  MINT_RETURN_IF_ERROR(Enter());
  ExprPtr node;
  if (IsOp("-") || IsOp("+")) {
    node = MakeExpr(ExprKind::kUnary, Cur().line);
    node->name = Cur().text;
    Advance();
    MINT_ASSIGN_OR_RETURN(node->a, ParseUnary(false));
  } else {
    MINT_ASSIGN_OR_RETURN(node, ParsePrimary());
  }
  MINT_ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
  if (with_filter) {
    MINT_ASSIGN_OR_RETURN(node, ParseFilterExpr(std::move(node)));
  }
  return node;
}

Result<ExprPtr> Parser::ParsePrimary() {
  const Token& t = Cur();
  auto lit = MakeExpr(ExprKind::kLiteral, t.line);
  switch (t.kind) {
    case TokenKind::kName: {
      if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
        lit->literal = Value::Bool(t.text[0] == 't' || t.text[0] == 'T');
      } else if (t.text == "none" || t.text == "None") {
        lit->literal = Value::None();
      } else {
        lit->kind = ExprKind::kName;
        lit->name = t.text;
      }
      Advance();
      return lit;
    }
    case TokenKind::kString: {
      std::string s;
      while (Cur().kind == TokenKind::kString) {
        s += Cur().text;
        Advance();
      }
      lit->literal = Value::String(std::move(s));
      return lit;
    }
    case TokenKind::kInt:
      lit->literal = Value::Int(t.int_value);
      Advance();
      return lit;
    case TokenKind::kFloat:
      lit->literal = Value::Float(t.float_value);
      Advance();
      return lit;
    default: break;
  }
  if (SkipOp("(")) {
    MINT_ASSIGN_OR_RETURN(ExprPtr e, ParseTuple(true, true));
    MINT_RETURN_IF_ERROR(ExpectOp(")"));
    return e;
  }
  if (IsOp("[") || IsOp("{")) return ParseListOrDict(IsOp("{"));
  return Unexpected();
}

Result<ExprPtr> Parser::ParseListOrDict(bool is_dict) {
  auto e = MakeExpr(is_dict ? ExprKind::kDict : ExprKind::kList, Cur().line);
  Advance();
  const char* close = is_dict ? "}" : "]";
  while (!IsOp(close)) {
    if (!e->args.empty()) MINT_RETURN_IF_ERROR(ExpectOp(","));
    if (IsOp(close)) break;
    MINT_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression());
    e->args.push_back(std::move(item));
    if (is_dict) {
      MINT_RETURN_IF_ERROR(ExpectOp(":"));
      MINT_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
      e->args.push_back(std::move(value));
    }
  }
  Advance();
  return e;
}

Result<ExprPtr> Parser::ParsePostfix(ExprPtr node) {
  DepthScope ds{&depth_};
  while (true) {
    MINT_RETURN_IF_ERROR(Enter());
    ++ds.n;
    if (IsOp(".") || IsOp("[")) {
      MINT_ASSIGN_OR_RETURN(node, ParseSubscript(std::move(node)));
    } else if (IsOp("(")) {
      auto call = MakeExpr(ExprKind::kCall, Cur().line);
      call->a = std::move(node);
      MINT_RETURN_IF_ERROR(ParseCallArgs(call.get()));
      node = std::move(call);
    } else {
      return node;
    }
  }
}

Result<ExprPtr> Parser::ParseSubscript(ExprPtr node) {
  int line = Cur().line;
  if (SkipOp(".")) {
    if (Cur().kind == TokenKind::kName) {
      auto e = MakeExpr(ExprKind::kGetAttr, line);
      e->a = std::move(node);
      e->name = Cur().text;
      Advance();
      return e;
    }
    if (Cur().kind != TokenKind::kInt) return Unexpected("name or number");
    auto e = MakeExpr(ExprKind::kGetItem, line);
    e->a = std::move(node);
    e->b = MakeExpr(ExprKind::kLiteral, line);
    e->b->literal = Value::Int(Cur().int_value);
    Advance();
    return e;
  }
  Advance();  // '['
  std::vector<ExprPtr> items;
  while (!IsOp("]")) {
    if (!items.empty()) {
      MINT_RETURN_IF_ERROR(ExpectOp(","));
      if (IsOp("]")) break;
    }
    MINT_ASSIGN_OR_RETURN(ExprPtr item, ParseSubscribed());
    items.push_back(std::move(item));
  }
  Advance();
  if (items.empty()) return SyntaxError("expected subscript expression", line);
  ExprPtr index;
  if (items.size() == 1) {
    index = std::move(items[0]);
  } else {
    index = MakeExpr(ExprKind::kTuple, line);
    index->args = std::move(items);
  }
  if (index->kind == ExprKind::kSlice) {
    index->a = std::move(node);
    return index;
  }
  auto e = MakeExpr(ExprKind::kGetItem, line);
  e->a = std::move(node);
  e->b = std::move(index);
  return e;
}

Result<ExprPtr> Parser::ParseSubscribed() {
  int line = Cur().line;
  auto slice = MakeExpr(ExprKind::kSlice, line);
  if (!SkipOp(":")) {
    MINT_ASSIGN_OR_RETURN(ExprPtr start, ParseExpression());
    if (!SkipOp(":")) return start;
    slice->b = std::move(start);
  }
  if (!IsOp("]") && !IsOp(",") && !IsOp(":")) {
    MINT_ASSIGN_OR_RETURN(slice->c, ParseExpression());
  }
  if (SkipOp(":")) {
    if (!IsOp("]") && !IsOp(",")) {
      MINT_ASSIGN_OR_RETURN(slice->d, ParseExpression());
    }
  }
  return slice;
}

Status Parser::ParseCallArgs(Expr* call) {
  MINT_RETURN_IF_ERROR(ExpectOp("("));
  bool first = true;
  while (!IsOp(")")) {
    if (!first) {
      MINT_RETURN_IF_ERROR(ExpectOp(","));
      if (IsOp(")")) break;
    }
    first = false;
    if (IsOp("*") || IsOp("**")) return UnsupportedAt("*args/**kwargs in calls", Cur().line);
    if (Cur().kind == TokenKind::kName && Peek().kind == TokenKind::kOp && Peek().text == "=") {
      std::string key = Cur().text;
      Advance();
      Advance();
      MINT_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
      call->kwargs.emplace_back(std::move(key), std::move(value));
    } else {
      if (!call->kwargs.empty()) {
        return SyntaxError("positional argument follows keyword argument", Cur().line);
      }
      MINT_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
      call->args.push_back(std::move(value));
    }
  }
  Advance();
  return Status::Ok();
}

Result<std::string> Parser::ParseDottedName() {
  MINT_ASSIGN_OR_RETURN(std::string name, ExpectName());
  while (IsOp(".") && Peek().kind == TokenKind::kName) {
    Advance();
    name += "." + Cur().text;
    Advance();
  }
  return name;
}

Result<ExprPtr> Parser::ParseFilterExpr(ExprPtr node) {
  DepthScope ds{&depth_};
  while (true) {
    MINT_RETURN_IF_ERROR(Enter());
    ++ds.n;
    if (SkipOp("|")) {
      MINT_ASSIGN_OR_RETURN(node, ParseFilter(std::move(node)));
    } else if (IsName("is")) {
      MINT_ASSIGN_OR_RETURN(node, ParseTest(std::move(node)));
    } else if (IsOp("(")) {
      auto call = MakeExpr(ExprKind::kCall, Cur().line);
      call->a = std::move(node);
      MINT_RETURN_IF_ERROR(ParseCallArgs(call.get()));
      node = std::move(call);
    } else {
      return node;
    }
  }
}

Result<ExprPtr> Parser::ParseFilter(ExprPtr node) {
  auto f = MakeExpr(ExprKind::kFilter, Cur().line);
  MINT_ASSIGN_OR_RETURN(f->name, ParseDottedName());
  if (IsOp("(")) MINT_RETURN_IF_ERROR(ParseCallArgs(f.get()));
  f->a = std::move(node);
  return f;
}

Result<ExprPtr> Parser::ParseTest(ExprPtr node) {
  auto t = MakeExpr(ExprKind::kTest, Cur().line);
  Advance();  // 'is'
  if (SkipName("not")) t->negated = true;
  MINT_ASSIGN_OR_RETURN(t->name, ParseDottedName());
  TokenKind k = Cur().kind;
  if (IsOp("(")) {
    MINT_RETURN_IF_ERROR(ParseCallArgs(t.get()));
  } else if ((k == TokenKind::kName || k == TokenKind::kString || k == TokenKind::kInt ||
              k == TokenKind::kFloat || IsOp("[") || IsOp("{")) &&
             !IsName("else") && !IsName("or") && !IsName("and")) {
    if (IsName("is")) return SyntaxError("you cannot chain multiple tests with is", Cur().line);
    MINT_ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
    MINT_ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
    t->args.push_back(std::move(arg));
  }
  t->a = std::move(node);
  return t;
}

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
  Parser parser(std::move(tokens));
  MINT_ASSIGN_OR_RETURN(Body body, parser.ParseTemplate());
  MINT_RETURN_IF_ERROR(CheckBody(body, false));
  return body;
}

}  // namespace mint::tokenizer::jinja
