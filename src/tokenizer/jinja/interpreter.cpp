// Jinja interpreter: expression evaluation and statement execution; see interpreter.h.
#include "tokenizer/jinja/interpreter.h"

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/ops.h"

namespace mint::tokenizer::jinja {

const Value* Scope::Lookup(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent_.get()) {
    for (auto it = s->vars_.rbegin(); it != s->vars_.rend(); ++it) {
      if (it->first == name) return &it->second;
    }
  }
  return nullptr;
}

void Scope::Set(const std::string& name, Value value) {
  for (auto& [k, v] : vars_) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars_.emplace_back(name, std::move(value));
}

Status AtLine(const Status& status, int line) {
  if (status.ok() || status.message().rfind("template ", 0) == 0) return status;
  return Status(status.code(), "template error at line " + std::to_string(line) + ": " +
                                   status.message());
}

Status UndefinedError(const Value& undefined) {
  return Status::InvalidArgument(undefined.str().empty() ? "value is undefined"
                                                         : undefined.str());
}

namespace {

// Clears a scope when a frame ends, so macros stored in it release their closure.
class ScopeCloser {
 public:
  explicit ScopeCloser(ScopePtr s) : s_(std::move(s)) {}
  ~ScopeCloser() { s_->Clear(); }
  ScopeCloser(const ScopeCloser&) = delete;
  ScopeCloser& operator=(const ScopeCloser&) = delete;

 private:
  ScopePtr s_;
};

// A {% macro %}: renders its body in a fresh scope whose parent is the defining scope.
class MacroFn : public Callable {
 public:
  MacroFn(const Stmt* def, ScopePtr closure) : def_(def), closure_(std::move(closure)) {}

  Result<Value> Call(Interpreter& in, CallArgs& args, int line) override {
    const auto& params = def_->params;
    if (args.positional.size() > params.size()) {
      return Status::InvalidArgument("macro '" + def_->name + "' takes not more than " +
                                     std::to_string(params.size()) + " argument(s)");
    }
    auto scope = std::make_shared<Scope>(closure_);
    ScopeCloser closer(scope);
    std::vector<bool> bound(params.size(), false);
    for (size_t i = 0; i < args.positional.size(); ++i) {
      scope->Set(params[i], args.positional[i]);
      bound[i] = true;
    }
    for (auto& [k, v] : args.kwargs) {
      size_t i = 0;
      while (i < params.size() && params[i] != k) ++i;
      if (i == params.size()) {
        if (k == "caller") {
          scope->Set("caller", v);
          continue;
        }
        return Status::InvalidArgument("macro '" + def_->name +
                                       "' takes no keyword argument '" + k + "'");
      }
      if (bound[i]) {
        return Status::InvalidArgument("macro '" + def_->name + "' got multiple values for "
                                       "argument '" + k + "'");
      }
      scope->Set(params[i], v);
      bound[i] = true;
    }
    for (size_t i = 0; i < params.size(); ++i) {
      if (bound[i]) continue;
      if (def_->defaults[i] != nullptr) {
        MINT_ASSIGN_OR_RETURN(Value d, in.Eval(*def_->defaults[i], scope));
        scope->Set(params[i], std::move(d));
      } else {
        scope->Set(params[i], Value::Undefined("parameter '" + params[i] + "' was not provided"));
      }
    }
    MINT_RETURN_IF_ERROR(in.EnterCall());
    auto out = in.RenderBody(def_->body, scope);
    in.LeaveCall();
    if (!out.ok()) return out.status();
    return Value::String(std::move(out).value());
  }
  std::string Repr() const override { return "<Macro '" + def_->name + "'>"; }

 private:
  const Stmt* def_;
  ScopePtr closure_;
};

// The `caller` of a {% call %} block.
class CallerFn : public Callable {
 public:
  CallerFn(const Stmt* def, ScopePtr closure) : def_(def), closure_(std::move(closure)) {}

