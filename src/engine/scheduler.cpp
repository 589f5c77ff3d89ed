#include "engine/scheduler.h"

#include <algorithm>
#include <string>

namespace mint::engine {

Status SchedulerConfig::Validate() const {
  if (max_num_seqs < 1) return Status::InvalidArgument("max_num_seqs must be >= 1");
  if (max_num_batched_tokens < 1) {
    return Status::InvalidArgument("max_num_batched_tokens must be >= 1");
  }
  if (max_model_len < 2) return Status::InvalidArgument("max_model_len must be >= 2");
  return Status::Ok();
}

Scheduler::Scheduler(const SchedulerConfig& config, BlockPool* pool)
    : config_(config), pool_(pool) {}

Scheduler::~Scheduler() {
  for (auto& [id, seq] : live_) {
    if (!seq->blocks.empty()) pool_->Release(seq->blocks);
  }
}

SeqState* Scheduler::Add(uint64_t id, std::vector<int32_t> prompt, int32_t priority, void* user) {
  auto seq = std::make_unique<SeqState>();
  seq->id = id;
  seq->priority = priority;
  seq->arrival = next_arrival_++;
  seq->num_prompt = static_cast<int64_t>(prompt.size());
  seq->tokens = std::move(prompt);
  seq->user = user;
  SeqState* raw = seq.get();
  live_[id] = std::move(seq);
  InsertWaiting(raw, /*front=*/false);
  return raw;
}

SeqState* Scheduler::Find(uint64_t id) const {
  auto it = live_.find(id);
  return it == live_.end() ? nullptr : it->second.get();
}

void Scheduler::InsertWaiting(SeqState* seq, bool front) {
  seq->status = SeqStatus::kWaiting;
  if (front) {
    waiting_.push_front(seq);
    return;
  }
  auto it = std::find_if(waiting_.begin(), waiting_.end(),
                         [&](const SeqState* w) { return w->priority < seq->priority; });
  waiting_.insert(it, seq);
}

void Scheduler::ExtendHashes(SeqState* seq) {
  const int64_t bs = pool_->block_size();
  const uint64_t salt = pool_->config().salt;
  const int64_t full = seq->num_tokens() / bs;
  while (static_cast<int64_t>(seq->hashes.size()) < full) {
    const size_t b = seq->hashes.size();
    const std::span<const uint32_t> block(
        reinterpret_cast<const uint32_t*>(seq->tokens.data() + b * bs), static_cast<size_t>(bs));
    const BlockHash local = LocalBlockHash(block, salt);
    seq->hashes.push_back(b == 0 ? local : SequenceBlockHash(seq->hashes[b - 1], local, salt));
  }
}

bool Scheduler::EnsureBlocks(SeqState* seq, int64_t num_tokens) {
  const int64_t bs = pool_->block_size();
  const int64_t need = (num_tokens + bs - 1) / bs - static_cast<int64_t>(seq->blocks.size());
  if (need <= 0) return true;
  return pool_->Allocate(static_cast<int32_t>(need), &seq->blocks);
}

SeqState* Scheduler::NewestRunning(const SeqState* except) const {
  SeqState* newest = nullptr;
  for (SeqState* s : running_) {
    if (s == except) continue;
    if (newest == nullptr || s->priority < newest->priority ||
        (s->priority == newest->priority && s->arrival > newest->arrival)) {
      newest = s;
    }
  }
  return newest;
}

void Scheduler::Preempt(SeqState* seq, StepPlan* plan) {
  running_.erase(std::find(running_.begin(), running_.end(), seq));
  auto it = std::find_if(plan->seqs.begin(), plan->seqs.end(),
                         [&](const ScheduledSeq& s) { return s.seq == seq; });
  if (it != plan->seqs.end()) {
    plan->num_tokens -= it->num_new;
    if (it->num_new == 1 && it->samples) --plan->num_decode;
    plan->seqs.erase(it);
  }
  pool_->Release(seq->blocks);
  seq->blocks.clear();
  seq->num_computed = 0;
  seq->num_committed_blocks = 0;
  ++seq->num_preemptions;
  ++preemptions_;
  InsertWaiting(seq, /*front=*/true);
  plan->preempted.push_back(seq);
}

StepPlan Scheduler::Schedule() {
  StepPlan plan;
  int64_t budget = config_.max_num_batched_tokens;
  ScheduleRunning(/*decodes=*/true, &budget, &plan);
  ScheduleRunning(/*decodes=*/false, &budget, &plan);
  AdmitWaiting(&budget, &plan);
  return plan;
}

// Running sequences, decodes (one token to compute) in the first pass, prefill chunks in the
// second. A sequence that cannot get a block preempts the newest other running sequence; if it is
// the only one left, it preempts itself (it will recompute when blocks free up).
void Scheduler::ScheduleRunning(bool decodes, int64_t* budget, StepPlan* plan) {
  const std::vector<SeqState*> snapshot = running_;
  for (SeqState* seq : snapshot) {
    if (*budget <= 0) break;
    if (seq->status != SeqStatus::kRunning) continue;  // preempted earlier in this step
    const int64_t need = seq->num_tokens() - seq->num_computed;
    if (need <= 0 || decodes != (need == 1)) continue;
    const int64_t chunk = std::min(need, *budget);
    bool ok = true;
    while (!EnsureBlocks(seq, seq->num_computed + chunk)) {
      SeqState* victim = NewestRunning(seq);
      if (victim == nullptr) {
        Preempt(seq, plan);
        ok = false;
        break;
      }
      Preempt(victim, plan);
    }
    if (!ok) continue;
    plan->seqs.push_back(
        {seq, seq->num_computed, chunk, seq->num_computed + chunk == seq->num_tokens()});
    plan->num_tokens += chunk;
    if (decodes) ++plan->num_decode;
    *budget -= chunk;
  }
}

// Waiting sequences, in order, while tokens, sequence slots and blocks last.
void Scheduler::AdmitWaiting(int64_t* budget, StepPlan* plan) {
  const int64_t bs = pool_->block_size();
  while (*budget > 0 &&
         static_cast<int32_t>(running_.size() + loading_.size()) < config_.max_num_seqs &&
         !waiting_.empty()) {
    SeqState* seq = waiting_.front();
    ExtendHashes(seq);
    if (seq->import_tokens > 0) {
      if (!AdmitForLoad(seq, plan)) break;
      continue;
    }
    // Leave at least one token to compute: the step that computes it yields the logits.
    const size_t max_cached = static_cast<size_t>((seq->num_tokens() - 1) / bs);
    const std::span<const BlockHash> lookup(seq->hashes.data(),
                                            std::min(max_cached, seq->hashes.size()));
    const int64_t cached = pool_->CountCached(lookup);
    if (external_ && cached < static_cast<int64_t>(lookup.size())) {
      const int64_t more = external_(lookup.subspan(static_cast<size_t>(cached)));
      if (more > 0) {
        seq->import_tokens = (cached + more) * bs;
        seq->onboarding = true;
        if (!AdmitForLoad(seq, plan)) {
          seq->import_tokens = 0;
          seq->onboarding = false;
          break;
        }
        continue;
      }
    }
    if (!AdmitComputing(seq, lookup, cached, budget, plan)) break;
  }
}

bool Scheduler::AdmitComputing(SeqState* seq, std::span<const BlockHash> lookup, int64_t cached,
                               int64_t* budget, StepPlan* plan) {
  const int64_t bs = pool_->block_size();
  const int64_t chunk = std::min(seq->num_tokens() - cached * bs, *budget);
  const int64_t fresh = (cached * bs + chunk + bs - 1) / bs - cached;
  // Conservative: acquiring evictable cached blocks may take them from the free count too.
  if (pool_->num_free() < fresh + cached) return false;
  seq->blocks = pool_->AcquireCached(lookup);
  seq->num_computed = static_cast<int64_t>(seq->blocks.size()) * bs;
  seq->num_committed_blocks = static_cast<int64_t>(seq->blocks.size());
  if (!seq->admitted_once) {
    seq->num_cached_prompt = std::min(seq->num_computed, seq->num_prompt);
    seq->admitted_once = true;
  }
  const int64_t n = std::min(seq->num_tokens() - seq->num_computed, *budget);
  const bool allocated = EnsureBlocks(seq, seq->num_computed + n);
  MINT_CHECK(allocated);
  waiting_.pop_front();
  seq->status = SeqStatus::kRunning;
  running_.push_back(seq);
  plan->seqs.push_back({seq, seq->num_computed, n, seq->num_computed + n == seq->num_tokens()});
  plan->num_tokens += n;
  *budget -= n;
  return true;
}

bool Scheduler::AdmitForLoad(SeqState* seq, StepPlan* plan) {
  const int64_t bs = pool_->block_size();
  const int64_t n = seq->import_tokens;
  const int64_t need = (n + bs - 1) / bs;
  // Local hits: full blocks inside the imported range only.
  const size_t max_cached = static_cast<size_t>(std::min(n / bs, (seq->num_tokens() - 1) / bs));
  const std::span<const BlockHash> lookup(seq->hashes.data(),
                                          std::min(max_cached, seq->hashes.size()));
  if (pool_->num_free() < need) return false;  // conservative, as for any admission
  seq->blocks = pool_->AcquireCached(lookup);
  seq->num_computed = static_cast<int64_t>(seq->blocks.size()) * bs;
  seq->num_committed_blocks = static_cast<int64_t>(seq->blocks.size());
  seq->load_counts_cached = !seq->admitted_once;
  if (!seq->admitted_once) {
    seq->num_cached_prompt = std::min(seq->num_computed, seq->num_prompt);
    seq->admitted_once = true;
  }
  const bool allocated = EnsureBlocks(seq, n);
  MINT_CHECK(allocated);
  waiting_.pop_front();
  seq->status = SeqStatus::kWaitingForKv;
  loading_.push_back(seq);
  plan->loads.push_back(seq);
  return true;
}

void Scheduler::LoadDone(SeqState* seq, bool ok) {
  MINT_CHECK(seq->status == SeqStatus::kWaitingForKv);
  loading_.erase(std::find(loading_.begin(), loading_.end(), seq));
  if (ok) {
    seq->num_computed = seq->import_tokens;
    CommitFullBlocks(seq);
    // Tier hits count as cached prompt tokens (an import from a prefill worker does not).
    if (seq->onboarding && seq->load_counts_cached) {
      seq->num_cached_prompt = std::min(seq->num_computed, seq->num_prompt);
    }
  }
  seq->import_tokens = 0;
  seq->onboarding = false;
  seq->load_counts_cached = false;
  seq->status = SeqStatus::kRunning;
  running_.push_back(seq);
}

void Scheduler::CommitFullBlocks(SeqState* seq) {
  const int64_t bs = pool_->block_size();
  const int64_t full = seq->num_computed / bs;
  if (full <= seq->num_committed_blocks) return;
  ExtendHashes(seq);
  const int64_t first = seq->num_committed_blocks;
  const std::span<const BlockId> blocks(seq->blocks.data() + first, full - first);
  const std::span<const BlockHash> hashes(seq->hashes.data() + first, full - first);
  const std::span<const int32_t> tokens(seq->tokens.data() + first * bs, (full - first) * bs);
  pool_->Commit(blocks, hashes,
                first > 0 ? std::optional<BlockHash>(seq->hashes[first - 1]) : std::nullopt,
                tokens);
  seq->num_committed_blocks = full;
}

void Scheduler::Complete(const StepPlan& plan) {
  for (const ScheduledSeq& s : plan.seqs) {
    s.seq->num_computed = s.pos0 + s.num_new;
    CommitFullBlocks(s.seq);
  }
}

void Scheduler::AppendToken(SeqState* seq, int32_t token) { seq->tokens.push_back(token); }

void Scheduler::Finish(SeqState* seq) {
  MINT_CHECK(seq->status != SeqStatus::kWaitingForKv);
  if (seq->status == SeqStatus::kRunning) {
    running_.erase(std::find(running_.begin(), running_.end(), seq));
  } else if (seq->status == SeqStatus::kWaiting) {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), seq));
  }
  seq->status = SeqStatus::kFinished;
  if (!seq->blocks.empty()) pool_->Release(seq->blocks);
  seq->blocks.clear();
  live_.erase(seq->id);
}

SchedulerStats Scheduler::Stats() const {
  SchedulerStats st;
  st.running = static_cast<int32_t>(running_.size());
  st.waiting = static_cast<int32_t>(waiting_.size());
  st.waiting_for_kv = static_cast<int32_t>(loading_.size());
  for (const SeqState* s : waiting_) st.waiting_prefill_tokens += s->num_tokens() - s->num_computed;
  for (const SeqState* s : running_) {
    const int64_t need = s->num_tokens() - s->num_computed;
    if (need > 1) st.waiting_prefill_tokens += need;
  }
  st.preemptions = preemptions_;
  return st;
}

}  // namespace mint::engine
