// `mint run`: generate a continuation of one prompt and report prompt / generation speed.
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "apps/engine_options.h"
#include "core/cpu.h"
#include "core/log.h"
#include "engine/engine.h"
#include "engine/generate.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace mint::apps {
namespace {

struct RunArgs {
  std::string model;
  std::string prompt;
  std::string tokens;
  int64_t n_predict = 128;
  int threads = 0;
  int64_t ctx = 0;
  bool no_bos = false;
  bool ignore_eos = false;
  bool print_ids = false;
  engine::SamplingParams sampling;
  int64_t seed = -1;
  int parallel = 0;
  int64_t random_prompt = 0;
  EngineArgs engine;
};

Result<std::vector<int32_t>> ParseIds(const std::string& text) {
  std::vector<int32_t> ids;
  std::string item;
  std::stringstream in(text);
  while (in >> item) {
    for (char& ch : item) {
      if (ch == ',') ch = ' ';
    }
    std::stringstream parts(item);
    std::string part;
    while (parts >> part) {
      char* end = nullptr;
      const long v = std::strtol(part.c_str(), &end, 10);
      if (*end != 0 || v < 0 || v > INT32_MAX) {
        return Status::InvalidArgument("--tokens: '" + part + "' is not a token id");
      }
      ids.push_back(static_cast<int32_t>(v));
    }
  }
  if (ids.empty()) return Status::InvalidArgument("--tokens: no token ids given");
  return ids;
}


// N sequences through the serving engine at once; reports aggregate prompt and decode speed.
// Decode speed counts the tokens produced after every sequence has its first token, over the
// time from then to the end (the window in which all N decode together).
int RunParallel(const RunArgs& a, const model::Model& model, const tokenizer::Tokenizer& tok,
                const std::vector<int32_t>& prompt, int n_threads) {
  using Clock = std::chrono::steady_clock;
  auto cfg = MakeEngineConfig(a.engine);
  if (!cfg.ok()) return Fail(cfg.status());
  cfg->threads = n_threads;
  auto eng = engine::Engine::Create(&model, *cfg);
  if (!eng.ok()) return Fail(eng.status());
  std::vector<int32_t> eog;
  if (!a.ignore_eos) {
    for (int32_t t = 0; t < tok.vocab_size(); ++t) {
      if (tok.IsEndOfGeneration(t)) eog.push_back(t);
    }
  }
  const int n = a.parallel;
  struct Seq {
    std::vector<int32_t> prompt, tokens;
    std::vector<Clock::time_point> arrivals;
    engine::FinishReason finish = engine::FinishReason::kNone;
    Status error;
  };
  std::vector<Seq> seqs(n);
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    Seq& s = seqs[i];
    if (a.random_prompt > 0) {
      std::mt19937 rng(static_cast<uint32_t>(i + 1));
      if (tok.bos_id() >= 0 && !a.no_bos) s.prompt.push_back(tok.bos_id());
      const int32_t lo = std::min<int32_t>(300, tok.vocab_size() / 2);
      std::uniform_int_distribution<int32_t> pick(lo, tok.vocab_size() - 1);
      while (static_cast<int64_t>(s.prompt.size()) < a.random_prompt) s.prompt.push_back(pick(rng));
    } else {
      s.prompt = prompt;
    }
    engine::Request r;
    r.prompt = s.prompt;
    r.sampling = a.sampling;
    if (r.sampling.has_seed) r.sampling.seed += static_cast<uint64_t>(i);
    r.max_tokens = a.n_predict;
    r.stop_token_ids = eog;
    auto id = (*eng)->Submit(std::move(r), [&, i](const engine::RequestOutput& o) {
      std::lock_guard<std::mutex> lk(mu);
      Seq& q = seqs[i];
      for (int32_t t : o.tokens) {
        q.tokens.push_back(t);
        q.arrivals.push_back(Clock::now());
      }
      if (o.finish != engine::FinishReason::kNone) {
        q.finish = o.finish;
        q.error = o.error;
        ++done;
        cv.notify_all();
      }
    });
    if (!id.ok()) return Fail(id.status());
  }
  {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return done == n; });
  }
  const auto t_end = Clock::now();
  Clock::time_point all_first = t0;
  int64_t prompt_tokens = 0, generated = 0;
  for (const Seq& s : seqs) {
    if (s.finish == engine::FinishReason::kError) return Fail(s.error);
    prompt_tokens += static_cast<int64_t>(s.prompt.size());
    generated += static_cast<int64_t>(s.tokens.size());
    if (!s.arrivals.empty()) all_first = std::max(all_first, s.arrivals.front());
  }
  int64_t decode_tokens = 0;
  for (const Seq& s : seqs) {
    for (const auto& t : s.arrivals) decode_tokens += t > all_first;
  }
  const double prefill_s = std::chrono::duration<double>(all_first - t0).count();
  const double decode_s = std::chrono::duration<double>(t_end - all_first).count();
  for (int i = 0; i < std::min(n, 4); ++i) {
    std::printf("[%d] %s\n", i, tok.Decode(seqs[i].tokens, /*skip_special=*/true).c_str());
  }
  const engine::EngineMetrics m = (*eng)->Metrics();
  std::fprintf(stderr,
               "parallel %d: prompt %lld tokens (%lld from cache) in %.3f s, %.2f tok/s | "
               "generation %lld tokens | decode %.2f tok/s aggregate, %.2f per sequence | "
               "preemptions %llu | threads %d\n",
               n, static_cast<long long>(prompt_tokens),
               static_cast<long long>(prompt_tokens - static_cast<int64_t>(m.prompt_tokens)),
               prefill_s, prefill_s > 0 ? prompt_tokens / prefill_s : 0.0,
               static_cast<long long>(generated), decode_s > 0 ? decode_tokens / decode_s : 0.0,
               decode_s > 0 ? decode_tokens / decode_s / n : 0.0,
               static_cast<unsigned long long>(m.preemptions), n_threads);
  return 0;
}

