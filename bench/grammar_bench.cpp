// Constrained decoding cost (Google Benchmark): the time to build one token mask and apply it to
// a row of logits, per generated token, for a nested JSON schema over real 151k (Qwen3) and
// 128k (Llama 3) vocabularies; and the time to compile a schema, cold and from the cache.
//
//   build/bench/grammar_bench [--benchmark_filter=Mask]
//
// Mask/<vocab>/warm replays one recorded generation (random picks among the allowed tokens)
// through a fresh processor on an already-used compiled grammar: what a repeated schema costs.
// Mask/<vocab>/cold recompiles first, so every cache entry is computed on first visit. Counters
// p50_us / p99_us are per token; the iteration time is one whole generation.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <random>

#include "engine/engine.h"
#include "grammar/json_schema.h"
#include "grammar/logits.h"
#include "nlohmann/json.hpp"
#include "tokenizer/tokenizer.h"

namespace {

using namespace mint;
using Clock = std::chrono::steady_clock;

// The nested order schema of tests/grammar/data/schemas.json (objects, arrays, enums, patterns,
// number and integer ranges, anyOf).
const char* kSchema = R"({"type": "object", "properties": {"order": {"type": "object", "properties": {
  "id": {"type": "integer", "minimum": 1}, "items": {"type": "array", "minItems": 1, "maxItems": 3,
  "items": {"type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z0-9]{4,8}$"},
  "qty": {"type": "integer", "minimum": 1, "maximum": 99}, "price": {"type": "number", "minimum": 0}},
  "required": ["sku", "qty", "price"], "additionalProperties": false}}, "status": {"enum": ["new",
  "paid", "shipped"]}}, "required": ["id", "items", "status"], "additionalProperties": false},
  "customer": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"name": {"type":
  "string", "maxLength": 16}, "vip": {"type": "boolean"}}, "required": ["name"]}]}},
  "required": ["order", "customer"]})";

struct Vocab {
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::shared_ptr<const grammar::Vocabulary> vocab;
};

const Vocab* LoadVocab(const std::string& name) {
  static std::map<std::string, Vocab> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second.tok ? &it->second : nullptr;
  Vocab v;
  auto t = tokenizer::Tokenizer::FromHuggingFace(std::string(MINT_SHARED_DIR) + "/tokenizers/" +
                                                  name + "/tokenizer.json");
  if (t.ok()) {
    v.tok = std::move(t).value();
    v.vocab = grammar::VocabularyFromTokenizer(*v.tok, v.tok->vocab_size());
  }
  auto& slot = cache[name] = std::move(v);
  return slot.tok ? &slot : nullptr;
}

std::string SchemaGbnf() {
  static const std::string g = *grammar::JsonSchemaToGbnf(nlohmann::ordered_json::parse(kSchema));
  return g;
}

// One generation: random picks among allowed tokens until the grammar completes.
std::vector<int32_t> Record(const Vocab& v, std::shared_ptr<grammar::GrammarCache> cache) {
  engine::Request req;
  req.prompt = {0};
  req.grammar = SchemaGbnf();
  req.stop_token_ids = {v.tok->eos_id()};
  auto proc = std::move(grammar::GrammarProcessorFactory(cache)(req)).value();
  std::vector<float> logits(static_cast<size_t>(v.vocab->size()));
  std::vector<int32_t> out;
  std::mt19937_64 rng(11);
  for (int step = 0; step < 400; ++step) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    if (!proc->Mask(logits)) break;
    std::vector<int32_t> allowed;
    for (int32_t t = 0; t < static_cast<int32_t>(logits.size()); ++t) {
      if (logits[t] == 0.0f) allowed.push_back(t);
    }
    // Prefer structure over long strings so the run covers the whole schema.
    const int32_t pick = allowed[rng() % allowed.size()];
    proc->Accept(pick);
    out.push_back(pick);
    if (pick == v.tok->eos_id()) break;
  }
  return out;
}

void Mask(benchmark::State& state, const std::string& name, bool cold) {
  const Vocab* v = LoadVocab(name);
  if (v == nullptr) {
    state.SkipWithError(("needs ../shared/tokenizers/" + name).c_str());
    return;
  }
  auto cache = std::make_shared<grammar::GrammarCache>(v->vocab);
  const std::vector<int32_t> tokens = Record(*v, cache);
  std::vector<float> logits(static_cast<size_t>(v->vocab->size()));
  std::vector<double> us;
  std::vector<int32_t> ids;
  for (auto _ : state) {
    if (cold) cache = std::make_shared<grammar::GrammarCache>(v->vocab);
    engine::Request req;
    req.prompt = {0};
    req.grammar = SchemaGbnf();
    req.stop_token_ids = {v->tok->eos_id()};
    auto proc = std::move(grammar::GrammarProcessorFactory(cache)(req)).value();
    for (int32_t t : tokens) {
      std::fill(logits.begin(), logits.end(), 0.0f);
      // What the engine pays per token: a short allowed list, else the masked row.
      const auto t0 = Clock::now();
      if (!proc->ListAllowed(&ids)) benchmark::DoNotOptimize(proc->Mask(logits));
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      proc->Accept(t);
    }
  }
  std::sort(us.begin(), us.end());
  state.counters["tokens"] = static_cast<double>(tokens.size());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  state.counters["mean_us"] = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size());
}

void Compile(benchmark::State& state, bool cached) {
  const Vocab* v = LoadVocab("qwen3");
  if (v == nullptr) {
    state.SkipWithError("needs ../shared/tokenizers/qwen3");
    return;
  }
  const auto schema = nlohmann::ordered_json::parse(kSchema);
  grammar::GrammarCache cache(v->vocab);
  const std::string gbnf = *grammar::JsonSchemaToGbnf(schema);
  for (auto _ : state) {
    if (!cached) {  // what a new schema costs: conversion to GBNF (frontend) and parse (engine)
      auto g = grammar::JsonSchemaToGbnf(schema);
      benchmark::DoNotOptimize(grammar::CompiledGrammar::Compile(*g, v->vocab));
    } else {  // a repeated schema at the engine: a cache hit by text
      benchmark::DoNotOptimize(cache.Get(gbnf));
    }
  }
}

}  // namespace

BENCHMARK_CAPTURE(Mask, qwen3/warm, "qwen3", false)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(Mask, qwen3/cold, "qwen3", true)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(Mask, llama3/warm, "llama3", false)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(Mask, llama3/cold, "llama3", true)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(Compile, cold, false)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(Compile, cached, true)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
