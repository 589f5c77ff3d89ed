// `mint profile`: measures the real engine's step times on one model and writes the timing
// profile `mint mocker --timing-profile` loads (format: src/mocker/timing_model.h).
//
// Every point is a real engine step timed on the loop thread (the output callback runs right
// after a step's sampling, so the gap between two outputs of one request is one step):
//  - prefill: one request of n fresh tokens and max_tokens 1 (one step computes the whole prompt;
//    its time is from the Submit to the output), n = 16, 32, ... --max-prefill;
//  - decode: b requests of 16-token prompts, prefilled together, then decoding together; the
//    median gap between outputs is the decode step time at batch b, b = 1, 2, 4, ... --max-batch;
//  - decode_ms_per_kv_token: batch 1 at a long context against batch 1 at 16 tokens;
//  - prefill_ms_per_kv_token: 128 new tokens after 1,024 cached ones (prefix cache on, in a
//    second engine) against 128 alone.
// The prefix cache is off (but for the last point) so every prompt is computed. The device fields
// of profile version 1 (what `mint configure` reads): the device (the CPU and threads, or
// --device), the model's KV bytes per token (F16 cache), --cost-per-hour and --kv-capacity-tokens
// when given, and the KV link (--kv-transfer-gbps, or this host's memcpy bandwidth: the
// shared-memory transport's bound).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "core/cpu.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "engine/engine.h"
#include "mocker/timing_model.h"
#include "model/kv_arena.h"
#include "model/model.h"

namespace mint::apps {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct ProfileArgs {
  std::string model;
  std::string output = "profile.json";
  int threads = 0;
  int64_t max_prefill = 2048;
  int32_t max_batch = 32;
  int reps = 2;
  std::string device;
  double cost_per_hour = -1;       // < 0: not written
  int64_t kv_capacity_tokens = 0;  // 0: not written
  double kv_transfer_gbps = 0;     // 0: measured
};

// Best of three copies of 256 MiB, GB/s.
double MemcpyGbps() {
  const size_t n = size_t{256} << 20;
  std::vector<uint8_t> src(n, 1), dst(n, 0);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = SteadyClock::now();
    std::memcpy(dst.data(), src.data(), n);
    const double s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    best = std::max(best, static_cast<double>(n) / s / 1e9);
    src[static_cast<size_t>(rep)] = dst[n - 1];  // the copy is used
  }
  return best;
}

// The CPU's model name (/proc/cpuinfo), or its instruction sets where that file is not.
std::string CpuName() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      if (const size_t colon = line.find(':'); colon != std::string::npos) {
        return line.substr(line.find_first_not_of(' ', colon + 1));
      }
    }
  }
  return Cpu().ToString();
}

// Makes free text safe inside a JSON string written by hand.
std::string JsonText(std::string s) {
  std::replace(s.begin(), s.end(), '"', '\'');
  std::replace(s.begin(), s.end(), '\\', '/');
  return s;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Distinct token ids (no prefix shared with earlier prompts), inside the vocabulary.
std::vector<int32_t> FreshPrompt(int64_t n, int64_t n_vocab, uint64_t* counter) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (auto& t : p) t = static_cast<int32_t>(1 + ((*counter)++ * 7919) % (n_vocab - 1));
  return p;
}

// Runs `prompts` together with `max_tokens` each; returns, per request, the times (ms since the
// submit) of its outputs.
Result<std::vector<std::vector<double>>> RunTimed(engine::Engine* eng,
                                                  const std::vector<std::vector<int32_t>>& prompts,
                                                  int64_t max_tokens) {
  std::mutex mu;
  std::vector<std::vector<double>> times(prompts.size());
  size_t finished = 0;
  std::promise<void> all_done;
  const auto t0 = SteadyClock::now();
  for (size_t i = 0; i < prompts.size(); ++i) {
    engine::Request r;
    r.prompt = prompts[i];
    r.max_tokens = max_tokens;
    r.sampling.temperature = 0;
    MINT_ASSIGN_OR_RETURN(uint64_t id,
                          eng->Submit(std::move(r), [&, i](const engine::RequestOutput& o) {
                            const double ms = std::chrono::duration<double, std::milli>(
                                                  SteadyClock::now() - t0)
                                                  .count();
                            std::lock_guard<std::mutex> lk(mu);
                            for (size_t k = 0; k < o.tokens.size(); ++k) times[i].push_back(ms);
                            if (o.finish != engine::FinishReason::kNone &&
                                ++finished == prompts.size()) {
                              all_done.set_value();
                            }
                          }));
    (void)id;
  }
  all_done.get_future().wait();
  return times;
}