int Run(RunArgs a) {
  if (a.seed >= 0) {
    a.sampling.seed = static_cast<uint64_t>(a.seed);
    a.sampling.has_seed = true;
  }
  if (Status s = a.sampling.Validate(); !s.ok()) return Fail(s);
  if (!a.prompt.empty() && !a.tokens.empty()) {
    return Fail(Status::InvalidArgument("give either -p or --tokens, not both"));
  }
  auto loaded = LoadModelWithProgress(a.model);
  if (!loaded.ok()) return Fail(loaded.status());
  std::unique_ptr<model::Model> model = std::move(loaded).value();
  const model::ModelConfig& cfg = model->config();
  log::Info("model: {}", cfg.Summary());
  auto tok = tokenizer::Tokenizer::FromGguf(model->file());
  if (!tok.ok()) return Fail(tok.status().WithContext("tokenizer"));
  const tokenizer::Tokenizer& tokenizer = **tok;

  std::vector<int32_t> prompt;
  if (!a.tokens.empty()) {
    auto ids = ParseIds(a.tokens);
    if (!ids.ok()) return Fail(ids.status());
    prompt = *ids;
  } else if (!a.prompt.empty()) {
    auto ids = tokenizer.Encode(a.prompt, /*add_special=*/!a.no_bos, /*parse_special=*/false);
    if (!ids.ok()) return Fail(ids.status());
    prompt = *ids;
  }
  if (prompt.empty()) {
    if (tokenizer.bos_id() < 0) {
      return Fail(Status::InvalidArgument("empty prompt and the vocabulary has no BOS token"));
    }
    prompt.push_back(tokenizer.bos_id());  // start from BOS alone
  }

  const int n_threads = a.threads > 0 ? a.threads : ThreadPool::HardwareThreads();
  ThreadPool pool(n_threads);
  log::Info("threads: {}, kernels: {} (cpu: {})", n_threads,
            kernels::IsaName(kernels::BestIsa()), Cpu().ToString());
  if (a.parallel > 0) return RunParallel(a, *model, tokenizer, prompt, n_threads);
  const int64_t capacity =
      a.ctx > 0 ? a.ctx : static_cast<int64_t>(prompt.size()) + a.n_predict;
  auto seq = model->NewSequence(capacity);

  engine::GenerateOptions opts{.max_new_tokens = a.n_predict, .sampling = a.sampling,
                               .is_end_of_generation = nullptr};
  if (!a.ignore_eos) {
    opts.is_end_of_generation = [&](int32_t t) { return tokenizer.IsEndOfGeneration(t); };
  }
  tokenizer::IncrementalDetokenizer detok(tokenizer);
  detok.Prime(prompt);  // the continuation keeps its leading space after a text prompt
  if (!a.prompt.empty()) std::fputs(a.prompt.c_str(), stdout);  // echo, as llama.cpp does
  std::vector<int32_t> generated;
  auto stats = engine::Generate(*model, seq.get(), prompt, opts, &pool,
                                [&](int32_t token, std::span<const float>) {
                                  generated.push_back(token);
                                  if (!tokenizer.IsEndOfGeneration(token) || a.ignore_eos) {
                                    std::fputs(detok.Push(token).c_str(), stdout);
                                    std::fflush(stdout);
                                  }
                                  return true;
                                });
  std::fputs(detok.Flush().c_str(), stdout);
  std::fputc('\n', stdout);
  if (!stats.ok()) return Fail(stats.status());
  if (a.print_ids) {
    std::string ids;
    for (int32_t t : generated) ids += std::to_string(t) + " ";
    std::fprintf(stderr, "generated ids: %s\n", ids.c_str());
  }
  std::fprintf(stderr,
               "prompt: %lld tokens, %.2f tok/s | generation: %lld tokens, %.2f tok/s | "
               "threads %d\n",
               static_cast<long long>(stats->prompt_tokens), stats->PrefillTokensPerSecond(),
               static_cast<long long>(stats->generated_tokens), stats->DecodeTokensPerSecond(),
               n_threads);
  return 0;
}

}  // namespace

