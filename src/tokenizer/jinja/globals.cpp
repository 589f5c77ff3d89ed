// Global functions of the chat-template environment; see globals.h.
#include "tokenizer/jinja/globals.h"

#include <ctime>
#include <functional>

namespace mint::tokenizer::jinja {
namespace {

// jinja2.sandbox.MAX_RANGE
constexpr int64_t kMaxRange = 100000;

class NativeFn : public Callable {
 public:
  using Fn = std::function<Result<Value>(Interpreter&, CallArgs&, int)>;
  NativeFn(std::string name, Fn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  Result<Value> Call(Interpreter& in, CallArgs& args, int line) override {
    return fn_(in, args, line);
  }
  std::string Repr() const override { return "<function " + name_ + ">"; }

 private:
  std::string name_;
  Fn fn_;
};

Result<Value> Range(Interpreter&, CallArgs& a, int) {
  if (a.positional.empty() || a.positional.size() > 3 || !a.kwargs.empty()) {
    return Status::InvalidArgument("range expected 1 to 3 integer arguments");
  }
  for (const Value& v : a.positional) {
    if (!v.is_int() && !v.is_bool()) {
      return Status::InvalidArgument(std::string("'") + v.TypeName() +
                                     "' object cannot be interpreted as an integer");
    }
  }
  int64_t start = 0, stop = 0, step = 1;
  if (a.positional.size() == 1) {
    stop = a.positional[0].as_int();
  } else {
    start = a.positional[0].as_int();
    stop = a.positional[1].as_int();
    if (a.positional.size() == 3) step = a.positional[2].as_int();
  }
  if (step == 0) return Status::InvalidArgument("range() arg 3 must not be zero");
  List out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(out.size()) >= kMaxRange) {
      return Status::InvalidArgument("Range too big. The sandbox blocks ranges larger than "
                                     "MAX_RANGE (100000).");
    }
    out.push_back(Value::Int(i));
    if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
  }
  return Value::MakeList(std::move(out));
}

Result<Value> MakeMapping(Interpreter& in, CallArgs& a, bool ns) {
  Value d = ns ? Value::MakeNamespace() : Value::MakeDict();
  if (a.positional.size() > 1) return Status::InvalidArgument("expected at most 1 argument");
  if (!a.positional.empty()) {
    const Value& init = a.positional[0];
    if (!init.is_dict()) return Status::InvalidArgument("cannot convert to dictionary");
    d.dict().items = init.dict().items;
  }
  for (auto& [k, v] : a.kwargs) d.dict().Set(Value::String(k), v);
  in.TrackForCleanup(d);
  return d;
}

Result<Value> StrftimeNow(const GlobalsOptions& o, CallArgs& a) {
  if (a.positional.empty() || !a.positional[0].is_string()) {
    return Status::InvalidArgument("strftime_now expects a format string");
  }
  std::tm tm{};
  if (o.fixed_unix_seconds.has_value()) {
    std::time_t t = static_cast<std::time_t>(*o.fixed_unix_seconds);
    gmtime_r(&t, &tm);
  } else {
    std::time_t t = std::time(nullptr);
    localtime_r(&t, &tm);
  }
  const std::string& fmt = a.positional[0].str();
  if (fmt.empty()) return Value::String("");
  std::string buf(256 + fmt.size() * 16, '\0');
  size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
  buf.resize(n);
  return Value::String(std::move(buf));
}

}  // namespace

ScopePtr MakeGlobals(const GlobalsOptions& options) {
  auto g = std::make_shared<Scope>(nullptr);
  auto add = [&](const std::string& name, NativeFn::Fn fn) {
    g->Set(name, Value::MakeCallable(std::make_shared<NativeFn>(name, std::move(fn))));
  };
  add("range", Range);
  add("namespace", [](Interpreter& in, CallArgs& a, int) { return MakeMapping(in, a, true); });
  add("dict", [](Interpreter& in, CallArgs& a, int) { return MakeMapping(in, a, false); });
  add("raise_exception", [](Interpreter&, CallArgs& a, int line) -> Result<Value> {
    std::string msg = a.positional.empty() ? "" : a.positional[0].ToString();
    return Status::InvalidArgument("template error at line " + std::to_string(line) +
                                   ": raise_exception: " + msg);
  });
  add("strftime_now", [options](Interpreter&, CallArgs& a, int) { return StrftimeNow(options, a); });
  return g;
}

}  // namespace mint::tokenizer::jinja
