// Scheduler: continuous batching over a paged KV cache. Pure logic (no model, no threads, no
// I/O), so the real engine and the mocker share it.
//
// A step (Schedule) is planned in named phases:
//   1. decodes  — every running sequence that needs exactly one token gets it first;
//   2. prefills — running sequences part-way through their prompt get their next chunk;
//   3. admit    — waiting sequences (priority, then arrival order) reuse their cached prefix
//                 blocks and start their first chunk,
// all within max_num_batched_tokens tokens and max_num_seqs running sequences. When a running
// sequence needs a block and none is free, the newest running sequence (lowest priority, latest
// arrival) is preempted: its blocks are released and it goes back to the front of the waiting
// queue to recompute later (its prefix may still be cached). Admission never preempts.
//
// A sequence that imports its prompt's KV (import_tokens > 0: disaggregated decode, see
// kv_connector.h) is admitted differently, on its first admission only: it gets blocks for the
// whole imported range at once (its local prefix-cache hits first) and leaves the plan in
// `loads` with status kWaitingForKv, holding a sequence slot and its blocks but scheduled in no
// step and never preempted, until the caller reports LoadDone. Preempted later, it recomputes
// like any other sequence.
//
// With an external lookup (SetExternalLookup: a tiered KV cache, kv_connector.h Lookup), a
// sequence whose prompt continues past the pool's cached prefix in blocks the lookup can load
// is admitted the same way, importing the pool's prefix plus those blocks (onboarding = true).
//
// After the model ran the step, Complete() advances every scheduled sequence, caches its newly
// full blocks (emitting KV events through the pool) and reports which ones must sample a token;
// the caller appends tokens (AppendToken) and finishes sequences (Finish), which frees their
// blocks tail first.
//
// Thread-safety: none; one thread (the engine loop or a mocker) owns a Scheduler and its pool.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/hash.h"
#include "core/status.h"
#include "engine/block_pool.h"

namespace mint::engine {

struct SchedulerConfig {
  int32_t max_num_seqs = 64;              // running sequences at once
  int32_t max_num_batched_tokens = 512;   // tokens per step (decode + prefill chunks)
  int64_t max_model_len = 4096;           // prompt + generated tokens per sequence
  Status Validate() const;
};

enum class SeqStatus { kWaiting, kWaitingForKv, kRunning, kFinished };

// One sequence's scheduling state. Owned by the Scheduler while it is live.
struct SeqState {
  uint64_t id = 0;
  int32_t priority = 0;  // larger runs first; equal priorities are first-come first-served
  uint64_t arrival = 0;  // set by Add
  SeqStatus status = SeqStatus::kWaiting;
  std::vector<int32_t> tokens;  // prompt, then generated tokens
  int64_t num_prompt = 0;
  int64_t num_computed = 0;      // leading tokens whose KV is in the cache
  int64_t num_cached_prompt = 0;  // prompt tokens found in the prefix cache at (first) admission
  bool admitted_once = false;
  int32_t num_preemptions = 0;
  std::vector<BlockId> blocks;      // block table
  std::vector<BlockHash> hashes;    // sequence hashes of the full blocks of `tokens`
  int64_t num_committed_blocks = 0;  // blocks already offered to the prefix cache
  int64_t import_tokens = 0;  // > 0: tokens [0, import_tokens) come from a KV load at admission
  bool onboarding = false;    // that load comes from the external lookup (tiers), not kv_import
  bool load_counts_cached = false;  // the load is the first admission: its tokens count as cached
  void* user = nullptr;             // the owner's per-request data (the engine's request)

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t num_generated() const { return num_tokens() - num_prompt; }
};

struct ScheduledSeq {
  SeqState* seq = nullptr;
  int64_t pos0 = 0;      // first new position (== num_computed when planned)
  int64_t num_new = 0;   // tokens computed this step
  bool samples = false;  // the step reaches the sequence's last token: sample the next one
};

struct StepPlan {
  std::vector<ScheduledSeq> seqs;   // decodes first, then prefill chunks
  std::vector<SeqState*> preempted;  // preempted while planning this step
  std::vector<SeqState*> loads;      // admitted to wait for KV: the caller starts their loads
  int64_t num_tokens = 0;
  int64_t num_decode = 0;
  bool empty() const { return seqs.empty(); }
};

struct SchedulerStats {
  int32_t running = 0;
  int32_t waiting = 0;
  int32_t waiting_for_kv = 0;
  int64_t waiting_prefill_tokens = 0;  // uncomputed tokens of waiting + prefilling sequences
  uint64_t preemptions = 0;            // cumulative
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, BlockPool* pool);
  ~Scheduler();

