// Jinja interpreter: expression evaluation (Interpreter::Eval and helpers).
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/ops.h"

namespace mint::tokenizer::jinja {

Result<CallArgs> Interpreter::EvalArgs(const Expr& e, const ScopePtr& scope) {
  CallArgs args;
  for (const ExprPtr& a : e.args) {
    MINT_ASSIGN_OR_RETURN(Value v, Eval(*a, scope));
    args.positional.push_back(std::move(v));
  }
  for (const auto& [k, a] : e.kwargs) {
    MINT_ASSIGN_OR_RETURN(Value v, Eval(*a, scope));
    args.kwargs.emplace_back(k, std::move(v));
  }
  return args;
}

Result<Value> Interpreter::EvalCall(const Expr& e, const ScopePtr& scope) {
  MINT_ASSIGN_OR_RETURN(Value fn, Eval(*e.a, scope));
  MINT_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, scope));
  auto r = CallValue(fn, args, e.line);
  if (!r.ok()) return AtLine(r.status(), e.line);
  return r;
}

Result<Value> Interpreter::EvalFilter(const Expr& e, const ScopePtr& scope) {
  Value input;
  if (e.a != nullptr) {
    MINT_ASSIGN_OR_RETURN(input, Eval(*e.a, scope));
  } else if (filter_input_ != nullptr) {
    input = *filter_input_;
  }
  MINT_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, scope));
  MINT_RETURN_IF_ERROR(AtLine(Tick(), e.line));
  auto r = ApplyFilter(*this, e.name, input, args);
  if (!r.ok()) return AtLine(r.status(), e.line);
  return r;
}

Result<Value> Interpreter::EvalTest(const Expr& e, const ScopePtr& scope) {
  MINT_ASSIGN_OR_RETURN(Value input, Eval(*e.a, scope));
  MINT_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, scope));
  auto r = ApplyTest(*this, e.name, input, args);
  if (!r.ok()) return AtLine(r.status(), e.line);
  return Value::Bool(*r != e.negated);
}

Result<Value> Interpreter::EvalCompare(const Expr& e, const ScopePtr& scope) {
  MINT_ASSIGN_OR_RETURN(Value left, Eval(*e.a, scope));
  for (size_t i = 0; i < e.ops.size(); ++i) {
    MINT_ASSIGN_OR_RETURN(Value right, Eval(*e.args[i], scope));
    auto r = CompareOp(e.ops[i], left, right);
    if (!r.ok()) return AtLine(r.status(), e.line);
    if (!*r) return Value::Bool(false);
    left = std::move(right);
  }
  return Value::Bool(true);
}

Result<Value> Interpreter::EvalSlice(const Expr& e, const ScopePtr& scope) {
  MINT_ASSIGN_OR_RETURN(Value obj, Eval(*e.a, scope));
  Value bounds[3];
  const Expr* exprs[3] = {e.b.get(), e.c.get(), e.d.get()};
  for (int i = 0; i < 3; ++i) {
    if (exprs[i] != nullptr) {
      MINT_ASSIGN_OR_RETURN(bounds[i], Eval(*exprs[i], scope));
    }
  }
  auto r = SliceValue(obj, exprs[0] ? &bounds[0] : nullptr, exprs[1] ? &bounds[1] : nullptr,
                      exprs[2] ? &bounds[2] : nullptr);
  if (!r.ok()) return AtLine(r.status(), e.line);
  return r;
}

Result<Value> Interpreter::EvalSequence(const Expr& e, const ScopePtr& scope) {
  List items;
  for (const ExprPtr& a : e.args) {
    MINT_ASSIGN_OR_RETURN(Value v, Eval(*a, scope));
    items.push_back(std::move(v));
  }
  return e.kind == ExprKind::kList ? Value::MakeList(std::move(items))
                                   : Value::MakeTuple(std::move(items));
}