CommandFn RegisterRun(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "run",
      "Generate a continuation of one prompt on CPU and report prompt and generation speed.\n"
      "With neither -p nor --tokens, generation starts from the BOS token alone.");
  auto a = std::make_shared<RunArgs>();
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text (BOS is added unless --no-bos)");
  cmd->add_option("--tokens", a->tokens, "Prompt as token ids, e.g. \"1 403 407\" or 1,403,407");
  cmd->add_option("-n,--n-predict", a->n_predict, "Tokens to generate")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all available cores)");
  cmd->add_option("-c,--ctx", a->ctx, "KV cache positions (default: prompt + n-predict)");
  cmd->add_option("--temp", a->sampling.temperature, "Temperature; 0 = greedy")
      ->capture_default_str();
  cmd->add_option("--top-k", a->sampling.top_k, "Top-k (0 = off)")->capture_default_str();
  cmd->add_option("--top-p", a->sampling.top_p, "Top-p nucleus mass")->capture_default_str();
  cmd->add_option("--min-p", a->sampling.min_p, "Min-p relative to the top token")
      ->capture_default_str();
  cmd->add_option("--repeat-penalty", a->sampling.repetition_penalty,
                  "Repetition penalty over prompt and output (1 = off)")->capture_default_str();
  cmd->add_option("--frequency-penalty", a->sampling.frequency_penalty,
                  "OpenAI frequency penalty [-2, 2]")->capture_default_str();
  cmd->add_option("--presence-penalty", a->sampling.presence_penalty,
                  "OpenAI presence penalty [-2, 2]")->capture_default_str();
  cmd->add_option("-s,--seed", a->seed, "Sampling seed (same seed, same output); -1 = random")
      ->capture_default_str();
  cmd->add_flag("--no-bos", a->no_bos, "Do not add BOS to a text prompt");
  cmd->add_flag("--ignore-eos", a->ignore_eos, "Keep generating past end-of-generation tokens");
  cmd->add_flag("--print-ids", a->print_ids, "Print the generated token ids to stderr");
  cmd->add_option("--parallel", a->parallel,
                  "Run N sequences together through the serving engine (continuous batching, "
                  "paged KV cache) and report aggregate tokens/s; prints the first 4 outputs")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--random-prompt", a->random_prompt,
                  "With --parallel: give each sequence its own prompt of K random token ids "
                  "(seeded by its index) instead of -p/--tokens")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  AddEngineOptions(cmd, &a->engine);
  return [a]() { return Run(*a); };
}

}  // namespace mint::apps
