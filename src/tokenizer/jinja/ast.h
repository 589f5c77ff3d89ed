// Abstract syntax tree of a parsed Jinja template.
//
// Thread-safety: immutable after parsing; shared read-only by concurrent renders.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace mint::tokenizer::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
  kLiteral,   // literal
  kName,      // name
  kList,      // args
  kTuple,     // args
  kDict,      // args: key0, value0, key1, value1, ...
  kUnary,     // name: "not" | "-" | "+"; a
  kBinary,    // name: "+" "-" "*" "/" "//" "%" "**" "~" "and" "or"; a, b
  kCompare,   // a; ops[i] applies to args[i] (chained: a < b < c)
  kCond,      // a if b else c (c may be null)
  kGetAttr,   // a.name
  kGetItem,   // a[b]
  kSlice,     // a[b:c:d], any of b/c/d may be null
  kCall,      // a(args, kwargs)
  kFilter,    // a | name(args, kwargs); a is null inside {% filter %}
  kTest,      // a is [not] name(args)
};

struct Expr {
  ExprKind kind;
  int line = 0;
  Value literal;
  std::string name;
  ExprPtr a, b, c, d;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;  // kCompare
  bool negated = false;          // kTest: `is not`
};

enum class StmtKind {
  kText,      // text
  kOutput,    // {{ expr }}
  kIf,        // conds[i] guards bodies[i]; else_body
  kFor,       // targets in expr [if cond] body [else else_body]
  kSet,       // targets (or ns.attr via ns_attr) = expr, or block set (expr null) with body
  kMacro,     // name(params = defaults) body
  kCallBlock, // {% call(params) expr %} body
  kFilterBlock,  // {% filter expr %} body; expr is a filter chain over a null input
  kScope,     // a nested body with its own scope ({% generation %})
  kBreak,
  kContinue,
};

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr cond;                          // kFor loop filter
  std::vector<ExprPtr> conds;            // kIf
  std::vector<Body> bodies;              // kIf
  Body body;
  Body else_body;
  std::vector<std::string> targets;      // kFor, kSet
  bool targets_tuple = false;            // `for a, b in` / `set a, b =`
  std::string ns_attr;                   // kSet: `set ns.attr = ...` (targets[0] is ns)
  std::string name;                      // kMacro
  std::vector<std::string> params;       // kMacro, kCallBlock
  std::vector<ExprPtr> defaults;         // parallel to params; null when no default
};

}  // namespace mint::tokenizer::jinja