Result<Value> Interpreter::EvalDict(const Expr& e, const ScopePtr& scope) {
  Value d = Value::MakeDict();
  for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
    MINT_ASSIGN_OR_RETURN(Value k, Eval(*e.args[i], scope));
    MINT_ASSIGN_OR_RETURN(Value v, Eval(*e.args[i + 1], scope));
    if (k.is_list() || k.is_dict() || k.is_namespace()) {
      return AtLine(Status::InvalidArgument(std::string("unhashable type: '") + k.TypeName() + "'"),
                    e.line);
    }
    d.dict().Set(std::move(k), std::move(v));
  }
  return d;
}

Result<Value> Interpreter::EvalUnary(const Expr& e, const ScopePtr& scope) {
  MINT_ASSIGN_OR_RETURN(Value v, Eval(*e.a, scope));
  if (e.name == "not") return Value::Bool(!v.Truthy());
  if (v.is_undefined()) return AtLine(UndefinedError(v), e.line);
  if (!v.is_number()) {
    return AtLine(Status::InvalidArgument(std::string("bad operand type for unary ") + e.name +
                                          ": '" + v.TypeName() + "'"),
                  e.line);
  }
  if (e.name == "+") return v.is_bool() ? Value::Int(v.as_int()) : v;
  if (v.is_float()) return Value::Float(-v.as_float());
  if (v.as_int() == INT64_MIN) return Value::Float(-v.as_float());
  return Value::Int(-v.as_int());
}

Result<Value> Interpreter::EvalBinary(const Expr& e, const ScopePtr& scope) {
  MINT_ASSIGN_OR_RETURN(Value l, Eval(*e.a, scope));
  if (e.name == "and") return l.Truthy() ? Eval(*e.b, scope) : Result<Value>(l);
  if (e.name == "or") return l.Truthy() ? Result<Value>(l) : Eval(*e.b, scope);
  MINT_ASSIGN_OR_RETURN(Value r, Eval(*e.b, scope));
  auto res = BinaryOp(e.name, l, r);
  if (!res.ok()) return AtLine(res.status(), e.line);
  if (res->is_string() && res->str().size() > options_.max_output_bytes) {
    return AtLine(Status::ResourceExhausted("string result too large"), e.line);
  }
  return res;
}

Result<Value> Interpreter::Eval(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case ExprKind::kLiteral: return e.literal;
    case ExprKind::kName: {
      if (const Value* v = scope->Lookup(e.name)) return *v;
      return Value::Undefined("'" + e.name + "' is undefined");
    }
    case ExprKind::kList:
    case ExprKind::kTuple:
      return EvalSequence(e, scope);
    case ExprKind::kDict:
      return EvalDict(e, scope);
    case ExprKind::kUnary:
      return EvalUnary(e, scope);
    case ExprKind::kBinary:
      return EvalBinary(e, scope);
    case ExprKind::kCompare: return EvalCompare(e, scope);
    case ExprKind::kCond: {
      MINT_ASSIGN_OR_RETURN(Value c, Eval(*e.b, scope));
      if (c.Truthy()) return Eval(*e.a, scope);
      if (e.c != nullptr) return Eval(*e.c, scope);
      return Value::Undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    }
    case ExprKind::kGetAttr: {
      MINT_ASSIGN_OR_RETURN(Value obj, Eval(*e.a, scope));
      auto r = GetAttr(obj, e.name);
      if (!r.ok()) return AtLine(r.status(), e.line);
      return r;
    }
    case ExprKind::kGetItem: {
      MINT_ASSIGN_OR_RETURN(Value obj, Eval(*e.a, scope));
      MINT_ASSIGN_OR_RETURN(Value key, Eval(*e.b, scope));
      auto r = GetItem(obj, key);
      if (!r.ok()) return AtLine(r.status(), e.line);
      return r;
    }
    case ExprKind::kSlice: return EvalSlice(e, scope);
    case ExprKind::kCall: return EvalCall(e, scope);
    case ExprKind::kFilter: return EvalFilter(e, scope);
    case ExprKind::kTest: return EvalTest(e, scope);
  }
  return Status::Internal("unknown expression kind");
}

}  // namespace mint::tokenizer::jinja