// Median gap between consecutive outputs of request 0 after its first: one decode step.
double DecodeStepMs(const std::vector<double>& times) {
  std::vector<double> gaps;
  for (size_t k = 1; k < times.size(); ++k) gaps.push_back(times[k] - times[k - 1]);
  return Median(gaps);
}

// prefill_ms_per_kv_token: a chunk of `fresh` new tokens after `ctx` cached ones (an engine
// with the prefix cache on: the prompt of ctx tokens first, then it plus the fresh ones) against
// the same chunk with nothing before it; the extra per new token per cached token.
Result<double> PrefillMsPerKvToken(model::Model* model, engine::EngineConfig cfg, int64_t ctx,
                                   int reps, uint64_t* counter) {
  cfg.enable_prefix_cache = true;
  MINT_ASSIGN_OR_RETURN(auto eng, engine::Engine::Create(model, cfg));
  const int64_t fresh = 128;
  const int64_t n_vocab = model->config().n_vocab;
  // Warm-up (this engine's scratch buffers), then the median of at least three.
  MINT_RETURN_IF_ERROR(RunTimed(eng.get(), {FreshPrompt(fresh, n_vocab, counter)}, 4).status());
  std::vector<double> alone, after;
  for (int rep = 0; rep < std::max(reps, 3); ++rep) {
    MINT_ASSIGN_OR_RETURN(auto t0, RunTimed(eng.get(), {FreshPrompt(fresh, n_vocab, counter)}, 1));
    alone.push_back(t0[0][0]);
    std::vector<int32_t> prompt = FreshPrompt(ctx, n_vocab, counter);
    MINT_RETURN_IF_ERROR(RunTimed(eng.get(), {prompt}, 1).status());  // now cached
    const std::vector<int32_t> more = FreshPrompt(fresh, n_vocab, counter);
    prompt.insert(prompt.end(), more.begin(), more.end());
    MINT_ASSIGN_OR_RETURN(auto t1, RunTimed(eng.get(), {prompt}, 1));
    after.push_back(t1[0][0]);
  }
  const double alone_ms = Median(alone), after_ms = Median(after);
  const double per_kv = std::max(0.0, (after_ms - alone_ms) / static_cast<double>(fresh * ctx));
  log::Info(
      "prefill {} tokens after {} cached: {:.2f} ms (alone {:.2f}; {:.8f} ms per new x "
      "cached token)",
      fresh, ctx, after_ms, alone_ms, per_kv);
  return per_kv;
}

// What the engine's steps measured, in the profile's terms.
struct Measured {
  std::string prefill_json, decode_json;  // the point lists
  double decode_ms_per_kv_token = 0, prefill_ms_per_kv_token = 0;
};

// Fresh prefills of 16, 32, ... max_prefill tokens (median of reps).
Result<std::string> MeasurePrefill(engine::Engine* eng, const ProfileArgs& a, int64_t max_prefill,
                                   int64_t n_vocab, uint64_t* counter) {
  std::string json;
  for (int64_t n = 16; n <= max_prefill; n *= 2) {
    std::vector<double> ms;
    for (int rep = 0; rep < a.reps; ++rep) {
      MINT_ASSIGN_OR_RETURN(auto t, RunTimed(eng, {FreshPrompt(n, n_vocab, counter)}, 1));
      ms.push_back(t[0][0]);
    }
    const double m = Median(ms);
    log::Info("prefill {:>6} tokens: {:9.2f} ms", n, m);
    json += fmt::format("{}[{}, {:.3f}]", json.empty() ? "" : ", ", n, m);
  }
  return json;
}

