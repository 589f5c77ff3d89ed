// Python operator semantics for Jinja values; see ops.h.
#include "tokenizer/jinja/ops.h"

#include <cmath>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/string_util.h"
#include "tokenizer/jinja/utf8.h"

namespace mint::tokenizer::jinja {
namespace {

constexpr size_t kMaxRepeatBytes = 64u << 20;

Status TypeError(const std::string& msg) { return Status::InvalidArgument(msg); }

Status Unsupported(std::string_view op, const Value& l, const Value& r) {
  return TypeError("unsupported operand type(s) for " + std::string(op) + ": '" + l.TypeName() +
                   "' and '" + r.TypeName() + "'");
}

Result<Value> Repeat(const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    if (!seq.str().empty() && static_cast<uint64_t>(n) > kMaxRepeatBytes / seq.str().size()) {
      return Status::ResourceExhausted("string repetition result too large");
    }
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.str();
    return Value::String(std::move(out));
  }
  if (!seq.list().empty() && static_cast<uint64_t>(n) > kMaxRepeatBytes / 64 / seq.list().size()) {
    return Status::ResourceExhausted("list repetition result too large");
  }
  List out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.list().begin(), seq.list().end());
  return seq.is_tuple() ? Value::MakeTuple(std::move(out)) : Value::MakeList(std::move(out));
}

Result<Value> Arith(std::string_view op, const Value& l, const Value& r) {
  bool fl = l.is_float() || r.is_float();
  double a = l.as_float(), b = r.as_float();
  int64_t x = l.as_int(), y = r.as_int();
  int64_t res = 0;
  if (op == "+") {
    if (fl || __builtin_add_overflow(x, y, &res)) return Value::Float(a + b);
    return Value::Int(res);
  }
  if (op == "-") {
    if (fl || __builtin_sub_overflow(x, y, &res)) return Value::Float(a - b);
    return Value::Int(res);
  }
  if (op == "*") {
    if (fl || __builtin_mul_overflow(x, y, &res)) return Value::Float(a * b);
    return Value::Int(res);
  }
  if (op == "/") {
    if (b == 0) return Status::InvalidArgument("division by zero");
    return Value::Float(a / b);
  }
  if (op == "//" || op == "%") {
    if (b == 0) return Status::InvalidArgument("integer division or modulo by zero");
    if (fl) {
      double m = std::fmod(a, b);
      if (m != 0 && ((m < 0) != (b < 0))) m += b;
      if (op == "%") return Value::Float(m);
      return Value::Float(std::floor((a - m) / b + 0.5));
    }
    if (x == INT64_MIN && y == -1) return op == "%" ? Value::Int(0) : Value::Float(-a);
    int64_t q = x / y, m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) {
      --q;
      m += y;
    }
    return Value::Int(op == "%" ? m : q);
  }
  // "**"
  if (!fl && y >= 0) {
    int64_t acc = 1;
    bool overflow = false;
    for (int64_t i = 0; i < y && !overflow; ++i) {
      overflow = __builtin_mul_overflow(acc, x, &acc);
      if (acc == 0 || acc == 1) break;
    }
    if (x == -1) acc = (y % 2 == 0) ? 1 : -1;
    if (!overflow) return Value::Int(acc);
  }
  if (a == 0 && b < 0) return Status::InvalidArgument("0.0 cannot be raised to a negative power");
  return Value::Float(std::pow(a, b));
}

}  // namespace

Result<Value> BinaryOp(std::string_view op, const Value& l, const Value& r) {
  if (op == "~") return Value::String(l.ToString() + r.ToString());
  if (l.is_undefined()) return UndefinedError(l);
  if (r.is_undefined()) return UndefinedError(r);
  if (l.is_number() && r.is_number()) return Arith(op, l, r);
  if (op == "+") {
    if (l.is_string() && r.is_string()) {
      if (l.is_markup() || r.is_markup()) {  // markupsafe escapes the plain operand
        return Value::Markup((l.is_markup() ? l.str() : HtmlEscape(l.str())) +
                             (r.is_markup() ? r.str() : HtmlEscape(r.str())));
      }
      return Value::String(l.str() + r.str());
    }
    if (l.kind() == r.kind() && l.is_sequence_like()) {
      List out = l.list();
      out.insert(out.end(), r.list().begin(), r.list().end());
      return l.is_tuple() ? Value::MakeTuple(std::move(out)) : Value::MakeList(std::move(out));
    }
    if (l.is_string() || l.is_list()) {
      return TypeError(std::string("can only concatenate ") + l.TypeName() + " (not \"" +
                       r.TypeName() + "\") to " + l.TypeName());
    }
  }
  if (op == "*") {
    if ((l.is_string() || l.is_sequence_like()) && (r.is_int() || r.is_bool())) {
      return Repeat(l, r.as_int());
    }
    if ((r.is_string() || r.is_sequence_like()) && (l.is_int() || l.is_bool())) {
      return Repeat(r, l.as_int());
    }
  }
  if (op == "%" && l.is_string()) {
    MINT_ASSIGN_OR_RETURN(std::string s, PercentFormat(l.str(), r));
    return Value::String(std::move(s));
  }
  return Unsupported(op, l, r);
}

