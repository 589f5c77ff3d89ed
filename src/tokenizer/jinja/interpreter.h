// Tree-walking interpreter of Mint's Jinja subset.
//
// Thread-safety: an Interpreter renders one template once, on one thread. The AST it walks is
// shared read-only, so any number of Interpreters may render the same template concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/callable.h"
#include "tokenizer/jinja/value.h"

namespace mint::tokenizer::jinja {

struct RenderOptions {
  // false = jinja2's ImmutableSandboxedEnvironment (what transformers uses): list.append,
  // dict.update and the other mutating methods fail. true = they mutate in place.
  bool allow_mutation = false;
  int max_call_depth = 256;                 // nested macro calls
  size_t max_output_bytes = 64u << 20;      // any rendered string, including block sets
  int64_t max_steps = 50'000'000;           // loop iterations + calls + filter applications
};

// A variable scope: a frame of names with a parent chain (lookup walks outward).
class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}
  // The value bound to `name` here or in an enclosing scope, or nullptr.
  const Value* Lookup(std::string_view name) const;
  void Set(const std::string& name, Value value);
  // Drops every binding (breaks macro <-> scope reference cycles when a frame ends).
  void Clear() { vars_.clear(); }
  const std::shared_ptr<Scope>& parent() const { return parent_; }

 private:
  std::shared_ptr<Scope> parent_;
  std::vector<std::pair<std::string, Value>> vars_;
};
using ScopePtr = std::shared_ptr<Scope>;

// Prefixes "template error at line N: " unless the message already names a line.
Status AtLine(const Status& status, int line);
// The error of using an undefined value ("'x' is undefined").
Status UndefinedError(const Value& undefined);

class Interpreter {
 public:
  explicit Interpreter(RenderOptions options) : options_(options) {}
  ~Interpreter();

  // Renders `body` with `globals` as the outermost scope.
  Result<std::string> Render(const Body& body, ScopePtr globals);

  // Calls a callable value (used by filters such as map and by macros).
  Result<Value> CallValue(const Value& fn, CallArgs& args, int line);
  // Renders `body` in `scope` to a string (macro bodies, caller(), block set).
  Result<std::string> RenderBody(const Body& body, const ScopePtr& scope);
  Result<Value> Eval(const Expr& e, const ScopePtr& scope);

  // Counts one unit of work; fails once RenderOptions::max_steps is exceeded.
  Status Tick();
  Status EnterCall();
  void LeaveCall() { --call_depth_; }
  // Containers that may form reference cycles; cleared when the render ends.
  void TrackForCleanup(const Value& container);
  const RenderOptions& options() const { return options_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Result<Flow> Exec(const Body& body, const ScopePtr& scope, std::string* out);
  Result<Flow> ExecStmt(const Stmt& s, const ScopePtr& scope, std::string* out);
  Result<Flow> ExecIf(const Stmt& s, const ScopePtr& scope, std::string* out);
  Result<Flow> ExecFor(const Stmt& s, const ScopePtr& scope, std::string* out);
  Status ExecSet(const Stmt& s, const ScopePtr& scope);
  Status ExecCallBlock(const Stmt& s, const ScopePtr& scope, std::string* out);
  Status ExecFilterBlock(const Stmt& s, const ScopePtr& scope, std::string* out);
  Status Bind(const Stmt& s, const Value& item, Scope* scope, int line);
  Status Append(std::string* out, std::string_view text);

  Result<Value> EvalCall(const Expr& e, const ScopePtr& scope);
  Result<Value> EvalFilter(const Expr& e, const ScopePtr& scope);
  Result<Value> EvalTest(const Expr& e, const ScopePtr& scope);
  Result<Value> EvalSequence(const Expr& e, const ScopePtr& scope);  // list or tuple display
  Result<Value> EvalDict(const Expr& e, const ScopePtr& scope);
  Result<Value> EvalUnary(const Expr& e, const ScopePtr& scope);
  Result<Value> EvalBinary(const Expr& e, const ScopePtr& scope);
  Result<Value> EvalCompare(const Expr& e, const ScopePtr& scope);
  Result<Value> EvalSlice(const Expr& e, const ScopePtr& scope);
  Result<CallArgs> EvalArgs(const Expr& e, const ScopePtr& scope);

  RenderOptions options_;
  int64_t steps_ = 0;
  int call_depth_ = 0;
  const Value* filter_input_ = nullptr;  // input of the innermost {% filter %} chain
  std::vector<std::weak_ptr<Dict>> tracked_dicts_;
  std::vector<std::weak_ptr<List>> tracked_lists_;
};

}  // namespace mint::tokenizer::jinja