// Decode steps at batch 1, 2, 4, ... max_batch (short context), then batch 1 at a long context:
// the point list and decode_ms_per_kv_token.
Result<std::pair<std::string, double>> MeasureDecode(engine::Engine* eng, const ProfileArgs& a,
                                                     int64_t max_len, int64_t n_vocab,
                                                     uint64_t* counter) {
  const int64_t decode_tokens = 12;
  std::string json;
  double short_ms = 0;
  for (int32_t b = 1; b <= std::max<int32_t>(a.max_batch, 1); b *= 2) {
    std::vector<std::vector<int32_t>> prompts;
    for (int32_t i = 0; i < b; ++i) prompts.push_back(FreshPrompt(16, n_vocab, counter));
    MINT_ASSIGN_OR_RETURN(auto t, RunTimed(eng, prompts, decode_tokens));
    const double m = DecodeStepMs(t[0]);
    if (b == 1) short_ms = m;
    log::Info("decode batch {:>4}: {:9.2f} ms/step", b, m);
    json += fmt::format("{}[{}, {:.3f}]", json.empty() ? "" : ", ", b, m);
  }
  const int64_t long_ctx = std::min<int64_t>(max_len - decode_tokens - 1, 2048);
  MINT_ASSIGN_OR_RETURN(auto t,
                        RunTimed(eng, {FreshPrompt(long_ctx, n_vocab, counter)}, decode_tokens));
  const double long_ms = DecodeStepMs(t[0]);
  const double per_kv = std::max(0.0, (long_ms - short_ms) / static_cast<double>(long_ctx - 16));
  log::Info("decode batch 1 at {} tokens: {:.2f} ms/step ({:.6f} ms per context token)", long_ctx,
            long_ms, per_kv);
  return std::pair{json, per_kv};
}

Result<Measured> MeasureSteps(model::Model* model, const engine::EngineConfig& cfg,
                              const ProfileArgs& a, int64_t max_prefill) {
  const int64_t n_vocab = model->config().n_vocab;
  const int64_t max_len = cfg.scheduler.max_model_len;
  uint64_t counter = 0;
  Measured m;
  {
    MINT_ASSIGN_OR_RETURN(auto eng, engine::Engine::Create(model, cfg));
    // Warm-up: page in weights, grow scratch buffers.
    MINT_RETURN_IF_ERROR(RunTimed(eng.get(), {FreshPrompt(64, n_vocab, &counter)}, 4).status());
    MINT_ASSIGN_OR_RETURN(m.prefill_json,
                          MeasurePrefill(eng.get(), a, max_prefill, n_vocab, &counter));
    MINT_ASSIGN_OR_RETURN(auto decode, MeasureDecode(eng.get(), a, max_len, n_vocab, &counter));
    m.decode_json = decode.first;
    m.decode_ms_per_kv_token = decode.second;
  }  // the prefix-cache engine below takes the threads
  MINT_ASSIGN_OR_RETURN(
      m.prefill_ms_per_kv_token,
      PrefillMsPerKvToken(model, cfg, std::min<int64_t>(1024, max_len / 2 / 16 * 16), a.reps,
                          &counter));
  return m;
}

// The profile file (format: mocker/timing_model.h).
Result<std::string> ProfileJson(const ProfileArgs& a, const model::ModelConfig& mc, int threads,
                                const Measured& m) {
  const std::string source = JsonText(
      fmt::format("mint profile: {} ({} threads, {})", mc.Summary(), threads, Cpu().ToString()));
  const std::string device =
      JsonText(a.device.empty() ? fmt::format("{} ({} threads)", CpuName(), threads) : a.device);
  MINT_ASSIGN_OR_RETURN(int64_t block_bytes, model::KvArena::BytesPerBlock(mc, DType::kF16, 16));
  const double gbps = a.kv_transfer_gbps > 0 ? a.kv_transfer_gbps : MemcpyGbps();
  log::Info("KV: {} bytes per token (F16); link {:.1f} GB/s{}", block_bytes / 16, gbps,
            a.kv_transfer_gbps > 0 ? "" : " (memcpy on this host)");
  std::string extra;
  if (a.cost_per_hour >= 0) extra += fmt::format(",\n  \"cost_per_hour\": {}", a.cost_per_hour);
  if (a.kv_capacity_tokens > 0) {
    extra += fmt::format(",\n  \"kv_capacity_tokens\": {}", a.kv_capacity_tokens);
  }
  return fmt::format(
      "{{\n  \"version\": {},\n  \"source\": \"{}\",\n  \"device\": \"{}\",\n"
      "  \"prefill\": [{}],\n  \"decode\": [{}],\n  \"decode_ms_per_kv_token\": {:.8f},\n"
      "  \"prefill_ms_per_kv_token\": {:.10f},\n"
      "  \"kv_bytes_per_token\": {},\n  \"kv_transfer_gbps\": {:.2f}{}\n}}\n",
      mocker::kProfileVersion, source, device, m.prefill_json, m.decode_json,
      m.decode_ms_per_kv_token, m.prefill_ms_per_kv_token, block_bytes / 16, gbps, extra);
}

