// Methods of str, list and dict values (Python semantics), exposed as bound callables.
// Mutating methods fail unless RenderOptions::allow_mutation, as in jinja2's
// ImmutableSandboxedEnvironment.
#include <algorithm>
#include <optional>
#include <string>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/ops.h"
#include "tokenizer/jinja/string_util.h"
#include "tokenizer/jinja/utf8.h"

namespace mint::tokenizer::jinja {
namespace {

const char* kStrMethods[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "startswith",
                             "endswith", "replace", "upper", "lower", "title", "capitalize",
                             "find", "rfind", "index", "count", "format", "join", "splitlines",
                             "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper",
                             "removeprefix", "removesuffix", "swapcase", "casefold", "zfill"};
const char* kListMethods[] = {"append", "pop", "insert", "extend", "remove", "reverse", "sort",
                              "clear", "index", "count", "copy"};
const char* kDictMethods[] = {"items", "keys", "values", "get", "pop", "update", "setdefault",
                              "clear", "popitem", "copy"};
const char* kMutating[] = {"append", "pop", "insert", "extend", "remove", "reverse", "sort",
                           "clear", "update", "setdefault", "popitem"};

template <size_t N>
bool In(const char* (&arr)[N], std::string_view name) {
  return std::find(std::begin(arr), std::end(arr), name) != std::end(arr);
}

Status ArgError(const std::string& method, const char* what) {
  return Status::InvalidArgument(method + "() " + what);
}

Result<Value> SplitMethod(const std::string& s, const CallArgs& a, bool from_right) {
  const Value* sep = a.Get(0, "sep");
  const Value* maxv = a.Get(1, "maxsplit");
  int64_t maxsplit = maxv != nullptr ? maxv->as_int() : -1;
  List out;
  if (sep == nullptr || sep->is_none()) {
    // Whitespace split: runs of whitespace separate, no empty strings.
    std::vector<std::string> words;
    std::string text = s;
    if (from_right) {
      std::string cur;
      size_t end = text.size();
      std::vector<std::string> rev;
      while (true) {
        std::string t = Strip(text.substr(0, end), nullptr, false, true);
        if (t.empty()) break;
        if (maxsplit >= 0 && static_cast<int64_t>(rev.size()) == maxsplit) {
          rev.push_back(t);
          break;
        }
        size_t p = t.find_last_of(" \t\n\r\f\v");
        rev.push_back(p == std::string::npos ? t : t.substr(p + 1));
        end = p == std::string::npos ? 0 : p;
      }
      for (auto it = rev.rbegin(); it != rev.rend(); ++it) out.push_back(Value::String(*it));
      return Value::MakeList(std::move(out));
    }
    std::string rest = Strip(text, nullptr, true, false);
    while (!rest.empty()) {
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        out.push_back(Value::String(Strip(rest, nullptr, false, true)));
        break;
      }
      size_t p = rest.find_first_of(" \t\n\r\f\v");
      out.push_back(Value::String(rest.substr(0, p)));
      if (p == std::string::npos) break;
      rest = Strip(rest.substr(p), nullptr, true, false);
    }
    return Value::MakeList(std::move(out));
  }
  if (!sep->is_string()) return ArgError("split", "argument must be str or None");
  if (sep->str().empty()) return Status::InvalidArgument("empty separator");
  std::vector<std::string> parts = SplitOn(s, sep->str());
  if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) > maxsplit + 1) {
    std::vector<std::string> merged;
    auto n = static_cast<size_t>(maxsplit);
    if (!from_right) {
      merged.assign(parts.begin(), parts.begin() + static_cast<long>(n));
      std::string tail = parts[n];
      for (size_t i = n + 1; i < parts.size(); ++i) tail += sep->str() + parts[i];
      merged.push_back(tail);
    } else {
      size_t keep_from = parts.size() - n;
      std::string head = parts[0];
      for (size_t i = 1; i < keep_from; ++i) head += sep->str() + parts[i];
      merged.push_back(head);
      merged.insert(merged.end(), parts.begin() + static_cast<long>(keep_from), parts.end());
    }
    parts = std::move(merged);
  }
  for (auto& p : parts) out.push_back(Value::String(std::move(p)));
  return Value::MakeList(std::move(out));
}

