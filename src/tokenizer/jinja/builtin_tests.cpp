// Built-in Jinja tests (`x is name(args)`), jinja2/tests.py semantics.
#include <functional>
#include <unordered_map>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/ops.h"

namespace mint::tokenizer::jinja {
namespace {

using TestFn = std::function<Result<bool>(Interpreter&, const Value&, CallArgs&)>;

Result<Value> Arg0(const CallArgs& a, std::string_view test) {
  if (a.positional.empty()) {
    return Status::InvalidArgument("test '" + std::string(test) + "' needs an argument");
  }
  return a.positional[0];
}

TestFn Compare(const char* op) {
  return [op](Interpreter&, const Value& in, CallArgs& a) -> Result<bool> {
    MINT_ASSIGN_OR_RETURN(Value other, Arg0(a, op));
    return CompareOp(op, in, other);
  };
}

Result<bool> Parity(const Value& in, int want) {
  if (in.is_undefined()) return UndefinedError(in);
  if (!in.is_number()) {
    return Status::InvalidArgument(std::string("unsupported operand type(s) for %: '") +
                                   in.TypeName() + "' and 'int'");
  }
  MINT_ASSIGN_OR_RETURN(Value m, BinaryOp("%", in, Value::Int(2)));
  return m.Equals(Value::Int(want));
}

bool HasCase(const std::string& s, bool upper) {
  bool any_cased = false;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') {
      if (upper) return false;
      any_cased = true;
    } else if (c >= 'A' && c <= 'Z') {
      if (!upper) return false;
      any_cased = true;
    }
  }
  return any_cased;
}

const std::unordered_map<std::string, TestFn>& Tests() {
  using K = Value::Kind;
  auto kind_is = [](std::initializer_list<K> kinds) -> TestFn {
    std::vector<K> ks(kinds);
    return [ks](Interpreter&, const Value& in, CallArgs&) -> Result<bool> {
      for (K k : ks) {
        if (in.kind() == k) return true;
      }
      return false;
    };
  };
  static const auto* tests = new std::unordered_map<std::string, TestFn>{
      {"defined", [](Interpreter&, const Value& in, CallArgs&) -> Result<bool> { return !in.is_undefined(); }},
      {"undefined", kind_is({K::kUndefined})},
      {"none", kind_is({K::kNone})},
      {"string", kind_is({K::kString})},
      {"number", kind_is({K::kInt, K::kFloat, K::kBool})},
      {"integer", kind_is({K::kInt})},
      {"float", kind_is({K::kFloat})},
      {"boolean", kind_is({K::kBool})},
      {"mapping", kind_is({K::kDict})},
      {"iterable", kind_is({K::kString, K::kList, K::kTuple, K::kDict, K::kUndefined, K::kGenerator})},
      {"sequence", kind_is({K::kString, K::kList, K::kTuple, K::kDict})},
      {"callable", kind_is({K::kCallable})},
      {"true", [](Interpreter&, const Value& in, CallArgs&) -> Result<bool> { return in.is_bool() && in.as_bool(); }},
      {"false", [](Interpreter&, const Value& in, CallArgs&) -> Result<bool> { return in.is_bool() && !in.as_bool(); }},
      {"escaped", [](Interpreter&, const Value&, CallArgs&) -> Result<bool> { return false; }},
      {"sameas", [](Interpreter&, const Value& in, CallArgs& a) -> Result<bool> {
         MINT_ASSIGN_OR_RETURN(Value o, Arg0(a, "sameas"));
         if (in.kind() != o.kind()) return false;
         switch (in.kind()) {
           case K::kList:
           case K::kTuple: return in.list_ptr() == o.list_ptr();
           case K::kDict:
           case K::kNamespace: return in.dict_ptr() == o.dict_ptr();
           case K::kCallable: return in.callable() == o.callable();
           default: return in.Equals(o);
         }
       }},
      {"eq", Compare("==")}, {"equalto", Compare("==")}, {"==", Compare("==")},
      {"ne", Compare("!=")}, {"!=", Compare("!=")},
      {"lt", Compare("<")}, {"lessthan", Compare("<")}, {"<", Compare("<")},
      {"gt", Compare(">")}, {"greaterthan", Compare(">")}, {">", Compare(">")},
      {"le", Compare("<=")}, {"<=", Compare("<=")},
      {"ge", Compare(">=")}, {">=", Compare(">=")},
      {"in", [](Interpreter&, const Value& in, CallArgs& a) -> Result<bool> {
         MINT_ASSIGN_OR_RETURN(Value seq, Arg0(a, "in"));
         return Contains(seq, in);
       }},
      {"odd", [](Interpreter&, const Value& in, CallArgs&) { return Parity(in, 1); }},
      {"even", [](Interpreter&, const Value& in, CallArgs&) { return Parity(in, 0); }},
      {"divisibleby", [](Interpreter&, const Value& in, CallArgs& a) -> Result<bool> {
         MINT_ASSIGN_OR_RETURN(Value n, Arg0(a, "divisibleby"));
         MINT_ASSIGN_OR_RETURN(Value m, BinaryOp("%", in, n));
         return m.Equals(Value::Int(0));
       }},
      {"lower", [](Interpreter&, const Value& in, CallArgs&) -> Result<bool> {
         return HasCase(in.ToString(), false);
       }},
      {"upper", [](Interpreter&, const Value& in, CallArgs&) -> Result<bool> {
         return HasCase(in.ToString(), true);
       }},
      {"filter", [](Interpreter&, const Value& in, CallArgs&) -> Result<bool> {
         return in.is_string() && IsKnownFilter(in.str());
       }},
      {"test", [](Interpreter&, const Value& in, CallArgs&) -> Result<bool> {
         return in.is_string() && IsKnownTest(in.str());
       }},
  };
  return *tests;
}

}  // namespace

bool IsKnownTest(std::string_view name) { return Tests().count(std::string(name)) > 0; }

Result<bool> ApplyTest(Interpreter& interp, std::string_view name, const Value& input,
                       CallArgs& args) {
  auto it = Tests().find(std::string(name));
  if (it == Tests().end()) {
    return Status::InvalidArgument("no test named '" + std::string(name) + "'");
  }
  return it->second(interp, input, args);
}

}  // namespace mint::tokenizer::jinja
