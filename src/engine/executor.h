// StepExecutor: what computes one engine step. The engine owns scheduling, the block pool, the
// prefix cache, sampling and the request lifecycle; the executor only turns a planned ragged batch
// into logits. The real one runs the model over its paged KV arena (Engine::Create builds it); a
// simulated one (src/mocker) sleeps for a predicted step time and writes synthetic logits, so the
// rest of the engine runs unchanged without a model.
//
// Thread-safety: an executor is called only from its engine's loop thread, one step at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "core/status.h"
#include "model/model.h"

namespace mint::engine {

// One planned step as the executor sees it.
struct StepBatch {
  // The sequences of the step, decodes first, then prefill chunks. Block tables index the
  // engine's KV blocks [0, num_kv_blocks).
  std::span<const model::BatchSequence> seqs{};
  // Per entry of `seqs`: the request's stop token ids. A real executor ignores them; a simulated
  // one keeps its synthetic tokens out of them so requests run to max_tokens.
  std::span<const std::span<const int32_t>> stop_token_ids{};
  // The engine went straight from its previous step to this one (it never waited for work in
  // between): what separates them is the engine's own CPU time. A simulated executor starts this
  // step where the previous one ended, so that time is not counted as simulated device time.
  bool back_to_back = false;
};

// What a step computes, in the terms a step-time model uses (the mocker's TimingModel, the
// router's StepTimeModel): an entry with more than one new token or starting at position 0 is
// prefill (its new tokens count, and each attends the pos0 tokens cached before its chunk); the
// others decode one token at context pos0 + 1.
struct StepShapeCounts {
  int64_t prefill_tokens = 0;
  int64_t prefill_kv_tokens = 0;  // sum over prefill entries of new tokens x pos0
  int64_t decode_seqs = 0;
  int64_t decode_kv_tokens = 0;
  // Adds one entry of `num_new` tokens starting at `pos0`.
  void Add(int64_t pos0, int64_t num_new) {
    if (num_new > 1 || pos0 == 0) {
      prefill_tokens += num_new;
      prefill_kv_tokens += num_new * pos0;
    } else {
      ++decode_seqs;
      decode_kv_tokens += pos0 + num_new;
    }
  }
};
inline StepShapeCounts CountStep(const StepBatch& step) {
  StepShapeCounts c;
  for (const model::BatchSequence& s : step.seqs) {
    c.Add(s.pos0, static_cast<int64_t>(s.tokens.size()));
  }
  return c;
}

class StepExecutor {
 public:
  virtual ~StepExecutor() = default;

  // Vocabulary size: the width of a logits row and the range of valid token ids.
  virtual int64_t n_vocab() const = 0;
  // Trained context (the default max_model_len); <= 0: unknown.
  virtual int64_t n_ctx_train() const = 0;

  // Computes the step: for every sequence the new tokens' keys and values are stored in its
  // blocks, and for each entry with Logits::kLast one row of n_vocab logits is written to
  // `logits`, in batch order. `logits` holds at least that many rows. On error the engine
  // finishes every sequence of the step with kError.
  [[nodiscard]] virtual Status Execute(const StepBatch& step, std::span<float> logits) = 0;

  // The KV memory the executor writes (model/kv_arena.h), for KV connectors; a simulated
  // executor has none.
  virtual uint8_t* kv_base() const { return nullptr; }
  virtual int64_t kv_block_bytes() const { return 0; }
  // Runs fn once on each thread the executor computes on (the caller included); called on the
  // engine's loop thread. Default: the caller only.
  virtual void OnEachThread(const std::function<void()>& fn) { fn(); }

  // The step just computed, in the time of the device the executor stands for, given the wall
  // time the engine measured around Execute: that wall time for a real executor; a simulated
  // one's timing-model time (not divided by its speed-up). The step samples of load reports
  // carry it, so a router's step-time model learns in the unit of its prior whatever a mocker's
  // speed-up.
  virtual double DeviceSeconds(double wall_seconds) const { return wall_seconds; }

  // Capability: the executor picks each sampled row's next token itself (a simulation), so the
  // engine calls ExecuteChoosingTokens instead of Execute and skips the logits and the sampler
  // (a full-vocabulary pass per token). A chosen token has probability 1: logprob 0, and it is
  // the only top-logprob entry. Constant for the executor's lifetime.
  virtual bool chooses_tokens() const { return false; }
  // As Execute, but writes one token id (in [0, n_vocab)) per entry with Logits::kLast, in batch
  // order; `tokens` holds at least that many.
  [[nodiscard]] virtual Status ExecuteChoosingTokens(const StepBatch& step,
                                                     std::span<int32_t> tokens) {
    (void)step;
    (void)tokens;
    return Status::Unsupported("this executor does not choose tokens");
  }
};

}  // namespace mint::engine