Result<Value> AffixTest(const std::string& s, const CallArgs& a, bool prefix) {
  const Value* arg = a.Get(0, "prefix");
  if (arg == nullptr) return ArgError(prefix ? "startswith" : "endswith", "takes an argument");
  List options = arg->is_tuple() ? arg->list() : List{*arg};
  for (const Value& o : options) {
    if (!o.is_string()) {
      return Status::InvalidArgument(std::string(prefix ? "startswith" : "endswith") +
                                     " first arg must be str or a tuple of str");
    }
    const std::string& x = o.str();
    if (x.size() > s.size()) continue;
    if (prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0) {
      return Value::Bool(true);
    }
  }
  return Value::Bool(false);
}

template <typename Pred>
Value AllChars(const std::string& s, Pred pred) {
  if (s.empty()) return Value::Bool(false);
  for (char c : s) {
    if (!pred(static_cast<unsigned char>(c))) return Value::Bool(false);
  }
  return Value::Bool(true);
}

// The methods that take no argument: case mappings, splitlines and the is*() tests; nullopt for
// any other name.
std::optional<Value> StrNoArgMethod(const std::string& s, const std::string& m) {
  if (m == "upper") return Value::String(AsciiUpper(s));
  if (m == "lower" || m == "casefold") return Value::String(AsciiLower(s));
  if (m == "title") return Value::String(PythonTitle(s));
  if (m == "capitalize") return Value::String(Capitalize(s));
  if (m == "swapcase") {
    std::string out = s;
    for (char& c : out) c = std::isupper(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : static_cast<char>(std::toupper(c));
    return Value::String(out);
  }
  if (m == "splitlines") {
    List out;
    for (auto& l : SplitLines(s)) out.push_back(Value::String(l));
    return Value::MakeList(std::move(out));
  }
  if (m == "isdigit") return AllChars(s, [](unsigned char c) { return std::isdigit(c) != 0; });
  if (m == "isalpha") return AllChars(s, [](unsigned char c) { return std::isalpha(c) != 0; });
  if (m == "isalnum") return AllChars(s, [](unsigned char c) { return std::isalnum(c) != 0; });
  if (m == "isspace") return AllChars(s, [](unsigned char c) { return std::isspace(c) != 0; });
  if (m == "islower" || m == "isupper") {
    bool cased = false, ok = true;
    for (char c : s) {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        cased = true;
        ok = ok && (m == "islower" ? std::islower(static_cast<unsigned char>(c)) != 0
                                   : std::isupper(static_cast<unsigned char>(c)) != 0);
      }
    }
    return Value::Bool(cased && ok);
  }
  return std::nullopt;
}

// sep.join(iterable of str).
Result<Value> StrJoin(const std::string& sep, const Value* x) {
  if (x == nullptr) return ArgError("join", "takes exactly one argument");
  MINT_ASSIGN_OR_RETURN(List items, Iterate(*x));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string()) {
      return Status::InvalidArgument("sequence item " + std::to_string(i) +
                                     ": expected str instance, " + items[i].TypeName() + " found");
    }
    if (i > 0) out += sep;
    out += items[i].str();
  }
  return Value::String(std::move(out));
}