  Result<Value> Call(Interpreter& in, CallArgs& args, int line) override {
    auto scope = std::make_shared<Scope>(closure_);
    ScopeCloser closer(scope);
    for (size_t i = 0; i < def_->params.size(); ++i) {
      const Value* v = args.Get(i, def_->params[i]);
      if (v != nullptr) {
        scope->Set(def_->params[i], *v);
      } else if (def_->defaults[i] != nullptr) {
        MINT_ASSIGN_OR_RETURN(Value d, in.Eval(*def_->defaults[i], scope));
        scope->Set(def_->params[i], std::move(d));
      } else {
        scope->Set(def_->params[i], Value::Undefined("parameter was not provided"));
      }
    }
    MINT_RETURN_IF_ERROR(in.EnterCall());
    auto out = in.RenderBody(def_->body, scope);
    in.LeaveCall();
    if (!out.ok()) return out.status();
    return Value::String(std::move(out).value());
  }
  std::string Repr() const override { return "<Macro 'caller'>"; }

 private:
  const Stmt* def_;
  ScopePtr closure_;
};

// loop.cycle(a, b, ...)
class CycleFn : public Callable {
 public:
  explicit CycleFn(int64_t index0) : index0_(index0) {}
  Result<Value> Call(Interpreter&, CallArgs& args, int) override {
    if (args.positional.empty()) return Status::InvalidArgument("no items for cycling given");
    return args.positional[static_cast<size_t>(index0_) % args.positional.size()];
  }
  std::string Repr() const override { return "<bound method LoopContext.cycle>"; }

 private:
  int64_t index0_;
};

Value MakeLoop(const List& items, size_t i) {
  Value loop = Value::MakeDict();
  Dict& d = loop.dict();
  auto n = static_cast<int64_t>(items.size());
  auto idx = static_cast<int64_t>(i);
  d.Set(Value::String("index0"), Value::Int(idx));
  d.Set(Value::String("index"), Value::Int(idx + 1));
  d.Set(Value::String("revindex0"), Value::Int(n - idx - 1));
  d.Set(Value::String("revindex"), Value::Int(n - idx));
  d.Set(Value::String("first"), Value::Bool(i == 0));
  d.Set(Value::String("last"), Value::Bool(idx == n - 1));
  d.Set(Value::String("length"), Value::Int(n));
  d.Set(Value::String("depth"), Value::Int(1));
  d.Set(Value::String("depth0"), Value::Int(0));
  if (i > 0) d.Set(Value::String("previtem"), items[i - 1]);
  if (idx + 1 < n) d.Set(Value::String("nextitem"), items[i + 1]);
  d.Set(Value::String("cycle"), Value::MakeCallable(std::make_shared<CycleFn>(idx)));
  return loop;
}

}  // namespace

Interpreter::~Interpreter() {
  for (auto& w : tracked_dicts_) {
    if (auto d = w.lock()) d->items.clear();
  }
  for (auto& w : tracked_lists_) {
    if (auto l = w.lock()) l->clear();
  }
}

void Interpreter::TrackForCleanup(const Value& container) {
  if (container.is_dict() || container.is_namespace()) {
    tracked_dicts_.push_back(container.dict_ptr());
  } else if (container.is_sequence_like()) {
    tracked_lists_.push_back(container.list_ptr());
  }
}

Status Interpreter::Tick() {
  if (++steps_ > options_.max_steps) {
    return Status::ResourceExhausted("template exceeded its step budget (" +
                                     std::to_string(options_.max_steps) + ")");
  }
  return Status::Ok();
}

Status Interpreter::EnterCall() {
  if (call_depth_ >= options_.max_call_depth) {
    return Status::ResourceExhausted("maximum macro recursion depth exceeded");
  }
  ++call_depth_;
  return Tick();
}

Status Interpreter::Append(std::string* out, std::string_view text) {
  if (out->size() + text.size() > options_.max_output_bytes) {
    return Status::ResourceExhausted("template output exceeds " +
                                     std::to_string(options_.max_output_bytes) + " bytes");
  }
  out->append(text);
  return Status::Ok();
}

