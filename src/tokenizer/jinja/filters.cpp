// Built-in Jinja filters (jinja2/filters.py semantics, plus transformers' tojson).
#include <algorithm>
#include <cmath>
#include <functional>
#include <unordered_map>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/ops.h"
#include "tokenizer/jinja/string_util.h"
#include "tokenizer/jinja/utf8.h"

namespace mint::tokenizer::jinja {
namespace {

using FilterFn = std::function<Result<Value>(Interpreter&, const Value&, CallArgs&)>;

Value ArgOr(const CallArgs& a, size_t i, std::string_view name, Value def) {
  const Value* v = a.Get(i, name);
  return v != nullptr ? *v : std::move(def);
}

// jinja2's make_attrgetter: "a.b.0" walks getitem per part (digits become indices).
Result<Value> GetPath(const Value& obj, const Value& attribute) {
  if (!attribute.is_string()) return GetItem(obj, attribute);
  Value cur = obj;
  for (const std::string& part : SplitOn(attribute.str(), ".")) {
    Value key = Value::String(part);
    if (!part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
      key = Value::Int(std::stoll(part));
    }
    MINT_ASSIGN_OR_RETURN(cur, GetItem(cur, key));
  }
  return cur;
}

Value LowerIfString(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::String(AsciiLower(v.str()));
  return v;
}

Result<Value> SortFilter(Interpreter&, const Value& in, CallArgs& a) {
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  bool reverse = ArgOr(a, 0, "reverse", Value::Bool(false)).Truthy();
  bool cs = ArgOr(a, 1, "case_sensitive", Value::Bool(false)).Truthy();
  Value attr = ArgOr(a, 2, "attribute", Value::None());
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& v : items) {
    Value key = v;
    if (!attr.is_none()) {
      MINT_ASSIGN_OR_RETURN(key, GetPath(v, attr));
    }
    keyed.emplace_back(LowerIfString(key, cs), std::move(v));
  }
  Status err;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    auto c = reverse ? Compare3(y.first, x.first) : Compare3(x.first, y.first);
    if (!c.ok()) {
      if (err.ok()) err = c.status();
      return false;
    }
    return *c < 0;
  });
  MINT_RETURN_IF_ERROR(err);
  List out;
  for (auto& [k, v] : keyed) out.push_back(std::move(v));
  return Value::MakeList(std::move(out));
}

Result<Value> DictSort(Interpreter&, const Value& in, CallArgs& a) {
  if (!in.is_dict()) return Status::InvalidArgument("dictsort expects a mapping");
  bool cs = ArgOr(a, 0, "case_sensitive", Value::Bool(false)).Truthy();
  Value by = ArgOr(a, 1, "by", Value::String("key"));
  bool reverse = ArgOr(a, 2, "reverse", Value::Bool(false)).Truthy();
  size_t pos = by.is_string() && by.str() == "value" ? 1 : 0;
  List pairs;
  for (auto& [k, v] : in.dict().items) pairs.push_back(Value::MakeTuple({k, v}));
  Status err;
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    Value kx = LowerIfString(x.list()[pos], cs), ky = LowerIfString(y.list()[pos], cs);
    auto c = reverse ? Compare3(ky, kx) : Compare3(kx, ky);
    if (!c.ok()) {
      if (err.ok()) err = c.status();
      return false;
    }
    return *c < 0;
  });
  MINT_RETURN_IF_ERROR(err);
  return Value::MakeList(std::move(pairs));
}

Result<Value> MinMax(const Value& in, CallArgs& a, bool want_max) {
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  bool cs = ArgOr(a, 0, "case_sensitive", Value::Bool(false)).Truthy();
  Value attr = ArgOr(a, 1, "attribute", Value::None());
  if (items.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key;
  for (size_t i = 0; i < items.size(); ++i) {
    Value key = items[i];
    if (!attr.is_none()) {
      MINT_ASSIGN_OR_RETURN(key, GetPath(items[i], attr));
    }
    key = LowerIfString(key, cs);
    if (i == 0) {
      best_key = key;
      continue;
    }
    MINT_ASSIGN_OR_RETURN(int c, Compare3(key, best_key));
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = key;
    }
  }
  return items[best];
}