// The methods whose first argument is a substring: replace, find / rfind / index, count and
// removeprefix / removesuffix.
Result<Value> StrSubstringMethod(const std::string& s, const std::string& m, const std::string& sub,
                                 CallArgs& a) {
  if (m == "replace") {
    const Value* repl = a.Get(1, "new");
    if (repl == nullptr || !repl->is_string()) return ArgError("replace", "argument 2 must be str");
    const Value* count = a.Get(2, "count");
    return Value::String(Replace(s, sub, repl->str(), count != nullptr ? count->as_int() : -1));
  }
  if (m == "find" || m == "rfind" || m == "index") {
    size_t p = m == "rfind" ? s.rfind(sub) : s.find(sub);
    if (p == std::string::npos) {
      if (m == "index") return Status::InvalidArgument("substring not found");
      return Value::Int(-1);
    }
    return Value::Int(CodePointIndex(s, p));
  }
  if (m == "count") {
    if (sub.empty()) return Value::Int(static_cast<int64_t>(CodePointCount(s)) + 1);
    int64_t n = 0;
    for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
    return Value::Int(n);
  }
  if (m == "removeprefix") {
    return Value::String(s.compare(0, sub.size(), sub) == 0 ? s.substr(sub.size()) : s);
  }
  if (m == "removesuffix") {
    bool has = sub.size() <= s.size() && s.compare(s.size() - sub.size(), sub.size(), sub) == 0;
    return Value::String(has && !sub.empty() ? s.substr(0, s.size() - sub.size()) : s);
  }
  return Status::Unsupported("str." + m + "() is not supported");
}

Result<Value> StrMethod(const std::string& s, const std::string& m, CallArgs& a) {
  if (m == "strip" || m == "lstrip" || m == "rstrip") {
    const Value* chars = a.Get(0, "chars");
    if (chars != nullptr && chars->is_none()) chars = nullptr;
    return Value::String(Strip(s, chars, m != "rstrip", m != "lstrip"));
  }
  if (m == "split" || m == "rsplit") return SplitMethod(s, a, m == "rsplit");
  if (m == "startswith" || m == "endswith") return AffixTest(s, a, m == "startswith");
  if (m == "format") {
    MINT_ASSIGN_OR_RETURN(std::string r, StrFormat(s, a));
    return Value::String(std::move(r));
  }
  if (std::optional<Value> v = StrNoArgMethod(s, m)) return *std::move(v);
  const Value* x = a.Get(0, "x");
  if (m == "join") return StrJoin(s, x);
  if (x == nullptr || !x->is_string()) return ArgError(m, "argument must be str");
  return StrSubstringMethod(s, m, x->str(), a);
}