Result<int> Compare3(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_float(), y = b.as_float();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.str().compare(b.str());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.kind() == b.kind() && a.is_sequence_like()) {
    size_t n = std::min(a.list().size(), b.list().size());
    for (size_t i = 0; i < n; ++i) {
      if (a.list()[i].Equals(b.list()[i])) continue;
      return Compare3(a.list()[i], b.list()[i]);
    }
    return a.list().size() < b.list().size() ? -1 : (a.list().size() > b.list().size() ? 1 : 0);
  }
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  return TypeError(std::string("'<' not supported between instances of '") + a.TypeName() +
                   "' and '" + b.TypeName() + "'");
}

Result<bool> Contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kString:
      if (!item.is_string()) {
        if (item.is_undefined()) return UndefinedError(item);
        return TypeError(std::string("'in <string>' requires string as left operand, not ") +
                         item.TypeName());
      }
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::kList:
    case Value::Kind::kTuple:
      for (const Value& v : container.list()) {
        if (v.Equals(item)) return true;
      }
      return false;
    case Value::Kind::kDict: return container.dict().Find(item) != nullptr;
    case Value::Kind::kUndefined: return false;
    case Value::Kind::kGenerator: {  // consumes up to the match, as Python does
      List& rest = container.list();
      for (size_t i = 0; i < rest.size(); ++i) {
        if (rest[i].Equals(item)) {
          rest.erase(rest.begin(), rest.begin() + static_cast<long>(i) + 1);
          return true;
        }
      }
      rest.clear();
      return false;
    }
    default:
      return TypeError(std::string("argument of type '") + container.TypeName() +
                       "' is not iterable");
  }
}

Result<bool> CompareOp(std::string_view op, const Value& l, const Value& r) {
  if (op == "==") return l.Equals(r);
  if (op == "!=") return !l.Equals(r);
  if (op == "in") return Contains(r, l);
  if (op == "notin") {
    MINT_ASSIGN_OR_RETURN(bool in, Contains(r, l));
    return !in;
  }
  MINT_ASSIGN_OR_RETURN(int c, Compare3(l, r));
  if (op == "<") return c < 0;
  if (op == ">") return c > 0;
  if (op == "<=") return c <= 0;
  return c >= 0;
}

Result<Value> GetAttr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined: return UndefinedError(obj);
    case Value::Kind::kDict: {
      if (IsDictMethod(name)) return GetMethod(obj, name);
      if (const Value* v = obj.dict().Find(name)) return *v;
      return Value::Undefined("'dict object' has no attribute '" + name + "'");
    }
    case Value::Kind::kNamespace: {
      if (const Value* v = obj.dict().Find(name)) return *v;
      return Value::Undefined("'Namespace' object has no attribute '" + name + "'");
    }
    case Value::Kind::kString:
    case Value::Kind::kList:
    case Value::Kind::kTuple: {
      Value m = GetMethod(obj, name);
      if (!m.is_undefined()) return m;
      return Value::Undefined(std::string("'") + obj.TypeName() + " object' has no attribute '" +
                              name + "'");
    }
    case Value::Kind::kNone: return Value::Undefined("'None' has no attribute '" + name + "'");
    default:
      return Value::Undefined(std::string("'") + obj.TypeName() + " object' has no attribute '" +
                              name + "'");
  }
}