Result<Value> Unique(Interpreter&, const Value& in, CallArgs& a) {
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  bool cs = ArgOr(a, 0, "case_sensitive", Value::Bool(false)).Truthy();
  Value attr = ArgOr(a, 1, "attribute", Value::None());
  List out, seen;
  for (Value& v : items) {
    Value key = v;
    if (!attr.is_none()) {
      MINT_ASSIGN_OR_RETURN(key, GetPath(v, attr));
    }
    key = LowerIfString(key, cs);
    bool dup = false;
    for (const Value& s : seen) dup = dup || s.Equals(key);
    if (dup) continue;
    seen.push_back(std::move(key));
    out.push_back(std::move(v));
  }
  return Value::MakeGenerator(std::move(out));
}

Result<Value> Join(Interpreter&, const Value& in, CallArgs& a) {
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  Value sep = ArgOr(a, 0, "d", Value::String(""));
  Value attr = ArgOr(a, 1, "attribute", Value::None());
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep.ToString();
    Value v = items[i];
    if (!attr.is_none()) {
      MINT_ASSIGN_OR_RETURN(v, GetPath(v, attr));
    }
    out += v.ToString();
  }
  return Value::String(std::move(out));
}

Result<Value> Indent(Interpreter&, const Value& in, CallArgs& a) {
  Value width = ArgOr(a, 0, "width", Value::Int(4));
  bool first = ArgOr(a, 1, "first", Value::Bool(false)).Truthy();
  bool blank = ArgOr(a, 2, "blank", Value::Bool(false)).Truthy();
  std::string pad = width.is_string() ? width.str()
                                      : std::string(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(width.as_int(), 4096))), ' ');
  std::vector<std::string> lines = SplitLines(in.ToString() + "\n");
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i > 0 ? "\n" + pad : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n" + (lines[i].empty() ? "" : pad + lines[i]);
    }
  }
  if (first) rv = pad + rv;
  return Value::String(std::move(rv));
}

Result<Value> Round(Interpreter&, const Value& in, CallArgs& a) {
  int64_t precision = ArgOr(a, 0, "precision", Value::Int(0)).as_int();
  std::string method = ArgOr(a, 1, "method", Value::String("common")).ToString();
  if (!in.is_number()) {
    return Status::InvalidArgument(std::string("type ") + in.TypeName() +
                                   " doesn't define __round__ method");
  }
  if (method == "common" && !in.is_float()) return Value::Int(in.as_int());
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = in.as_float() * scale;
  double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
  if (method != "common" && method != "ceil" && method != "floor") {
    return Status::InvalidArgument("method must be common, ceil or floor");
  }
  return Value::Float(r / scale);
}

Result<Value> ToIntFilter(Interpreter&, const Value& in, CallArgs& a) {
  Value def = ArgOr(a, 0, "default", Value::Int(0));
  if (in.is_number()) {
    if (!in.is_float()) return Value::Int(in.as_int());
    if (!std::isfinite(in.as_float())) return Status::InvalidArgument("cannot convert float to integer");
    return Value::Int(static_cast<int64_t>(in.as_float()));
  }
  if (in.is_string()) {
    int64_t i;
    if (ParsePythonInt(in.str(), &i)) return Value::Int(i);
    double f;
    if (ParsePythonFloat(in.str(), &f) && std::isfinite(f) && std::fabs(f) < 9.2e18) {
      return Value::Int(static_cast<int64_t>(f));
    }
  }
  return def;
}

Result<Value> ToFloatFilter(Interpreter&, const Value& in, CallArgs& a) {
  Value def = ArgOr(a, 0, "default", Value::Float(0.0));
  if (in.is_number()) return Value::Float(in.as_float());
  double f;
  if (in.is_string() && ParsePythonFloat(in.str(), &f)) return Value::Float(f);
  return def;
}

