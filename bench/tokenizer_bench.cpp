// Tokenizer encode/decode throughput on ~1 MB of mixed English prose, C++ code and Chinese.
//
//   build/bench/tokenizer_bench [--benchmark_filter=Encode]
//
// Vocabularies come from the shared directory (MINT_SHARED_DIR in the environment, else
// ../shared beside the repository); missing ones are skipped. "Warm" runs reuse the tokenizer's
// pre-token cache (the steady state of a server); "Cold" runs load a fresh tokenizer per
// iteration (load time excluded) so every pre-token is merged from scratch.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using mint::tokenizer::Tokenizer;

fs::path RepoRoot() { return fs::path(__FILE__).parent_path().parent_path(); }

fs::path SharedDir() {
  if (const char* env = std::getenv("MINT_SHARED_DIR")) return env;
  return RepoRoot().parent_path() / "shared";
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Deterministic Chinese prose from common characters, with punctuation every few characters.
std::string ChineseText(size_t bytes) {
  static const char* const kChars[] = {
      "的", "一", "是", "在", "不", "了", "有", "和", "人", "这", "中", "大", "为", "上", "个",
      "国", "我", "以", "要", "他", "时", "来", "用", "们", "生", "到", "作", "地", "于", "出",
      "就", "分", "对", "成", "会", "可", "主", "发", "年", "动", "同", "工", "也", "能", "下",
      "过", "子", "说", "产", "种", "面", "而", "方", "后", "多", "定", "行", "学", "法", "所",
      "民", "得", "经", "十", "三", "之", "进", "着", "等", "部", "度", "家", "电", "力", "里",
      "如", "水", "化", "高", "自", "二", "理", "起", "小", "物", "现", "实", "加", "量", "都",
      "两", "体", "制", "机", "当", "使", "点", "从", "业", "本", "去", "把", "性", "好", "应",
      "开", "它", "合", "还", "因", "由", "其", "些", "然", "前", "外", "天", "政", "四", "日",
      "那", "社", "义", "事", "平", "形", "相", "全", "表", "间", "样", "与", "关", "各", "重",
      "新", "线", "内", "数", "正", "心", "反", "你", "明", "看", "原", "又", "么", "利", "比"};
  static const char* const kPunct[] = {"，", "。", "、", "；", "：", "？", "！"};
  std::string out;
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  };
  while (out.size() < bytes) {
    const uint32_t run = 4 + next() % 12;
    for (uint32_t i = 0; i < run; ++i) out += kChars[next() % std::size(kChars)];
    out += kPunct[next() % std::size(kPunct)];
    if (next() % 8 == 0) out += "\n";
  }
  return out;
}

// ~1 MiB: about half English (licence texts, docs), a quarter C++ (Mint's sources), a quarter
// Chinese, interleaved in chunks.
const std::string& MixedText() {
  static const std::string text = [] {
    std::string english, code;
    for (const char* f :
         {"GPL-3", "GPL-2", "Apache-2.0", "LGPL-3", "GFDL-1.3", "Artistic", "MPL-2.0"}) {
      const fs::path p = fs::path("/usr/share/common-licenses") / f;
      if (fs::exists(p)) english += ReadAll(p);
    }
    for (const char* f : {"DESIGN.md", "STYLE.md", "models/README.md"}) {
      if (fs::exists(SharedDir() / f)) english += ReadAll(SharedDir() / f);
    }
    for (const auto& e : fs::recursive_directory_iterator(RepoRoot() / "src")) {
      if (e.path().extension() == ".cpp" || e.path().extension() == ".h") {
        code += ReadAll(e.path());
      }
    }
    if (english.empty()) english = "The quick brown fox jumps over the lazy dog. ";
    if (code.empty()) code = "int main() { return 0; }\n";
    const std::string chinese = ChineseText(256 * 1024);
    // Chunks end on character boundaries so that the mix stays valid UTF-8.
    auto chunk = [](const std::string& src, size_t* pos, size_t n) {
      size_t end = std::min(src.size(), *pos + n);
      while (end < src.size() && (static_cast<unsigned char>(src[end]) & 0xC0) == 0x80) ++end;
      std::string piece = src.substr(*pos, end - *pos);
      *pos = end >= src.size() ? 0 : end;
      return piece;
    };
    std::string out;
    size_t e = 0, c = 0, z = 0;
    const size_t kChunk = 4096;
    while (out.size() < (1u << 20)) {
      out += chunk(english, &e, 2 * kChunk);
      out += chunk(code, &c, kChunk);
      out += chunk(chinese, &z, kChunk);
    }
    return out;
  }();
  return text;
}

const std::map<std::string, fs::path>& VocabPaths() {
  static const std::map<std::string, fs::path> paths = {
      {"llama3", SharedDir() / "tokenizers/llama3/tokenizer.json"},
      {"qwen3", SharedDir() / "tokenizers/qwen3/tokenizer.json"},
      {"stories260K", SharedDir() / "models/stories260K.gguf"},
      {"gpt2_gguf", SharedDir() / "tokenizers/llama-cpp-vocab/ggml-vocab-gpt-2.gguf"},
  };
  return paths;
}

std::unique_ptr<Tokenizer> LoadVocab(const std::string& name) {
  auto tok = Tokenizer::Load(VocabPaths().at(name).string());
  return tok.ok() ? std::move(tok).value() : nullptr;
}

const Tokenizer* Shared(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, LoadVocab(name)).first;
  return it->second.get();
}

void BM_EncodeWarm(benchmark::State& state, const std::string& name) {
  const Tokenizer* tok = Shared(name);
  if (tok == nullptr) {
    state.SkipWithError(("cannot load " + VocabPaths().at(name).string()).c_str());
    return;
  }
  const std::string& text = MixedText();
  size_t tokens = 0;
  (void)tok->Encode(text, false, false);  // warm the pre-token cache
  for (auto _ : state) {
    auto ids = tok->Encode(text, false, false);
    tokens = ids->size();
    benchmark::DoNotOptimize(ids->data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["bytes_per_token"] = static_cast<double>(text.size()) / tokens;
}

void BM_EncodeCold(benchmark::State& state, const std::string& name) {
  const std::string& text = MixedText();
  for (auto _ : state) {
    state.PauseTiming();
    auto tok = LoadVocab(name);
    state.ResumeTiming();
    if (tok == nullptr) {
      state.SkipWithError("cannot load vocabulary");
      return;
    }
    auto ids = tok->Encode(text, false, false);
    benchmark::DoNotOptimize(ids->data());
    state.PauseTiming();
    tok.reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_Decode(benchmark::State& state, const std::string& name) {
  const Tokenizer* tok = Shared(name);
  if (tok == nullptr) {
    state.SkipWithError("cannot load vocabulary");
    return;
  }
  const std::string& text = MixedText();
  const auto ids = *tok->Encode(text, false, false);
  for (auto _ : state) {
    std::string out = tok->Decode(ids);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

BENCHMARK_CAPTURE(BM_EncodeWarm, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeWarm, qwen3, std::string("qwen3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeWarm, gpt2_gguf, std::string("gpt2_gguf"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeWarm, stories260K, std::string("stories260K"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeCold, llama3, std::string("llama3"))
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(BM_EncodeCold, qwen3, std::string("qwen3"))
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(BM_Decode, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
