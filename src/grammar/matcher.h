// Matcher: where a parse through a Grammar stands, advanced by code points or raw UTF-8 bytes.
//
// The state is a set of parse stacks, as in llama.cpp's grammar sampler: every stack's top is a
// position at a character class (rule references are expanded eagerly), and its lower entries
// are where to continue when the current alternative ends. Stacks are persistent linked nodes in
// a StackArena, so advancing shares every unchanged parent and a speculative check (will this
// token fit?) costs a few nodes that Truncate drops afterwards. A rule reference that ends its
// alternative pushes nothing (tail call), so x* ::= x x* | ε runs in constant depth.
//
// A top equal to kAccepted means "the whole grammar matched here": generation may end.
//
// Thread-safety: none; one matcher per request.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"

namespace mint::grammar {

constexpr int32_t kBottom = -1;    // parent below the root: popping it completes the parse
constexpr int32_t kUnknown = -2;   // parent below a cached position (token_mask.h): unknown
constexpr int32_t kAccepted = -3;  // a "top" that has matched the whole grammar

struct StackNode {
  int32_t pos;     // into Grammar::symbols()
  int32_t parent;  // node id, kBottom or kUnknown
};

// UTF-8 decoding carried across byte boundaries (a token may end inside a character).
struct Utf8State {
  uint32_t value = 0;
  int8_t need = 0;  // continuation bytes still expected
  int8_t len = 0;   // continuation bytes of this character in all
  bool pending() const { return need > 0; }
  // Feeds one byte: returns 1 with *cp set when a character completes, 0 when more bytes are
  // needed, -1 on invalid UTF-8.
  int Feed(uint8_t b, uint32_t* cp);
  // The range of code points the pending bytes can still become.
  void PendingRange(uint32_t* lo, uint32_t* hi) const;
};

class StackArena {
 public:
  // `intern`: structurally equal nodes share one id (committed states stay small and exact
  // duplicates merge); off for speculative checks, which Truncate afterwards.
  explicit StackArena(const Grammar* grammar) : g_(grammar) {}

  int32_t size() const { return static_cast<int32_t>(nodes_.size()); }
  // A node (interned when interning is on).
  int32_t Push(int32_t pos, int32_t parent) { return NewNode(pos, parent); }
  void Truncate(int32_t n);
  const StackNode& node(int32_t id) const { return nodes_[id]; }
  void set_intern(bool on) { intern_ = on; }
  // Expansion work is bounded: past work_limit() (pos, parent) visits since ResetWork() (a
  // grammar with that many ways to read a token), expansion stops and overflowed() stays true;
  // the grammar's user turns that into an error. Ordinary grammars visit a few per character:
  // the default allows a token check and a mask's uncertain tokens many times over (about
  // 50 ms of work at worst); a whole-vocabulary walk gets more (set_work_limit).
  static constexpr size_t kDefaultWorkLimit = size_t{1} << 18;
  void ResetWork() { work_ = 0; }
  void set_work_limit(size_t n) { work_limit_ = n; }
  size_t work_limit() const { return work_limit_; }
  bool overflowed() const { return overflowed_; }

  // The stacks that start at `pos` with `parent` below, expanded until each top is a character
  // class (appended to out; kAccepted for a completed parse). *escaped is set when a path pops
  // into kUnknown. Within one Start or Advance, a (pos, parent) already expanded is skipped, so
  // ambiguous grammars (many empty alternatives, nested repetitions) cost what their distinct
  // stacks cost, not every path to them.
  void Expand(int32_t pos, int32_t parent, std::vector<int32_t>* out, bool* escaped);
  // The initial stacks of the grammar's root.
  void Start(std::vector<int32_t>* out);
  // Every stack of `in` whose top matches cp, advanced past it (appended to out, deduplicated).
  void Advance(const std::vector<int32_t>& in, uint32_t cp, std::vector<int32_t>* out,
               bool* escaped);
  // True if some top of `tops` can take a code point of [lo, hi].
  bool AnyMatches(const std::vector<int32_t>& tops, uint32_t lo, uint32_t hi) const;

 private:
  int32_t NewNode(int32_t pos, int32_t parent);
  // The per-expansion memo: a stamped open-addressing set of (pos, parent).
  void BeginExpansion();
  bool FirstVisit(int32_t pos, int32_t parent);

  const Grammar* g_;
  std::vector<StackNode> nodes_;
  bool intern_ = false;
  std::unordered_map<uint64_t, int32_t> interned_;  // (pos, parent) -> id
  std::vector<uint64_t> memo_keys_ = std::vector<uint64_t>(256);
  std::vector<uint32_t> memo_stamps_ = std::vector<uint32_t>(256, 0);
  uint32_t stamp_ = 0;
  size_t memo_used_ = 0;
  bool overflowed_ = false;
  size_t work_ = 0;
  static constexpr int kMaxExpandDepth = 1000;  // rules nested at one position (the C++ stack)
  int depth_ = 0;
  size_t work_limit_ = kDefaultWorkLimit;
};

class Matcher {
 public:
  explicit Matcher(const Grammar* grammar);

  // Feeds raw bytes (UTF-8, possibly ending inside a character). Returns false, leaving the
  // state unchanged, if they cannot continue the grammar.
  bool AcceptBytes(std::string_view bytes);
  // True if `bytes` could be accepted now (state unchanged).
  bool CanAccept(std::string_view bytes);
  bool CanAcceptFrom(int32_t top, std::string_view bytes);
  // The whole grammar has matched (generation may end here).
  bool IsComplete() const;
  // Nothing but the end may follow.
  bool OnlyEnd() const;

  const std::vector<int32_t>& tops() const { return tops_; }
  const Utf8State& utf8() const { return utf8_; }
  const Grammar& grammar() const { return *g_; }
  StackArena* arena() { return &arena_; }
  bool arena_overflowed() const { return arena_.overflowed(); }
  void ResetWork() { arena_.ResetWork(); }

 private:
  // Runs bytes from (tops, utf8) speculatively; true if some stack survives.
  bool Run(const std::vector<int32_t>& start, Utf8State utf8, std::string_view bytes,
           std::vector<int32_t>* out_tops, Utf8State* out_utf8);

  const Grammar* g_;
  StackArena arena_;
  std::vector<int32_t> tops_;
  Utf8State utf8_;
  std::vector<int32_t> scratch_;
  std::vector<int32_t> run_a_, run_b_;  // Run's buffers
};

}  // namespace mint::grammar