Result<Value> MapFilter(Interpreter& interp, const Value& in, CallArgs& a) {
  if (!in.Truthy()) return Value::MakeGenerator({});  // jinja2: `if value:`
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  List out;
  if (const Value* attr = a.Kwarg("attribute")) {
    const Value* def = a.Kwarg("default");
    for (Value& v : items) {
      MINT_ASSIGN_OR_RETURN(Value r, GetPath(v, *attr));
      if (r.is_undefined() && def != nullptr) r = *def;
      out.push_back(std::move(r));
    }
    return Value::MakeGenerator(std::move(out));
  }
  if (a.positional.empty() || !a.positional[0].is_string()) {
    return Status::InvalidArgument("map requires a filter name or attribute=");
  }
  std::string name = a.positional[0].str();
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.kwargs = a.kwargs;
  for (Value& v : items) {
    MINT_RETURN_IF_ERROR(interp.Tick());
    MINT_ASSIGN_OR_RETURN(Value r, ApplyFilter(interp, name, v, rest));
    out.push_back(std::move(r));
  }
  return Value::MakeGenerator(std::move(out));
}

// select / reject / selectattr / rejectattr.
Result<Value> SelectFilter(Interpreter& interp, const Value& in, CallArgs& a, bool keep,
                           bool by_attr) {
  if (!in.Truthy()) return Value::MakeGenerator({});  // jinja2: `if value:`
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  size_t first = by_attr ? 1 : 0;
  if (by_attr && a.positional.empty()) return Status::InvalidArgument("missing attribute");
  std::string test;
  if (a.positional.size() > first) test = a.positional[first].ToString();
  CallArgs rest;
  if (a.positional.size() > first + 1) {
    rest.positional.assign(a.positional.begin() + static_cast<long>(first) + 1, a.positional.end());
  }
  rest.kwargs = a.kwargs;
  List out;
  for (Value& v : items) {
    MINT_RETURN_IF_ERROR(interp.Tick());
    Value probe = v;
    if (by_attr) {
      MINT_ASSIGN_OR_RETURN(probe, GetPath(v, a.positional[0]));
    }
    bool pass;
    if (test.empty()) {
      pass = probe.Truthy();
    } else {
      MINT_ASSIGN_OR_RETURN(pass, ApplyTest(interp, test, probe, rest));
    }
    if (pass == keep) out.push_back(std::move(v));
  }
  return Value::MakeGenerator(std::move(out));
}

Result<Value> Batch(Interpreter&, const Value& in, CallArgs& a) {
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  int64_t n = ArgOr(a, 0, "linecount", Value::Int(1)).as_int();
  if (n <= 0) return Status::InvalidArgument("batch size must be positive");
  const Value* fill = a.Get(1, "fill_with");
  List out, cur;
  for (Value& v : items) {
    cur.push_back(std::move(v));
    if (static_cast<int64_t>(cur.size()) == n) {
      out.push_back(Value::MakeList(std::move(cur)));
      cur.clear();
    }
  }
  if (!cur.empty()) {
    if (fill != nullptr && !fill->is_none()) {
      while (static_cast<int64_t>(cur.size()) < n) cur.push_back(*fill);
    }
    out.push_back(Value::MakeList(std::move(cur)));
  }
  return Value::MakeGenerator(std::move(out));
}

Result<Value> ToJsonFilter(Interpreter&, const Value& in, CallArgs& a) {
  JsonOptions o;
  Value ensure_ascii = ArgOr(a, 0, "ensure_ascii", Value::Bool(false));
  Value indent = ArgOr(a, 1, "indent", Value::None());
  Value separators = ArgOr(a, 2, "separators", Value::None());
  o.sort_keys = ArgOr(a, 3, "sort_keys", Value::Bool(false)).Truthy();
  o.ensure_ascii = ensure_ascii.Truthy();
  if (indent.is_string()) {
    o.indent_is_string = true;
    o.indent_str = indent.str();
    o.item_sep = ",";
  } else if (!indent.is_none()) {
    if (!indent.is_number() || indent.is_float()) return Status::InvalidArgument("tojson: bad indent");
    o.indent = static_cast<int>(std::clamp<int64_t>(indent.as_int(), 0, 1024));
    o.item_sep = ",";
  }
  if (!separators.is_none()) {
    if (!separators.is_sequence_like() || separators.list().size() != 2 ||
        !separators.list()[0].is_string() || !separators.list()[1].is_string()) {
      return Status::InvalidArgument("tojson: separators must be a pair of strings");
    }
    o.item_sep = separators.list()[0].str();
    o.key_sep = separators.list()[1].str();
  }
  MINT_ASSIGN_OR_RETURN(std::string s, ToJson(in, o));
  return Value::String(std::move(s));
}

