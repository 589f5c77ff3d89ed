// Mocker: an engine whose steps are simulated. Everything but the forward pass is Mint's real
// engine — scheduler, block pool, prefix cache, KV events, preemption, aborts, metrics — and the
// forward pass is a SimulatedExecutor: it sleeps for the step time a TimingModel predicts
// (divided by `speedup`) and writes logits that make the sampler pick a deterministic synthetic
// token. No model file and no KV memory, so hundreds of mockers fit on one machine: router,
// planner and frontend scale tests without GPUs (as Dynamo's mocker).
//
// Thread-safety: CreateMockerEngine is thread-safe; the engine is as engine.h states. A
// SimulatedExecutor belongs to one engine's loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"
#include "core/clock.h"
#include "engine/executor.h"
#include "mocker/timing_model.h"

namespace mint::mocker {

struct MockerOptions {
  int32_t block_size = 16;
  int64_t num_blocks = 16384;  // simulated KV cache: num_blocks * block_size tokens
  int32_t max_num_seqs = 256;
  int32_t max_num_batched_tokens = 8192;
  int64_t max_model_len = 8192;  // prompt + generated tokens per sequence
  int64_t vocab = 32000;  // must cover the frontend tokenizer's ids (prompts are validated)
  double speedup = 1.0;   // simulated time / wall time; > 0
  // Empty: Dynamo's polynomial defaults; else a profile file (timing_model.h format).
  std::string timing_profile{};
  bool enable_prefix_cache = true;
  uint64_t cache_salt = 0;
  int32_t max_queued = 1024;
  uint64_t token_seed = 0;  // enters the synthetic token choice (same seed: same outputs)
  bool choose_tokens = true;  // SimulatedExecutor::Options::choose_tokens (false: via logits)
  // Constrained decoding (engine/logits_processor.h): requests with a grammar get the first
  // allowed token at or after the synthetic choice. Empty: such requests are refused.
  engine::LogitsProcessorFactory logits_processor_factory{};
  // Paces the steps: null = the system clock (steps take wall time); a FakeClock runs the
  // engine in virtual time (each step jumps the clock by its predicted duration). Must outlive
  // the engine.
  const Clock* clock = nullptr;
  // Blocks held outside the simulated pool (a kvstore::SimulatedTiers); not owned, must outlive
  // the engine. Null: none.
  engine::KvConnector* kv_connector = nullptr;
  // A failed KV import (a decode mocker's pull): recompute the prompt, or fail the request.
  bool kv_load_failure_recompute = true;
  // Validates ranges; errors name the field.
  Status Validate() const;
};

// Sleeps each step for TimingModel::StepMs / speedup and picks, per sampled row, a token by
// hashing (token_seed, the position, the last input token), stepping past the request's stop ids:
// outputs are deterministic and requests end on max_tokens. With choose_tokens (the default) it
// hands the engine the tokens themselves (chooses_tokens(): no logits, no sampler, so a step
// costs O(batch) whatever the vocabulary); without, it writes logits with one peak (0; every other
// entry -1e4) that the sampler picks whatever the sampling parameters (the same tokens).
//
// Step shape: an entry with more than one new token or starting at position 0 is prefill (its
// new tokens count); the others decode one token at context pos0 + 1.
//
// A step the engine runs back to back with the previous one (StepBatch::back_to_back: it never
// waited for work in between) is timed from the previous step's end, not from now, so the
// engine's own CPU time between steps (scheduling, output delivery; multiplied by --speedup in
// simulated time) does not accumulate: deadline = max(now, previous deadline + step time). After
// a wait for work: max(now, previous deadline) + step time.
class SimulatedExecutor final : public engine::StepExecutor {
 public:
  struct Options {
    int64_t vocab = 32000;
    int64_t n_ctx_train = 0;
    int64_t kv_capacity_tokens = 0;
    double speedup = 1.0;
    uint64_t token_seed = 0;
    bool choose_tokens = true;
    const Clock* clock = nullptr;  // null: SystemClock
  };
  SimulatedExecutor(TimingModel timing, const Options& options);

  int64_t n_vocab() const override { return options_.vocab; }
  int64_t n_ctx_train() const override { return options_.n_ctx_train; }
  Status Execute(const engine::StepBatch& step, std::span<float> logits) override;
  bool chooses_tokens() const override { return options_.choose_tokens; }
  Status ExecuteChoosingTokens(const engine::StepBatch& step, std::span<int32_t> tokens) override;
  // The last step's simulated time: the timing model's, before the speed-up.
  double DeviceSeconds(double) const override { return last_step_s_; }

  // The step's shape as the timing model sees it (exposed for tests).
  StepShape ShapeOf(const engine::StepBatch& step) const;
  // The token a row with this last position and token gets, before avoiding stop ids.
  static int32_t SyntheticToken(uint64_t seed, int64_t position, int32_t last_token,
                                int64_t vocab);

 private:
  // Sets deadline_ to the end of this step.
  void StartStep(const engine::StepBatch& step);
  // Calls fn(row, token) for each sampled entry.
  template <typename Fn>
  void ForEachToken(const engine::StepBatch& step, Fn fn) const;

  TimingModel timing_;
  Options options_;
  const Clock* clock_;
  int64_t deadline_ns_ = 0;  // end of the previous simulated step, on clock_
  double last_step_s_ = 0;   // the last step's timing-model seconds
};

// A ready engine with a SimulatedExecutor (loads options.timing_profile when set). Errors:
// kInvalidArgument for bad options, the profile's errors.
Result<std::unique_ptr<engine::Engine>> CreateMockerEngine(const MockerOptions& options);

}  // namespace mint::mocker