Result<std::string> Interpreter::Render(const Body& body, ScopePtr globals) {
  auto top = std::make_shared<Scope>(std::move(globals));
  ScopeCloser closer(top);
  std::string out;
  auto flow = Exec(body, top, &out);
  if (!flow.ok()) return flow.status();
  return out;
}

Result<std::string> Interpreter::RenderBody(const Body& body, const ScopePtr& scope) {
  std::string out;
  auto flow = Exec(body, scope, &out);
  if (!flow.ok()) return flow.status();
  return out;
}

Result<Value> Interpreter::CallValue(const Value& fn, CallArgs& args, int line) {
  if (fn.is_undefined()) return UndefinedError(fn);
  if (!fn.is_callable()) {
    return Status::InvalidArgument(std::string("'") + fn.TypeName() + "' object is not callable");
  }
  // Keep the callable alive even if the call rebinds the name that held it.
  CallablePtr keep = fn.callable();
  return keep->Call(*this, args, line);
}

Result<Interpreter::Flow> Interpreter::Exec(const Body& body, const ScopePtr& scope,
                                            std::string* out) {
  for (const StmtPtr& s : body) {
    MINT_ASSIGN_OR_RETURN(Flow f, ExecStmt(*s, scope, out));
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Result<Interpreter::Flow> Interpreter::ExecStmt(const Stmt& s, const ScopePtr& scope,
                                                std::string* out) {
  switch (s.kind) {
    case StmtKind::kText: MINT_RETURN_IF_ERROR(Append(out, s.text)); break;
    case StmtKind::kOutput: {
      MINT_ASSIGN_OR_RETURN(Value v, Eval(*s.expr, scope));
      MINT_RETURN_IF_ERROR(AtLine(Append(out, v.ToString()), s.line));
      break;
    }
    case StmtKind::kIf: return ExecIf(s, scope, out);
    case StmtKind::kFor: return ExecFor(s, scope, out);
    case StmtKind::kSet: MINT_RETURN_IF_ERROR(ExecSet(s, scope)); break;
    case StmtKind::kMacro:
      scope->Set(s.name, Value::MakeCallable(std::make_shared<MacroFn>(&s, scope)));
      break;
    case StmtKind::kCallBlock: MINT_RETURN_IF_ERROR(ExecCallBlock(s, scope, out)); break;
    case StmtKind::kFilterBlock: MINT_RETURN_IF_ERROR(ExecFilterBlock(s, scope, out)); break;
    case StmtKind::kScope: {
      auto inner = std::make_shared<Scope>(scope);
      ScopeCloser closer(inner);
      MINT_ASSIGN_OR_RETURN(std::string text, RenderBody(s.body, inner));
      MINT_RETURN_IF_ERROR(AtLine(Append(out, text), s.line));
      break;
    }
    case StmtKind::kBreak: return Flow::kBreak;
    case StmtKind::kContinue: return Flow::kContinue;
  }
  return Flow::kNormal;
}

Result<Interpreter::Flow> Interpreter::ExecIf(const Stmt& s, const ScopePtr& scope,
                                              std::string* out) {
  for (size_t i = 0; i < s.conds.size(); ++i) {
    MINT_ASSIGN_OR_RETURN(Value c, Eval(*s.conds[i], scope));
    if (c.Truthy()) return Exec(s.bodies[i], scope, out);
  }
  return Exec(s.else_body, scope, out);
}

Status Interpreter::Bind(const Stmt& s, const Value& item, Scope* scope, int line) {
  if (!s.targets_tuple) {
    scope->Set(s.targets[0], item);
    return Status::Ok();
  }
  auto parts = Iterate(item);
  if (!parts.ok() || item.is_undefined()) {
    return AtLine(Status::InvalidArgument(std::string("cannot unpack non-iterable ") +
                                          item.TypeName() + " object"), line);
  }
  if (parts->size() != s.targets.size()) {
    std::string why = parts->size() > s.targets.size() ? "too many" : "not enough";
    return AtLine(Status::InvalidArgument(why + " values to unpack (expected " +
                                          std::to_string(s.targets.size()) + ")"), line);
  }
  for (size_t i = 0; i < s.targets.size(); ++i) scope->Set(s.targets[i], (*parts)[i]);
  return Status::Ok();
}

Result<Interpreter::Flow> Interpreter::ExecFor(const Stmt& s, const ScopePtr& scope,
                                               std::string* out) {
  MINT_ASSIGN_OR_RETURN(Value iterable, Eval(*s.expr, scope));
  auto iterated = Iterate(iterable);
  if (!iterated.ok()) return AtLine(iterated.status(), s.line);
  List items = std::move(iterated).value();
  if (s.cond != nullptr) {
    List kept;
    for (Value& item : items) {
      MINT_RETURN_IF_ERROR(AtLine(Tick(), s.line));
      auto probe = std::make_shared<Scope>(scope);
      ScopeCloser closer(probe);
      MINT_RETURN_IF_ERROR(Bind(s, item, probe.get(), s.line));
      MINT_ASSIGN_OR_RETURN(Value keep, Eval(*s.cond, probe));
      if (keep.Truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    auto inner = std::make_shared<Scope>(scope);
    ScopeCloser closer(inner);
    MINT_ASSIGN_OR_RETURN(Flow f, Exec(s.else_body, inner, out));
    (void)f;
    return Flow::kNormal;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    MINT_RETURN_IF_ERROR(AtLine(Tick(), s.line));
    auto iter_scope = std::make_shared<Scope>(scope);
    ScopeCloser closer(iter_scope);
    MINT_RETURN_IF_ERROR(Bind(s, items[i], iter_scope.get(), s.line));
    iter_scope->Set("loop", MakeLoop(items, i));
    MINT_ASSIGN_OR_RETURN(Flow f, Exec(s.body, iter_scope, out));
    if (f == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

Status Interpreter::ExecSet(const Stmt& s, const ScopePtr& scope) {
  Value value;
  if (s.expr != nullptr) {
    MINT_ASSIGN_OR_RETURN(value, Eval(*s.expr, scope));
  } else {
    auto inner = std::make_shared<Scope>(scope);
    ScopeCloser closer(inner);
    MINT_ASSIGN_OR_RETURN(std::string text, RenderBody(s.body, inner));
    value = Value::String(std::move(text));
  }
  if (!s.ns_attr.empty()) {
    const Value* ns = scope->Lookup(s.targets[0]);
    if (ns == nullptr || !ns->is_namespace()) {
      return AtLine(Status::InvalidArgument("cannot assign attribute on non-namespace object"),
                    s.line);
    }
    ns->dict().Set(Value::String(s.ns_attr), std::move(value));
    return Status::Ok();
  }
  return Bind(s, value, scope.get(), s.line);
}

Status Interpreter::ExecCallBlock(const Stmt& s, const ScopePtr& scope, std::string* out) {
  const Expr& call = *s.expr;
  MINT_ASSIGN_OR_RETURN(Value fn, Eval(*call.a, scope));
  MINT_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(call, scope));
  args.kwargs.emplace_back("caller", Value::MakeCallable(std::make_shared<CallerFn>(&s, scope)));
  auto result = CallValue(fn, args, s.line);
  if (!result.ok()) return AtLine(result.status(), s.line);
  return AtLine(Append(out, result->ToString()), s.line);
}

Status Interpreter::ExecFilterBlock(const Stmt& s, const ScopePtr& scope, std::string* out) {
  auto inner = std::make_shared<Scope>(scope);
  ScopeCloser closer(inner);
  MINT_ASSIGN_OR_RETURN(std::string text, RenderBody(s.body, inner));
  Value input = Value::String(std::move(text));
  const Value* saved = filter_input_;
  filter_input_ = &input;
  auto result = Eval(*s.expr, scope);
  filter_input_ = saved;
  if (!result.ok()) return result.status();
  return AtLine(Append(out, result->ToString()), s.line);
}

}  // namespace mint::tokenizer::jinja
