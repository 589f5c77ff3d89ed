// `mint gguf info FILE`, `mint gguf synth ...`, `mint gguf dequantize IN OUT`,
// `mint gguf logits FILE ...`.
#include <cstdio>
#include <cstring>
#include <fstream>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "core/clock.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "model/kv_arena.h"
#include "model/logits_diff.h"
#include "model/synth.h"

namespace mint::apps {
namespace {

std::string PresetHelp() {
  std::string s = "Preset:";
  for (const auto& p : model::SynthPresets()) s += "\n  " + p.name + ": " + p.description;
  return s;
}

struct LogitsArgs {
  std::string file;
  std::string output;
  std::vector<int32_t> ids;
  int n_tokens = 64;
  std::string compare;
  double max_nmse = 0;  // 0: no bound
  int threads = 2;
  std::string cache_type = "f16";
};

// Last-position logits of `a.ids` (or n_tokens spread ids) through `a.file`, written as raw
// little-endian f32 and/or compared with a reference dump of the same length.
int RunLogits(const LogitsArgs& a) {
  auto loaded = LoadModelWithProgress(a.file);
  if (!loaded.ok()) return Fail(loaded.status());
  const model::Model& m = **loaded;
  const int64_t n_vocab = m.config().n_vocab;
  const std::vector<int32_t> ids =
      a.ids.empty() ? model::SpreadTokenIds(a.n_tokens, n_vocab) : a.ids;
  if (ids.empty()) return Fail(Status::InvalidArgument("no tokens: --ids is empty and -n is 0"));
  auto kv_type = model::ParseKvCacheType(a.cache_type);
  if (!kv_type.ok()) return Fail(kv_type.status());
  auto seq = m.NewSequence(static_cast<int64_t>(ids.size()), *kv_type);
  std::vector<float> logits(n_vocab);
  ThreadPool pool(a.threads);
  if (Status s = m.Forward(seq.get(), ids, logits, /*all_logits=*/false, &pool); !s.ok()) {
    return Fail(s);
  }
  const auto top = model::TopK(logits, 1);
  std::fprintf(stderr, "%zu tokens (%s), vocabulary %lld: argmax %d (%.4f)\n", ids.size(),
               a.ids.empty() ? "spread ids" : "--ids", static_cast<long long>(n_vocab), top[0],
               logits[top[0]]);
  const auto bytes = static_cast<std::streamsize>(logits.size() * sizeof(float));
  if (!a.output.empty()) {
    std::ofstream out(a.output, std::ios::binary);
    out.write(reinterpret_cast<const char*>(logits.data()), bytes);
    if (!out.flush()) return Fail(Status::IoError("cannot write " + a.output));
    std::fprintf(stderr, "wrote %s (%lld f32)\n", a.output.c_str(),
                 static_cast<long long>(n_vocab));
  }
  if (a.compare.empty()) return 0;
  auto ref_bytes = ReadFile(a.compare);
  if (!ref_bytes.ok()) return Fail(ref_bytes.status());
  if (ref_bytes->size() != static_cast<size_t>(bytes)) {
    return Fail(Status::InvalidArgument(a.compare + " holds " + std::to_string(ref_bytes->size()) +
                                        " bytes, not " + std::to_string(bytes) +
                                        " (n_vocab f32 of one position)"));
  }
  std::vector<float> ref(n_vocab);
  std::memcpy(ref.data(), ref_bytes->data(), ref_bytes->size());
  const model::LogitsDiff d = model::CompareLogits(ref, logits);
  std::printf("NMSE %.3g  max|diff| %.4g  argmax ref %d got %d  top-%d shared %d\n", d.nmse,
              d.max_abs, d.argmax_ref, d.argmax_got, d.top_k, d.top_k_shared);
  if (a.max_nmse > 0 && !(d.nmse <= a.max_nmse)) {
    std::fprintf(stderr, "error: NMSE %.3g is over --max-nmse %.3g\n", d.nmse, a.max_nmse);
    return 1;
  }
  return 0;
}

// Registers `mint gguf logits`, filling *a.
CLI::App* AddLogitsCommand(CLI::App* parent, LogitsArgs* a) {
  auto* lg = parent->add_subcommand(
      "logits",
      "Run token ids through a model and write the last position's logits (raw f32, n_vocab "
      "values), or compare them with another engine's dump of the same file and ids (NMSE, "
      "max |diff|, argmax, top-10 overlap). Default ids: n ids (i * 7919 + 1) mod n_vocab.");
  lg->add_option("file", a->file, "GGUF file")->required();
  lg->add_option("-o,--output", a->output, "Write the logits here (raw little-endian f32)");
  lg->add_option("--ids", a->ids, "Token ids, comma-separated (default: -n spread ids)")
      ->delimiter(',');
  lg->add_option("-n,--n-tokens", a->n_tokens, "How many spread ids when --ids is not given")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  lg->add_option("--compare", a->compare, "Reference logits file (raw f32) to compare with");
  lg->add_option("--max-nmse", a->max_nmse, "With --compare: exit 1 when NMSE is above this");
  lg->add_option("-t,--threads", a->threads, "Threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  lg->add_option("--kv-cache-type", a->cache_type, "KV cache element type: f16, f32, bf16, q8_0")
      ->capture_default_str();
  return lg;
}

}  // namespace

CommandFn RegisterGguf(CLI::App& app) {
  auto* gguf = app.add_subcommand("gguf", "Inspect GGUF files and write synthetic models");
  gguf->require_subcommand(1);

  auto* info = gguf->add_subcommand("info", "Print a GGUF file's metadata and tensor table");
  auto path = std::make_shared<std::string>();
  auto no_tensors = std::make_shared<bool>(false);
  info->add_option("file", *path, "GGUF file")->required();
  info->add_flag("--no-tensors", *no_tensors, "Only print metadata");

  auto* synth = gguf->add_subcommand(
      "synth",
      "Write a model with seeded random weights in a real model's shapes, with a real vocabulary "
      "(loadable by llama.cpp too). Used for tests and benchmarks.");
  auto so = std::make_shared<model::SynthOptions>();
  auto type = std::make_shared<std::string>("f32");
  auto out = std::make_shared<std::string>();
  synth->add_option("--preset", so->preset, PresetHelp())->capture_default_str();
  synth->add_option("--type", *type,
                    "f32 | f16 | bf16 | q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | q4_k | q5_k | q6_k | "
                    "iq4_nl | iq4_xs, or a llama-quantize mix: q4_k_m | q5_k_m")
      ->capture_default_str();
  synth->add_option("--seed", so->seed, "Random seed")->capture_default_str();
  synth->add_option("--vocab", so->vocab, "Vocabulary: a GGUF, a tokenizer.json, or \"builtin\" (default: the "
                                          "preset's, under --shared-dir)");
  synth->add_option("--shared-dir", so->shared_dir, "Directory with shared models/tokenizers")
      ->capture_default_str();
  synth->add_option("--layers", so->n_layer, "Override the preset's layer count");
  synth->add_option("-o,--output", *out, "Output .gguf path")->required();

  auto* deq = gguf->add_subcommand("dequantize", "Copy a GGUF with every tensor as F32");
  auto deq_in = std::make_shared<std::string>();
  auto deq_out = std::make_shared<std::string>();
  deq->add_option("input", *deq_in, "Input GGUF")->required();
  deq->add_option("output", *deq_out, "Output GGUF")->required();

  auto la = std::make_shared<LogitsArgs>();
  CLI::App* lg = AddLogitsCommand(gguf, la.get());

  return [=]() -> int {
    if (lg->parsed()) return RunLogits(*la);
    if (info->parsed()) {
      auto file = gguf::GgufFile::Open(*path);
      if (!file.ok()) return Fail(file.status());
      std::fputs((*file)->Describe(!*no_tensors).c_str(), stdout);
      return 0;
    }
    if (synth->parsed()) {
      auto t = model::ParseSynthFileType(*type);
      if (!t.ok()) return Fail(t.status());
      so->type = *t;
      const double start = SystemClock::Get().NowSeconds();
      if (Status s = model::WriteSynthModel(*so, *out); !s.ok()) return Fail(s);
      std::fprintf(stderr, "wrote %s (%s, %s) in %.1fs\n", out->c_str(), so->preset.c_str(),
                   model::SynthFileTypeName(so->type), SystemClock::Get().NowSeconds() - start);
      return 0;
    }
    if (deq->parsed()) {
      if (Status s = model::DequantizeModelFile(*deq_in, *deq_out); !s.ok()) return Fail(s);
      return 0;
    }
    return 2;
  };
}

}  // namespace mint::apps