  const SchedulerConfig& config() const { return config_; }
  BlockPool* pool() const { return pool_; }

  // Queues a sequence (status waiting). The prompt must be non-empty and shorter than
  // max_model_len. Returns the live state, owned by the scheduler until Finish.
  SeqState* Add(uint64_t id, std::vector<int32_t> prompt, int32_t priority, void* user);
  SeqState* Find(uint64_t id) const;
  // Leading blocks of `hashes` (the prompt's full blocks past the pool's cached prefix) that can
  // be loaded from outside the pool instead of computed. Empty: nothing outside.
  using ExternalLookup = std::function<int64_t(std::span<const BlockHash>)>;
  void SetExternalLookup(ExternalLookup lookup) { external_ = std::move(lookup); }

  StepPlan Schedule();
  // Advances the planned sequences by their scheduled tokens and caches their full blocks.
  void Complete(const StepPlan& plan);
  // Ends a sequence's KV load: with `ok`, tokens [0, import_tokens) count as computed and their
  // full blocks enter the prefix cache; otherwise they will be computed. Either way it runs now.
  void LoadDone(SeqState* seq, bool ok);
  // Appends a sampled token to a running sequence (its hash chain grows when a block fills).
  void AppendToken(SeqState* seq, int32_t token);
  // Removes a sequence (any status but kWaitingForKv: its blocks are being written) and releases
  // its blocks. `seq` is invalid afterwards.
  void Finish(SeqState* seq);

  // Sequences to schedule (those waiting for KV are not: they wait for LoadDone).
  bool HasWork() const { return !running_.empty() || !waiting_.empty(); }
  int32_t num_waiting_for_kv() const { return static_cast<int32_t>(loading_.size()); }
  // The next sequence to admit, or null. When Schedule() plans nothing while HasWork(), this
  // sequence cannot fit in the whole pool (even with everything else evicted).
  SeqState* FrontWaiting() const { return waiting_.empty() ? nullptr : waiting_.front(); }
  SchedulerStats Stats() const;
  size_t num_live() const { return live_.size(); }

 private:
  bool EnsureBlocks(SeqState* seq, int64_t num_tokens);
  void Preempt(SeqState* seq, StepPlan* plan);
  void ExtendHashes(SeqState* seq);
  SeqState* NewestRunning(const SeqState* except) const;
  void InsertWaiting(SeqState* seq, bool front);
  // Offers the newly full, computed blocks of `seq` to the prefix cache.
  void CommitFullBlocks(SeqState* seq);
  // AdmitWaiting for a sequence that imports its KV; false if its blocks do not fit now.
  bool AdmitForLoad(SeqState* seq, StepPlan* plan);
  // Schedule()'s phases; each spends from *budget (tokens this step) and adds to *plan.
  void ScheduleRunning(bool decodes, int64_t* budget, StepPlan* plan);
  void AdmitWaiting(int64_t* budget, StepPlan* plan);
  // Admits the front waiting sequence to compute its tokens after its `cached` locally cached
  // blocks of `lookup`; false (nothing changed) when the free blocks are too few.
  bool AdmitComputing(SeqState* seq, std::span<const BlockHash> lookup, int64_t cached,
                      int64_t* budget, StepPlan* plan);

  SchedulerConfig config_;
  BlockPool* pool_;
  ExternalLookup external_;
  uint64_t next_arrival_ = 0;
  uint64_t preemptions_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<SeqState>> live_;
  std::deque<SeqState*> waiting_;  // priority desc, then arrival asc; preempted go first
  std::vector<SeqState*> running_;  // admission order
  std::vector<SeqState*> loading_;  // kWaitingForKv
};

}  // namespace mint::engine