Result<Value> Items(Interpreter&, const Value& in, CallArgs&) {
  if (in.is_undefined()) return Value::MakeGenerator({});
  if (!in.is_dict()) return Status::InvalidArgument("Can only get item pairs from a mapping.");
  List out;
  for (auto& [k, v] : in.dict().items) out.push_back(Value::MakeTuple({k, v}));
  return Value::MakeGenerator(std::move(out));
}

Result<Value> Sum(Interpreter&, const Value& in, CallArgs& a) {
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  Value attr = ArgOr(a, 0, "attribute", Value::None());
  Value acc = ArgOr(a, 1, "start", Value::Int(0));
  for (Value& v : items) {
    Value x = v;
    if (!attr.is_none()) {
      MINT_ASSIGN_OR_RETURN(x, GetPath(v, attr));
    }
    MINT_ASSIGN_OR_RETURN(acc, BinaryOp("+", acc, x));
  }
  return acc;
}

Result<Value> Abs(Interpreter&, const Value& in, CallArgs&) {
  if (in.is_float()) return Value::Float(std::fabs(in.as_float()));
  if (in.is_number()) {
    return in.as_int() == INT64_MIN ? Value::Float(-in.as_float())
                                    : Value::Int(std::llabs(in.as_int()));
  }
  return Status::InvalidArgument(std::string("bad operand type for abs(): '") + in.TypeName() +
                                 "'");
}

Result<Value> Default(Interpreter&, const Value& in, CallArgs& a) {
  Value def = ArgOr(a, 0, "default_value", Value::String(""));
  bool boolean = ArgOr(a, 1, "boolean", Value::Bool(false)).Truthy();
  if (in.is_undefined() || (boolean && !in.Truthy())) return def;
  return in;
}

Result<Value> Escape(Interpreter&, const Value& in, CallArgs&) {
  if (in.is_markup()) return in;
  return Value::Markup(HtmlEscape(in.ToString()));
}

Result<Value> First(Interpreter&, const Value& in, CallArgs&) {
  if (in.is_generator()) {  // next(iter(gen)) consumes one item
    if (in.list().empty()) return Value::Undefined("No first item, sequence was empty.");
    Value v = in.list().front();
    in.list().erase(in.list().begin());
    return v;
  }
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  if (items.empty()) return Value::Undefined("No first item, sequence was empty.");
  return items.front();
}

Result<Value> Format(Interpreter&, const Value& in, CallArgs& a) {
  if (!a.kwargs.empty() && !a.positional.empty()) {
    return Status::InvalidArgument(
        "can't handle positional and keyword arguments at the same time");
  }
  Value args = Value::MakeTuple(a.positional);
  if (!a.kwargs.empty()) {
    args = Value::MakeDict();
    for (auto& [k, v] : a.kwargs) args.dict().Set(Value::String(k), v);
  }
  MINT_ASSIGN_OR_RETURN(std::string s, PercentFormat(in.ToString(), args));
  return Value::String(std::move(s));
}

Result<Value> Last(Interpreter&, const Value& in, CallArgs&) {
  if (in.is_generator()) return Status::InvalidArgument("'generator' object is not reversible");
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  if (items.empty()) return Value::Undefined("No last item, sequence was empty.");
  return items.back();
}

Result<Value> LengthFilter(Interpreter&, const Value& in, CallArgs&) {
  MINT_ASSIGN_OR_RETURN(int64_t n, Length(in));
  return Value::Int(n);
}

Result<Value> ListFilter(Interpreter&, const Value& in, CallArgs&) {
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  return Value::MakeList(std::move(items));
}

Result<Value> ReplaceFilter(Interpreter&, const Value& in, CallArgs& a) {
  int64_t count = ArgOr(a, 2, "count", Value::Int(-1)).as_int();
  return Value::String(Replace(in.ToString(), ArgOr(a, 0, "old", Value::String("")).ToString(),
                               ArgOr(a, 1, "new", Value::String("")).ToString(), count));
}

Result<Value> Reverse(Interpreter&, const Value& in, CallArgs&) {
  if (in.is_string()) {
    auto cps = SplitCodePoints(in.str());
    std::string out;
    for (auto it = cps.rbegin(); it != cps.rend(); ++it) out += *it;
    return Value::String(std::move(out));
  }
  bool was_generator = in.is_generator();
  MINT_ASSIGN_OR_RETURN(List items, Iterate(in));
  std::reverse(items.begin(), items.end());
  // reversed(seq) is an iterator; a generator falls back to a reversed list.
  if (was_generator) return Value::MakeList(std::move(items));
  return Value::MakeGenerator(std::move(items));
}

