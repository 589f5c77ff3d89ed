// `mint perf`: engine speed on one model, measured the way llama-bench measures it: prompt
// processing of -p tokens in one batch (pp), and generation of -n tokens one at a time (tg),
// each repeated -r times; plus memory bandwidth (a read-only stream, which is what decode does, and
// the STREAM triad) and the decode bound the higher of them implies.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "core/clock.h"
#include "core/cpu.h"
#include "core/progress.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/kv_arena.h"
#include "model/logits_diff.h"
#include "model/model.h"

namespace mint::apps {
namespace {

struct PerfArgs {
  std::string model;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int64_t depth = 0;
  std::string cache_type = "f16";
  int threads = 2;
  int reps = 3;
  bool bandwidth = true;
};

struct Sample {
  double mean = 0, sd = 0;
};

Sample Summarize(const std::vector<double>& v) {
  Sample s;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / (v.size() - 1)) : 0;
  return s;
}

// Memory bandwidth in GB/s, best of 5 passes over arrays far larger than the caches, split across
// the pool's threads.
struct Bandwidth {
  double read = 0;   // one 512 MiB array read with the widest loads (kernels::MaxValue)
  double triad = 0;  // STREAM triad a = b + s * c (3 arrays of traffic counted, as STREAM does)
};

template <typename Fn>
double BestGbps(ThreadPool* pool, int64_t n, double bytes, Fn&& body) {
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const int64_t t0 = SystemClock::Get().NowNanos();
    pool->ParallelFor(n, 1 << 16, body);
    const double secs = (SystemClock::Get().NowNanos() - t0) * 1e-9;
    best = std::max(best, bytes / secs / 1e9);
  }
  return best;
}

Bandwidth MeasureBandwidth(ThreadPool* pool) {
  Bandwidth bw;
  const int64_t n = int64_t{64} << 20;  // 64 Mi floats = 256 MiB per array
  {
    const std::vector<float> x(2 * n, 1.0f);  // filled here, so no page faults in the timed passes
    std::atomic<int64_t> sink{0};
    bw.read = BestGbps(pool, 2 * n, 2.0 * n * sizeof(float), [&](int64_t s, int64_t e) {
      if (kernels::MaxValue(x.data() + s, e - s) > 1.0f) sink.fetch_add(1);
    });
  }
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  bw.triad = BestGbps(pool, n, 3.0 * n * sizeof(float), [&](int64_t s, int64_t e) {
    float* pa = a.data();
    const float* pb = b.data();
    const float* pc = c.data();
    for (int64_t i = s; i < e; ++i) pa[i] = pb[i] + 3.0f * pc[i];
  });
  return bw;
}

// One model's timed runs: sequences pre-filled to --depth, pp and tg rates per repetition.
class PerfRunner {
 public:
  PerfRunner(const PerfArgs& a, const model::Model& m, DType kv_type)
      : a_(a),
        m_(m),
        kv_type_(kv_type),
        pool_(a.threads),
        prompt_(model::SpreadTokenIds(static_cast<int>(a.n_prompt), m.config().n_vocab)),
        logits_(m.config().n_vocab) {}

  ThreadPool* pool() { return &pool_; }

  // A sequence with room for n tokens after --depth tokens, which it already holds (filled once,
  // untimed, in chunks of 512); every repetition rewinds to them, as llama-bench -d measures.
  Result<std::unique_ptr<model::Sequence>> NewSequence(int64_t n) {
    auto seq = m_.NewSequence(a_.depth + n, kv_type_);
    std::vector<int32_t> chunk;
    for (int64_t done = 0; done < a_.depth; done += static_cast<int64_t>(chunk.size())) {
      chunk.resize(static_cast<size_t>(std::min<int64_t>(512, a_.depth - done)));
      for (size_t i = 0; i < chunk.size(); ++i) {
        chunk[i] = static_cast<int32_t>((done + i) * 104729 % m_.config().n_vocab);
      }
      MINT_RETURN_IF_ERROR(m_.Forward(seq.get(), chunk, logits_, false, &pool_));
    }
    return seq;
  }

  // Prompt tokens per second of one -p batch after the depth.
  Result<double> TimePrompt(model::Sequence* seq) {
    seq->Truncate(a_.depth);
    const int64_t t0 = SystemClock::Get().NowNanos();
    MINT_RETURN_IF_ERROR(m_.Forward(seq, prompt_, logits_, false, &pool_));
    return a_.n_prompt / ((SystemClock::Get().NowNanos() - t0) * 1e-9);
  }

  // Tokens per second of -n greedy steps at batch 1 after the depth.
  Result<double> TimeGeneration(model::Sequence* seq) {
    seq->Truncate(a_.depth);
    int32_t token = prompt_.empty() ? 1 : prompt_[0];
    const int64_t t0 = SystemClock::Get().NowNanos();
    for (int64_t i = 0; i < a_.n_gen; ++i) {
      MINT_RETURN_IF_ERROR(m_.Forward(seq, std::span(&token, 1), logits_, false, &pool_));
      token =
          static_cast<int32_t>(std::max_element(logits_.begin(), logits_.end()) - logits_.begin());
    }
    return a_.n_gen / ((SystemClock::Get().NowNanos() - t0) * 1e-9);
  }

 private:
  const PerfArgs& a_;
  const model::Model& m_;
  const DType kv_type_;
  ThreadPool pool_;
  std::vector<int32_t> prompt_;
  std::vector<float> logits_;
};