Result<Value> GetItem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return UndefinedError(obj);
  bool int_key = key.is_int() || key.is_bool();
  if (obj.is_sequence_like() || obj.is_string()) {
    if (int_key) {
      int64_t i = key.as_int();
      if (obj.is_string()) {
        std::vector<std::string> cps = SplitCodePoints(obj.str());
        int64_t n = static_cast<int64_t>(cps.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::Undefined("str object has no element " + key.Repr());
        return Value::String(cps[static_cast<size_t>(i)]);
      }
      int64_t n = static_cast<int64_t>(obj.list().size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) {
        return Value::Undefined(std::string(obj.TypeName()) + " object has no element " +
                                key.Repr());
      }
      return obj.list()[static_cast<size_t>(i)];
    }
    if (key.is_string()) return GetAttr(obj, key.str());
    return Value::Undefined(std::string(obj.TypeName()) + " object has no element " + key.Repr());
  }
  if (obj.is_dict() || obj.is_namespace()) {
    if (obj.is_dict()) {
      if (const Value* v = obj.dict().Find(key)) return *v;
    }
    if (key.is_string()) return GetAttr(obj, key.str());
    return Value::Undefined("'dict object' has no attribute " + key.Repr());
  }
  if (key.is_string()) return GetAttr(obj, key.str());
  return Value::Undefined(std::string("'") + obj.TypeName() + " object' has no attribute " +
                          key.Repr());
}

Result<Value> SliceValue(const Value& obj, const Value* start, const Value* stop,
                         const Value* step) {
  if (obj.is_undefined()) return UndefinedError(obj);
  if (!obj.is_string() && !obj.is_sequence_like()) {
    return Value::Undefined(std::string("'") + obj.TypeName() + " object' is not subscriptable");
  }
  auto as_index = [](const Value* v, bool* present, int64_t* out) -> Status {
    *present = v != nullptr && !v->is_none();
    if (!*present) return Status::Ok();
    if (!v->is_int() && !v->is_bool()) {
      return TypeError("slice indices must be integers or None");
    }
    *out = v->as_int();
    return Status::Ok();
  };
  bool has_start, has_stop, has_step;
  int64_t s0 = 0, s1 = 0, st = 1;
  MINT_RETURN_IF_ERROR(as_index(start, &has_start, &s0));
  MINT_RETURN_IF_ERROR(as_index(stop, &has_stop, &s1));
  MINT_RETURN_IF_ERROR(as_index(step, &has_step, &st));
  if (!has_step) st = 1;
  if (st == 0) return Status::InvalidArgument("slice step cannot be zero");
  std::vector<std::string> cps;
  if (obj.is_string()) cps = SplitCodePoints(obj.str());
  int64_t len = static_cast<int64_t>(obj.is_string() ? cps.size() : obj.list().size());
  int64_t lower = st > 0 ? 0 : -1, upper = st > 0 ? len : len - 1;
  auto clamp = [&](bool has, int64_t v, int64_t def) {
    if (!has) return def;
    if (v < 0) v += len;
    return v < lower ? lower : (v > upper ? upper : v);
  };
  int64_t b = clamp(has_start, s0, st > 0 ? lower : upper);
  int64_t e = clamp(has_stop, s1, st > 0 ? upper : lower);
  std::string s;
  List items;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) {
    if (obj.is_string()) {
      s += cps[static_cast<size_t>(i)];
    } else {
      items.push_back(obj.list()[static_cast<size_t>(i)]);
    }
  }
  if (obj.is_string()) return Value::String(std::move(s));
  return obj.is_tuple() ? Value::MakeTuple(std::move(items)) : Value::MakeList(std::move(items));
}

Result<List> Iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kList:
    case Value::Kind::kTuple: return v.list();
    case Value::Kind::kDict: {
      List keys;
      for (auto& [k, val] : v.dict().items) keys.push_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      List chars;
      for (auto& c : SplitCodePoints(v.str())) chars.push_back(Value::String(std::move(c)));
      return chars;
    }
    case Value::Kind::kUndefined: return List{};
    case Value::Kind::kGenerator: {  // one-shot: iterating exhausts it
      List items = std::move(v.list());
      v.list().clear();
      return items;
    }
    default:
      return TypeError(std::string("'") + v.TypeName() + "' object is not iterable");
  }
}

Result<int64_t> Length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kList:
    case Value::Kind::kTuple: return static_cast<int64_t>(v.list().size());
    case Value::Kind::kDict: return static_cast<int64_t>(v.dict().items.size());
    case Value::Kind::kString: return static_cast<int64_t>(CodePointCount(v.str()));
    case Value::Kind::kUndefined: return 0;
    default:
      return TypeError(std::string("object of type '") + v.TypeName() + "' has no len()");
  }
}

}  // namespace mint::tokenizer::jinja
