// `mint gguf info FILE`, `mint gguf synth ...`, `mint gguf dequantize IN OUT`.
#include <cstdio>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "core/clock.h"
#include "gguf/gguf.h"
#include "model/synth.h"

namespace mint::apps {
namespace {


std::string PresetHelp() {
  std::string s = "Preset:";
  for (const auto& p : model::SynthPresets()) s += "\n  " + p.name + ": " + p.description;
  return s;
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

  return [=]() -> int {
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