// The llama-bench-style table, and the bandwidth bound next to the decode rate.
void PrintResults(const PerfArgs& a, const model::Model& m, const std::vector<double>& pp,
                  const std::vector<double>& tg, ThreadPool* pool) {
  const std::string at = a.depth > 0 ? " @ d" + std::to_string(a.depth) : "";
  std::printf("| test   |          t/s |\n|--------|-------------:|\n");
  if (!pp.empty()) {
    Sample s = Summarize(pp);
    std::printf("| pp%lld%s | %8.2f ± %.2f |\n", static_cast<long long>(a.n_prompt), at.c_str(),
                s.mean, s.sd);
  }
  if (tg.empty()) return;
  Sample s = Summarize(tg);
  std::printf("| tg%lld%s | %8.2f ± %.2f |\n", static_cast<long long>(a.n_gen), at.c_str(), s.mean,
              s.sd);
  if (!a.bandwidth) return;
  const Bandwidth bw = MeasureBandwidth(pool);
  // The higher probe: neither is sure to reach what the machine streams (on a Zen 5 VM the read
  // stream gave 45-53 GB/s, the triad 52-60, the packed decode kernels up to 59).
  const double bound = std::max(bw.read, bw.triad) * 1e9 / m.WeightBytesPerToken();
  std::printf(
      "memory bandwidth (%d threads): read %.2f GB/s, triad %.2f GB/s -> decode bound %.1f t/s "
      "(weights read once per token at the higher rate); measured decode = %.0f%% of bound\n",
      a.threads, bw.read, bw.triad, bound, 100.0 * s.mean / bound);
}

int Run(const PerfArgs& a) {
  auto kv_type = model::ParseKvCacheType(a.cache_type);
  if (!kv_type.ok()) return Fail(kv_type.status());
  auto loaded = LoadModelWithProgress(a.model);
  if (!loaded.ok()) return Fail(loaded.status());
  const model::Model& m = **loaded;
  std::printf("model: %s\nfile: %s (%.1f MiB), weights read per token: %.1f MiB\n",
              m.config().Summary().c_str(), a.model.c_str(), m.file().file_size() / 1048576.0,
              m.WeightBytesPerToken() / 1048576.0);
  std::printf("threads: %d, kernels: %s, KV cache: %s, cpu: %s\n", a.threads,
              kernels::IsaName(kernels::BestIsa()), a.cache_type.c_str(), Cpu().ToString().c_str());
  PerfRunner runner(a, m, *kv_type);
  // pp and tg each get their own sequence (none when skipped); tg has room for one more token.
  Result<std::unique_ptr<model::Sequence>> pp_seq = std::unique_ptr<model::Sequence>();
  Result<std::unique_ptr<model::Sequence>> tg_seq = std::unique_ptr<model::Sequence>();
  if (a.n_prompt > 0) pp_seq = runner.NewSequence(a.n_prompt);
  if (!pp_seq.ok()) return Fail(pp_seq.status());
  if (a.n_gen > 0) tg_seq = runner.NewSequence(a.n_gen + 1);
  if (!tg_seq.ok()) return Fail(tg_seq.status());
  std::vector<double> pp, tg;
  ProgressBar bar("benchmark", false);
  for (int rep = 0; rep <= a.reps; ++rep) {  // rep 0 warms up and is not counted
    if (*pp_seq) {
      auto rate = runner.TimePrompt(pp_seq->get());
      if (!rate.ok()) return Fail(rate.status());
      if (rep > 0) pp.push_back(*rate);
    }
    if (*tg_seq) {
      auto rate = runner.TimeGeneration(tg_seq->get());
      if (!rate.ok()) return Fail(rate.status());
      if (rep > 0) tg.push_back(*rate);
    }
    bar.Update(rep + 1, a.reps + 1);
  }
  bar.Finish();
  PrintResults(a, m, pp, tg, runner.pool());
  return 0;
}

}  // namespace

CommandFn RegisterPerf(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "perf",
      "Measure engine speed on one model like llama-bench: prompt processing (pp) of -p tokens "
      "in one batch and generation (tg) of -n tokens at batch 1, averaged over -r runs after a "
      "warm-up; then memory bandwidth (a read-only stream and the STREAM triad) and the decode "
      "bound the higher of them implies.");
  auto a = std::make_shared<PerfArgs>();
  cmd->add_option("-m,--model", a->model, "GGUF model")->required()->check(CLI::ExistingFile);
  cmd->add_option("-p,--n-prompt", a->n_prompt, "Prompt tokens (0 = skip)")->capture_default_str();
  cmd->add_option("-n,--n-gen", a->n_gen, "Generated tokens (0 = skip)")->capture_default_str();
  cmd->add_option("-d,--depth", a->depth,
                  "Tokens already in the context before each test (as llama-bench -d): filled "
                  "once, untimed; every run starts from them")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-k,--cache-type", a->cache_type,
                  "KV cache element type: f16 (as llama-bench's default and mint serve's), f32, "
                  "q8_0")
      ->capture_default_str()
      ->check(CLI::IsMember({"f16", "f32", "q8_0"}));
  cmd->add_option("-t,--threads", a->threads, "Threads")->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("-r,--repetitions", a->reps, "Timed runs")->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("!--no-bandwidth,!--no-triad", a->bandwidth,
                "Skip the memory bandwidth measurement (read stream and triad)");
  return [a]() { return Run(*a); };
}

}  // namespace mint::apps
