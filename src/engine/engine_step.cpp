// One engine step (engine_impl.h): schedule -> build the batch -> forward -> sample -> deliver,
// and the metrics the loop publishes after it.
#include <algorithm>
#include <chrono>

#include "core/log.h"
#include "engine/engine_impl.h"

namespace mint::engine {

int32_t Engine::Impl::ConstrainedChoice(LiveRequest* r, int32_t chosen) {
  // The executor's token does not fit the constraint: take the first allowed token after it
  // (deterministic, as the executor's choice is).
  allowed_scratch_.assign(static_cast<size_t>(n_vocab_), 0.0f);
  if (!r->processor->Mask(allowed_scratch_)) return -1;
  for (int64_t k = 1; k <= n_vocab_; ++k) {
    const auto t = static_cast<int32_t>((chosen + k) % n_vocab_);
    if (allowed_scratch_[t] == 0.0f) return t;
  }
  return -1;
}

int32_t Engine::Impl::NextToken(LiveRequest* r, int64_t row, RequestOutput* out) {
  const int64_t n_vocab = n_vocab_;
  if (chooses_tokens_) {
    int32_t token = chosen_[static_cast<size_t>(row)];
    MINT_CHECK(token >= 0 && token < n_vocab);
    if (r->processor != nullptr && !r->processor->Allows(token)) {
      token = ConstrainedChoice(r, token);
      if (token < 0) return -1;
    }
    if (r->processor != nullptr) r->processor->Accept(token);
    r->sampler.Accept(token, /*is_prompt=*/false);
    if (r->req.logprobs >= 0) {
      TokenLogprob lp;
      lp.token = token;
      lp.logprob = 0;
      if (r->req.logprobs > 0) lp.top.emplace_back(token, 0.0f);
      out->logprobs.push_back(std::move(lp));
    }
    return token;
  }
  const std::span<float> logits(logits_.data() + row * n_vocab, static_cast<size_t>(n_vocab));
  if (r->req.logprobs >= 0) {
    logprobs_.resize(static_cast<size_t>(n_vocab));
    LogSoftmax(logits, logprobs_);
  }
  int32_t token = -1;
  if (r->processor != nullptr && r->processor->ListAllowed(&allowed_ids_)) {
    if (allowed_ids_.empty()) return -1;
    token = r->sampler.SampleAmong(logits, allowed_ids_);
  } else {
    if (r->processor != nullptr && !r->processor->Mask(logits)) return -1;
    token = r->sampler.Sample(logits);
  }
  if (r->processor != nullptr) r->processor->Accept(token);
  r->sampler.Accept(token, /*is_prompt=*/false);
  if (r->req.logprobs >= 0) {
    TokenLogprob lp;
    lp.token = token;
    lp.logprob = logprobs_[token];
    const int32_t k = std::min<int32_t>(r->req.logprobs, static_cast<int32_t>(n_vocab));
    std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
    for (int32_t i = 0; i < n_vocab; ++i) ids[i] = i;
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(),
                      [&](int32_t a, int32_t b) { return logprobs_[a] > logprobs_[b]; });
    for (int32_t i = 0; i < k; ++i) lp.top.emplace_back(ids[i], logprobs_[ids[i]]);
    out->logprobs.push_back(std::move(lp));
  }
  return token;
}

void Engine::Impl::OnEmptyPlan() {
  if (scheduler_.num_waiting_for_kv() > 0) {
    // What is left to schedule waits for slots or blocks that loads in flight hold.
    blocked_on_loads_ = true;
    return;
  }
  // Nothing fits: the next waiting sequence needs more blocks than the whole cache has (it grew
  // by generation after a preemption). End it rather than spin.
  if (SeqState* s = scheduler_.FrontWaiting()) {
    auto* r = static_cast<LiveRequest*>(s->user);
    log::Warn("request {}: {} tokens no longer fit in the KV cache; finishing it", r->id,
              s->num_tokens());
    Finish(r, FinishReason::kLength, Status::Ok(), MakeOutput(*r));
  }
}

int64_t Engine::Impl::BuildBatch(const StepPlan& plan) {
  batch_.clear();
  batch_stops_.clear();
  int64_t n_rows = 0;
  for (const ScheduledSeq& s : plan.seqs) {
    batch_.push_back({.tokens = std::span<const int32_t>(s.seq->tokens).subspan(s.pos0, s.num_new),
                      .block_table = s.seq->blocks,
                      .pos0 = s.pos0,
                      .logits = s.samples ? model::BatchSequence::Logits::kLast
                                          : model::BatchSequence::Logits::kNone});
    batch_stops_.push_back(static_cast<const LiveRequest*>(s.seq->user)->req.stop_token_ids);
    if (s.samples) ++n_rows;
    if (s.pos0 < s.seq->num_prompt) {
      prompt_computed_ += std::min(s.num_new, s.seq->num_prompt - s.pos0);
    }
  }
  return n_rows;
}

