// Jinja parser, expressions: condexpr < or < and < not < compare < + - < ~ < * / // % < ** <
// unary < postfix/filters, as jinja2/parser.py.
#include "tokenizer/jinja/parser_internal.h"

namespace mint::tokenizer::jinja::parser_internal {

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

static ExprPtr MakeBinary(std::string op, ExprPtr l, ExprPtr r, int line) {
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

}  // namespace mint::tokenizer::jinja::parser_internal