Result<Value> StringFilter(Interpreter&, const Value& in, CallArgs&) {
  if (in.is_string()) return in;  // soft_str keeps Markup
  return Value::String(in.ToString());
}

Result<Value> Trim(Interpreter&, const Value& in, CallArgs& a) {
  const Value* chars = a.Get(0, "chars");
  return Value::String(
      Strip(in.ToString(), chars != nullptr && !chars->is_none() ? chars : nullptr, true, true));
}

// Filters that apply one string -> string function.
template <std::string (*kFn)(const std::string&)>
Result<Value> StringFn(Interpreter&, const Value& in, CallArgs&) {
  return Value::String(kFn(in.ToString()));
}

template <bool kMax>
Result<Value> MinMaxFilter(Interpreter&, const Value& in, CallArgs& a) {
  return MinMax(in, a, kMax);
}

// select / reject / selectattr / rejectattr.
template <bool kSelect, bool kAttr>
Result<Value> Select(Interpreter& i, const Value& in, CallArgs& a) {
  return SelectFilter(i, in, a, kSelect, kAttr);
}

const std::unordered_map<std::string, FilterFn>& Filters() {
  static const auto* filters = new std::unordered_map<std::string, FilterFn>{
      {"abs", Abs},
      {"attr",
       [](Interpreter&, const Value& in, CallArgs& a) -> Result<Value> {
         return GetAttr(in, ArgOr(a, 0, "name", Value::String("")).ToString());
       }},
      {"batch", Batch},
      {"capitalize", StringFn<Capitalize>},
      {"count", LengthFilter},
      {"default", Default},
      {"dictsort", DictSort},
      {"escape", Escape},
      {"first", First},
      {"float", ToFloatFilter},
      {"format", Format},
      {"indent", Indent},
      {"int", ToIntFilter},
      {"items", Items},
      {"join", Join},
      {"last", Last},
      {"length", LengthFilter},
      {"list", ListFilter},
      {"lower", StringFn<AsciiLower>},
      {"map", MapFilter},
      {"max", MinMaxFilter<true>},
      {"min", MinMaxFilter<false>},
      {"reject", Select<false, false>},
      {"rejectattr", Select<false, true>},
      {"replace", ReplaceFilter},
      {"reverse", Reverse},
      {"round", Round},
      {"safe",
       [](Interpreter&, const Value& in, CallArgs&) -> Result<Value> {
         return Value::Markup(in.ToString());
       }},
      {"select", Select<true, false>},
      {"selectattr", Select<true, true>},
      {"sort", SortFilter},
      {"string", StringFilter},
      {"sum", Sum},
      {"title", StringFn<JinjaTitle>},
      {"tojson", ToJsonFilter},
      {"trim", Trim},
      {"unique", Unique},
      {"upper", StringFn<AsciiUpper>},
      {"wordcount",
       [](Interpreter&, const Value& in, CallArgs&) -> Result<Value> {
         return Value::Int(WordCount(in.ToString()));
       }},
  };
  return *filters;
}

std::string_view Canonical(std::string_view name) {
  if (name == "d") return "default";
  if (name == "e") return "escape";
  return name;
}

}  // namespace

bool IsKnownFilter(std::string_view name) {
  return Filters().count(std::string(Canonical(name))) > 0;
}

Result<Value> ApplyFilter(Interpreter& interp, std::string_view name, const Value& input,
                          CallArgs& args) {
  auto it = Filters().find(std::string(Canonical(name)));
  if (it == Filters().end()) {
    return Status::InvalidArgument("no filter named '" + std::string(name) + "'");
  }
  // Filters that need a real value fail on undefined the way jinja2's do.
  static const char* kStrict[] = {"abs", "round", "batch", "dictsort", "tojson"};
  for (const char* s : kStrict) {
    if (it->first == s && input.is_undefined()) return UndefinedError(input);
  }
  return it->second(interp, input, args);
}

}  // namespace mint::tokenizer::jinja