void Engine::Impl::Step() {
  const StepPlan plan = scheduler_.Schedule();
  for (SeqState* seq : plan.loads) StartLoad(seq);
  if (plan.empty()) {
    OnEmptyPlan();
    return;
  }
  ++steps_;
  const int64_t n_rows = BuildBatch(plan);
  const StepBatch step{.seqs = batch_,
                       .stop_token_ids = batch_stops_,
                       .back_to_back = steps_ > 1 && !waited_since_step_};
  waited_since_step_ = false;
  const auto step_start = std::chrono::steady_clock::now();
  Status st;
  if (chooses_tokens_) {
    chosen_.resize(static_cast<size_t>(std::max<int64_t>(n_rows, 1)));
    st = executor_->ExecuteChoosingTokens(step, chosen_);
  } else {
    logits_.resize(static_cast<size_t>(std::max<int64_t>(n_rows, 1) * n_vocab_));
    st = executor_->Execute(step, logits_);
  }
  if (!st.ok()) {
    log::Error("forward pass failed: {}", st.ToString());
    for (const ScheduledSeq& s : plan.seqs) {
      auto* r = static_cast<LiveRequest*>(s.seq->user);
      Finish(r, FinishReason::kError, st, MakeOutput(*r));
    }
    return;
  }
  RecordStep(step, std::chrono::steady_clock::now() - step_start);
  scheduler_.Complete(plan);
  EmitTokens(plan);
}

void Engine::Impl::EmitTokens(const StepPlan& plan) {
  int64_t row = 0;
  for (const ScheduledSeq& s : plan.seqs) {
    if (!s.samples) continue;
    auto* r = static_cast<LiveRequest*>(s.seq->user);
    RequestOutput out = MakeOutput(*r);
    const int32_t token = NextToken(r, row++, &out);
    if (r->processor != nullptr && !r->processor->status().ok()) {
      Finish(r, FinishReason::kError, r->processor->status(), std::move(out));
      continue;
    }
    if (token < 0) {  // the constraint is complete and allows no stop token
      Finish(r, FinishReason::kStop, Status::Ok(), std::move(out));
      continue;
    }
    scheduler_.AppendToken(s.seq, token);
    ++generated_;
    out.tokens.push_back(token);
    out.generated_tokens = s.seq->num_generated();
    const auto& stops = r->req.stop_token_ids;
    FinishReason reason = FinishReason::kNone;
    if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
      reason = FinishReason::kStop;
    } else if (s.seq->num_generated() >= r->req.max_tokens ||
               s.seq->num_tokens() >= config_.scheduler.max_model_len) {
      reason = FinishReason::kLength;
    }
    if (reason == FinishReason::kNone) {
      if (r->callback) r->callback(out);
    } else {
      Finish(r, reason, Status::Ok(), std::move(out));
    }
  }
}

void Engine::Impl::RecordStep(const StepBatch& step, std::chrono::steady_clock::duration took) {
  const StepShapeCounts c = CountStep(step);
  const double wall_s = std::chrono::duration<double>(took).count();
  if (recent_steps_.size() == EngineMetrics::kRecentSteps) recent_steps_.pop_front();
  recent_steps_.push_back({.step = steps_,
                           .prefill_tokens = c.prefill_tokens,
                           .decode_seqs = c.decode_seqs,
                           .decode_kv_tokens = c.decode_kv_tokens,
                           .seconds = executor_->DeviceSeconds(wall_s)});
  busy_seconds_ += wall_s;
  // What a block of prompt costs to compute, for Lookup's load-or-recompute choice: steps that
  // are mostly prefill, smoothed.
  if (c.prefill_tokens >= config_.block_size && c.prefill_tokens >= 4 * c.decode_seqs) {
    const double per_block = wall_s / static_cast<double>(c.prefill_tokens + c.decode_seqs) *
                             static_cast<double>(config_.block_size);
    recompute_s_per_block_ =
        recompute_s_per_block_ == 0 ? per_block : 0.8 * recompute_s_per_block_ + 0.2 * per_block;
  }
}

void Engine::Impl::PublishMetrics() {
  const SchedulerStats ss = scheduler_.Stats();
  EngineMetrics m;
  m.running = ss.running;
  m.waiting = ss.waiting;
  m.waiting_prefill_tokens = ss.waiting_prefill_tokens;
  m.preemptions = ss.preemptions;
  m.blocks = pool_.Stats();
  m.steps = steps_;
  m.busy_seconds = busy_seconds_;
  m.requests_finished = finished_;
  m.requests_aborted = aborted_;
  m.prompt_tokens = prompt_computed_;
  m.generated_tokens = generated_;
  m.last_kv_event_id = pool_.last_event_id();
  m.waiting_for_kv = ss.waiting_for_kv;
  m.kv_exports_pending = exports_pending_;
  m.kv_exports = kv_exports_;
  m.kv_loads = kv_loads_;
  m.kv_load_failures = kv_load_failures_;
  m.kv_blocks_loaded = kv_blocks_loaded_;
  m.kv_blocks_skipped = kv_blocks_skipped_;
  m.kv_onboards = kv_onboards_;
  m.kv_onboard_failures = kv_onboard_failures_;
  m.kv_blocks_onboarded = kv_blocks_onboarded_;
  m.recompute_seconds_per_block = recompute_s_per_block_;
  m.recent_steps.assign(recent_steps_.begin(), recent_steps_.end());
  m.max_num_batched_tokens = scheduler_.config().max_num_batched_tokens;
  std::lock_guard<std::mutex> lk(metrics_mu_);
  metrics_ = m;
  unpublished_.seqs -= ingested_.seqs;
  unpublished_.tokens -= ingested_.tokens;
  ingested_ = {};
}

}  // namespace mint::engine