int RunProfile(const ProfileArgs& a) {
  auto loaded = LoadModelWithProgress(a.model);
  if (!loaded.ok()) return Fail(loaded.status());
  std::unique_ptr<model::Model> model = std::move(loaded).value();
  const auto& mc = model->config();
  const int threads = a.threads > 0 ? a.threads : ThreadPool::HardwareThreads();
  const int64_t max_len = std::min<int64_t>(mc.n_ctx_train > 0 ? mc.n_ctx_train : 4096,
                                            std::max<int64_t>(a.max_prefill + 64, 2048));
  const int64_t max_prefill = std::min(a.max_prefill, max_len - 8);
  const engine::EngineConfig cfg{
      .kv_cache_blocks = (max_len / 16 + 2) * std::max<int64_t>(2, a.max_batch),
      .block_size = 16,
      .enable_prefix_cache = false,
      .scheduler = {.max_num_seqs = std::max<int32_t>(a.max_batch, 1),
                    .max_num_batched_tokens = static_cast<int32_t>(
                        std::max<int64_t>(max_prefill, int64_t{16} * a.max_batch)),
                    .max_model_len = max_len},
      .threads = threads,
  };
  log::Info("profiling {} ({} threads, {})", mc.Summary(), threads, Cpu().ToString());
  auto measured = MeasureSteps(model.get(), cfg, a, max_prefill);
  if (!measured.ok()) return Fail(measured.status());
  auto json = ProfileJson(a, mc, threads, *measured);
  if (!json.ok()) return Fail(json.status());
  if (a.output == "-") {
    std::fputs(json->c_str(), stdout);
  } else {
    std::ofstream out(a.output);
    out << *json;
    if (!out) return Fail(Status::IoError(a.output + ": cannot write"));
    log::Info("wrote {}", a.output);
  }
  return 0;
}

}  // namespace

CommandFn RegisterProfile(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "profile",
      "Measure the real engine's step times on a model (prefill of 16..--max-prefill tokens,\n"
      "decode at batch 1..--max-batch and at a long context) and write the timing profile\n"
      "that `mint mocker --timing-profile` loads.");
  auto a = std::make_shared<ProfileArgs>();
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("-t,--threads", a->threads, "Engine threads (default: all cores)");
  cmd->add_option("-o,--output", a->output, "Profile JSON to write ('-': stdout)")
      ->capture_default_str();
  cmd->add_option("--max-prefill", a->max_prefill, "Longest prefill measured (tokens)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{16}, int64_t{1} << 20));
  cmd->add_option("--max-batch", a->max_batch, "Largest decode batch measured")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("-r,--reps", a->reps, "Repetitions per prefill point (the median is kept)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_option("--device", a->device, "Device name written to the profile (default: the CPU)");
  cmd->add_option("--cost-per-hour", a->cost_per_hour,
                  "What an hour of this device costs (written for mint configure)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--kv-capacity-tokens", a->kv_capacity_tokens,
                  "Tokens of KV one worker holds on this device (written for mint configure)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kv-transfer-gbps", a->kv_transfer_gbps,
                  "KV link bandwidth between workers (default: this host's memcpy bandwidth)")
      ->check(CLI::PositiveNumber);
  return [a]() { return RunProfile(*a); };
}

}  // namespace mint::apps