Result<Value> ListMethod(const Value& self, const std::string& m, CallArgs& a) {
  List& l = self.list();
  const Value* x = a.Get(0, "x");
  if (m == "append") {
    if (x == nullptr) return ArgError("append", "takes exactly one argument");
    l.push_back(*x);
    return Value::None();
  }
  if (m == "pop") {
    if (l.empty()) return Status::InvalidArgument("pop from empty list");
    int64_t i = x != nullptr ? x->as_int() : -1;
    int64_t n = static_cast<int64_t>(l.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Status::InvalidArgument("pop index out of range");
    Value v = l[static_cast<size_t>(i)];
    l.erase(l.begin() + i);
    return v;
  }
  if (m == "insert") {
    const Value* v = a.Get(1, "object");
    if (x == nullptr || v == nullptr) return ArgError("insert", "expected 2 arguments");
    int64_t n = static_cast<int64_t>(l.size());
    int64_t i = x->as_int();
    if (i < 0) i = std::max<int64_t>(0, i + n);
    l.insert(l.begin() + std::min(i, n), *v);
    return Value::None();
  }
  if (m == "extend") {
    if (x == nullptr) return ArgError("extend", "takes exactly one argument");
    MINT_ASSIGN_OR_RETURN(List more, Iterate(*x));
    l.insert(l.end(), more.begin(), more.end());
    return Value::None();
  }
  if (m == "reverse") {
    std::reverse(l.begin(), l.end());
    return Value::None();
  }
  if (m == "clear") {
    l.clear();
    return Value::None();
  }
  if (m == "copy") return Value::MakeList(l);
  if (x == nullptr) return ArgError(m, "takes exactly one argument");
  if (m == "count") {
    return Value::Int(std::count_if(l.begin(), l.end(), [&](const Value& v) { return v.Equals(*x); }));
  }
  for (size_t i = 0; i < l.size(); ++i) {
    if (!l[i].Equals(*x)) continue;
    if (m == "index") return Value::Int(static_cast<int64_t>(i));
    l.erase(l.begin() + static_cast<long>(i));  // remove
    return Value::None();
  }
  if (m == "index" || m == "remove") return Status::InvalidArgument("x not in list");
  return Status::Unsupported("list." + m + "() is not supported");
}

Result<Value> DictMethod(const Value& self, const std::string& m, CallArgs& a) {
  Dict& d = self.dict();
  if (m == "items" || m == "keys" || m == "values") {
    List out;
    for (auto& [k, v] : d.items) {
      out.push_back(m == "items" ? Value::MakeTuple({k, v}) : (m == "keys" ? k : v));
    }
    return Value::MakeList(std::move(out));
  }
  const Value* key = a.Get(0, "key");
  const Value* def = a.Get(1, "default");
  if (m == "get") {
    if (key == nullptr) return ArgError("get", "expected at least 1 argument");
    if (const Value* v = d.Find(*key)) return *v;
    return def != nullptr ? *def : Value::None();
  }
  if (m == "copy") {
    Value c = Value::MakeDict();
    c.dict().items = d.items;
    return c;
  }
  if (m == "clear") {
    d.items.clear();
    return Value::None();
  }
  if (m == "update") {
    if (key != nullptr && key->is_dict()) {
      for (auto& [k, v] : key->dict().items) d.Set(k, v);
    }
    for (auto& [k, v] : a.kwargs) d.Set(Value::String(k), v);
    return Value::None();
  }
  if (m == "popitem") {
    if (d.items.empty()) return Status::InvalidArgument("popitem(): dictionary is empty");
    Value t = Value::MakeTuple({d.items.back().first, d.items.back().second});
    d.items.pop_back();
    return t;
  }
  if (key == nullptr) return ArgError(m, "expected at least 1 argument");
  if (m == "setdefault") {
    if (const Value* v = d.Find(*key)) return *v;
    Value v = def != nullptr ? *def : Value::None();
    d.Set(*key, v);
    return v;
  }
  // pop
  if (const Value* v = d.Find(*key)) {
    Value out = *v;
    d.Erase(*key);
    return out;
  }
  if (def != nullptr) return *def;
  return Status::InvalidArgument("KeyError: " + key->Repr());
}

class BoundMethod : public Callable {
 public:
  BoundMethod(Value self, std::string name) : self_(std::move(self)), name_(std::move(name)) {}

  Result<Value> Call(Interpreter& interp, CallArgs& args, int line) override {
    bool container = self_.is_sequence_like() || self_.is_dict();
    if (container && In(kMutating, name_)) {
      if (!interp.options().allow_mutation || self_.is_tuple()) {
        return Status::InvalidArgument("access to attribute '" + name_ + "' of '" +
                                       self_.TypeName() + "' object is unsafe.");
      }
      interp.TrackForCleanup(self_);
    }
    if (self_.is_string()) return StrMethod(self_.str(), name_, args);
    if (self_.is_sequence_like()) return ListMethod(self_, name_, args);
    return DictMethod(self_, name_, args);
  }
  std::string Repr() const override {
    return "<built-in method " + name_ + " of " + self_.TypeName() + " object>";
  }

 private:
  Value self_;
  std::string name_;
};

}  // namespace

bool IsDictMethod(std::string_view name) { return In(kDictMethods, name); }

Value GetMethod(const Value& receiver, const std::string& name) {
  bool ok = (receiver.is_string() && In(kStrMethods, name)) ||
            (receiver.is_sequence_like() && In(kListMethods, name)) ||
            (receiver.is_dict() && In(kDictMethods, name));
  if (!ok) return Value::Undefined();
  return Value::MakeCallable(std::make_shared<BoundMethod>(receiver, name));
}

}  // namespace mint::tokenizer::jinja
