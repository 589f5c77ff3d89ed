#include "mocker/mocker.h"

#include <algorithm>
#include <thread>

#include "core/log.h"

namespace mint::mocker {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

constexpr float kPeakLogit = 0.0f;
// Far enough below the peak that no temperature or penalty the sampler accepts brings another
// token back (exp(-1e4 / 2) underflows to 0), yet finite so logprobs stay printable.
constexpr float kFloorLogit = -1e4f;

}  // namespace

Status MockerOptions::Validate() const {
  if (block_size < 1 || block_size > 1024) {
    return Status::InvalidArgument("block_size: must be in [1, 1024]");
  }
  if (num_blocks < 1 || num_blocks > INT32_MAX) {
    return Status::InvalidArgument("num_blocks: must be in [1, 2^31)");
  }
  if (max_num_seqs < 1) return Status::InvalidArgument("max_num_seqs: must be >= 1");
  if (max_num_batched_tokens < 1) {
    return Status::InvalidArgument("max_num_batched_tokens: must be >= 1");
  }
  if (max_model_len < 2) return Status::InvalidArgument("max_model_len: must be >= 2");
  if (vocab < 2 || vocab > INT32_MAX) return Status::InvalidArgument("vocab: must be in [2, 2^31)");
  if (!(speedup > 0) || speedup > 1e9) {
    return Status::InvalidArgument("speedup: must be > 0 (and at most 1e9)");
  }
  if (max_queued < 1) return Status::InvalidArgument("max_queued: must be >= 1");
  return Status::Ok();
}

SimulatedExecutor::SimulatedExecutor(TimingModel timing, const Options& options)
    : timing_(std::move(timing)),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : &SystemClock::Get()) {}

int32_t SimulatedExecutor::SyntheticToken(uint64_t seed, int64_t position, int32_t last_token,
                                          int64_t vocab) {
  const uint64_t h = Mix(Mix(seed ^ static_cast<uint64_t>(position)) ^
                         static_cast<uint32_t>(last_token));
  return static_cast<int32_t>(h % static_cast<uint64_t>(vocab));
}

StepShape SimulatedExecutor::ShapeOf(const engine::StepBatch& step) const {
  const engine::StepShapeCounts c = engine::CountStep(step);
  return StepShape{.prefill_tokens = c.prefill_tokens,
                   .prefill_kv_tokens = c.prefill_kv_tokens,
                   .decode_seqs = c.decode_seqs,
                   .decode_kv_tokens = c.decode_kv_tokens,
                   .kv_capacity_tokens = options_.kv_capacity_tokens};
}

void SimulatedExecutor::StartStep(const engine::StepBatch& step) {
  last_step_s_ = timing_.StepMs(ShapeOf(step)) / 1e3;
  const double ms = last_step_s_ * 1e3 / options_.speedup;
  const int64_t now = clock_->NowNanos();
  // Back to back, the step starts where the previous one ended: the engine's CPU time between
  // them (scheduling, delivering outputs) is not simulated device time, which the timing model
  // (and src/sim) already covers. It still cannot end before now.
  const int64_t start = step.back_to_back ? deadline_ns_ : std::max(now, deadline_ns_);
  deadline_ns_ = std::max(now, start + static_cast<int64_t>(ms * 1e6));
}

template <typename Fn>
void SimulatedExecutor::ForEachToken(const engine::StepBatch& step, Fn fn) const {
  const int64_t vocab = options_.vocab;
  size_t row = 0;
  for (size_t i = 0; i < step.seqs.size(); ++i) {
    const model::BatchSequence& s = step.seqs[i];
    if (s.logits == model::BatchSequence::Logits::kNone || s.tokens.empty()) continue;
    const int64_t position = s.pos0 + static_cast<int64_t>(s.tokens.size()) - 1;
    int32_t token = SyntheticToken(options_.token_seed, position, s.tokens.back(), vocab);
    if (i < step.stop_token_ids.size()) {
      const auto stops = step.stop_token_ids[i];
      // Some id among any stops.size() + 1 consecutive ones is free, unless the stop ids cover
      // the whole vocabulary (then the request stops, as it asked).
      for (size_t tries = 0; tries <= stops.size() &&
                             std::find(stops.begin(), stops.end(), token) != stops.end();
           ++tries) {
        token = static_cast<int32_t>((token + 1) % vocab);
      }
    }
    fn(row++, token);
  }
}

Status SimulatedExecutor::Execute(const engine::StepBatch& step, std::span<float> logits) {
  StartStep(step);
  const auto vocab = static_cast<size_t>(options_.vocab);
  ForEachToken(step, [&](size_t row, int32_t token) {
    const std::span<float> out = logits.subspan(row * vocab, vocab);
    std::fill(out.begin(), out.end(), kFloorLogit);
    out[static_cast<size_t>(token)] = kPeakLogit;
  });
  clock_->SleepUntilNanos(deadline_ns_);
  return Status::Ok();
}

Status SimulatedExecutor::ExecuteChoosingTokens(const engine::StepBatch& step,
                                                std::span<int32_t> tokens) {
  StartStep(step);
  ForEachToken(step, [&](size_t row, int32_t token) { tokens[row] = token; });
  clock_->SleepUntilNanos(deadline_ns_);
  return Status::Ok();
}

Result<std::unique_ptr<engine::Engine>> CreateMockerEngine(const MockerOptions& o) {
  MINT_RETURN_IF_ERROR(o.Validate());
  TimingModel timing = TimingModel::Polynomial();
  if (!o.timing_profile.empty()) {
    MINT_ASSIGN_OR_RETURN(timing, TimingModel::LoadProfile(o.timing_profile));
  }
  engine::EngineConfig config{
      .kv_cache_blocks = o.num_blocks,
      .block_size = o.block_size,
      .enable_prefix_cache = o.enable_prefix_cache,
      .cache_salt = o.cache_salt,
      .scheduler = {.max_num_seqs = o.max_num_seqs,
                    .max_num_batched_tokens = o.max_num_batched_tokens,
                    .max_model_len = o.max_model_len},
      .threads = 1,
      .max_queued = o.max_queued,
      .kv_connector = o.kv_connector,
      .kv_load_failure_recompute = o.kv_load_failure_recompute,
      .logits_processor_factory = o.logits_processor_factory,
  };
  auto executor = std::make_unique<SimulatedExecutor>(
      std::move(timing), SimulatedExecutor::Options{
                             .vocab = o.vocab,
                             .n_ctx_train = o.max_model_len,
                             .kv_capacity_tokens = o.num_blocks * o.block_size,
                             .speedup = o.speedup,
                             .token_seed = o.token_seed,
                             .choose_tokens = o.choose_tokens,
                             .clock = o.clock,
                         });
  return engine::Engine::CreateWithExecutor(std::move(executor), config);
}

}  // namespace mint::mocker
