// llama.cpp's vocabulary test vectors: through Hugging Face tokenizer.json (llama-bpe via Llama 3,
// qwen2 and deepseek-r1-qwen via Qwen3), through llama.cpp's vocab-only GGUFs (SentencePiece, BPE,
// WordPiece), and the TinyStories byte-fallback BPE.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace mint::tokenizer {
namespace {

inline std::string VectorsPath(const std::string& rel) {
  return std::string(MINT_SHARED_DIR) + "/" + rel;
}

inline bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

// Reads llama.cpp's <vocab>.gguf.inp / .out test vectors. False if either file is missing.
inline bool ReadVocabCases(const std::string& stem, std::vector<VocabCase>* cases) {
  std::string inp, out;
  if (!ReadFile(stem + ".inp", &inp) || !ReadFile(stem + ".out", &out)) return false;
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t pos = 0;
  while (pos <= inp.size()) {
    const size_t hit = inp.find(sep, pos);
    if (hit == std::string::npos) {
      if (pos < inp.size()) texts.push_back(inp.substr(pos));
      break;
    }
    texts.push_back(inp.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  cases->clear();
  for (const std::string& t : texts) {
    if (!std::getline(lines, line)) break;
    VocabCase c;
    c.text = t;
    std::istringstream ids(line);
    for (int64_t id; ids >> id;) c.ids.push_back(static_cast<int32_t>(id));
    cases->push_back(std::move(c));
  }
  return true;
}

inline std::string IdsToString(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

}  // namespace

namespace {

std::unique_ptr<Tokenizer> LoadOrNull(const std::string& path) {
  auto tok = Tokenizer::FromHuggingFace(path);
  if (!tok.ok()) {
    ADD_FAILURE() << "loading " << path << ": " << tok.status().ToString();
    return nullptr;
  }
  return std::move(tok).value();
}

// Encodes every case of llama.cpp's vectors for `vocab` with `tok`; returns the pass count.
int CheckVectors(const Tokenizer& tok, const std::string& vocab, bool lossless) {
  std::vector<VocabCase> cases;
  const std::string stem = VectorsPath("tokenizers/llama-cpp-vocab/ggml-vocab-" + vocab + ".gguf");
  EXPECT_TRUE(ReadVocabCases(stem, &cases)) << stem;
  EXPECT_EQ(cases.size(), 46u);
  int pass = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const VocabCase& c = cases[i];
    auto ids = tok.Encode(c.text, /*add_special=*/false, /*parse_special=*/false);
    if (!ids.ok()) {
      ADD_FAILURE() << ids.status().ToString();
      continue;
    }
    EXPECT_EQ(*ids, c.ids) << vocab << " case " << i << " text '" << c.text
                           << "'\n got: " << IdsToString(*ids) << "\nwant: " << IdsToString(c.ids);
    if (*ids == c.ids) ++pass;
    if (lossless) {
      EXPECT_EQ(tok.Decode(*ids), c.text) << vocab << " case " << i;
    }
  }
  std::printf("[vectors] %-18s %d/%zu\n", vocab.c_str(), pass, cases.size());
  return pass;
}

TEST(HfTokenizer, Llama3MatchesLlamaBpeVectors) {
  const std::string path = VectorsPath("tokenizers/llama3/tokenizer.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
  auto tok = LoadOrNull(path);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 128256);
  EXPECT_EQ(tok->bos_id(), 128000);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_TRUE(tok->IsEndOfGeneration(tok->TokenId("<|eot_id|>")));
  EXPECT_FALSE(tok->chat_template().empty());
  CheckVectors(*tok, "llama-bpe", /*lossless=*/true);
}

TEST(HfTokenizer, Qwen3MatchesQwen2Vectors) {
  const std::string path = VectorsPath("tokenizers/qwen3/tokenizer.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
  auto tok = LoadOrNull(path);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->bos_id(), -1);
  EXPECT_FALSE(tok->add_bos());
  EXPECT_EQ(tok->eos_id(), tok->TokenId("<|im_end|>"));
  EXPECT_TRUE(tok->IsEndOfGeneration(tok->TokenId("<|im_end|>")));
  CheckVectors(*tok, "qwen2", /*lossless=*/true);
  CheckVectors(*tok, "deepseek-r1-qwen", /*lossless=*/true);
}

TEST(HfTokenizer, Qwen3SpecialTokensOnlyWhenParsed) {
  const std::string path = VectorsPath("tokenizers/qwen3/tokenizer.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
  auto tok = LoadOrNull(path);
  ASSERT_NE(tok, nullptr);
  const int32_t im_start = tok->TokenId("<|im_start|>");
  ASSERT_GE(im_start, 0);
  auto parsed = tok->Encode("<|im_start|>user\nhi", false, /*parse_special=*/true);
  ASSERT_TRUE(parsed.ok());
  ASSERT_FALSE(parsed->empty());
  EXPECT_EQ((*parsed)[0], im_start);
  auto plain = tok->Encode("<|im_start|>user\nhi", false, /*parse_special=*/false);
  ASSERT_TRUE(plain.ok());
  for (int32_t id : *plain) EXPECT_NE(id, im_start);
  EXPECT_EQ(tok->Decode(*plain), "<|im_start|>user\nhi");
  EXPECT_EQ(tok->Decode(*parsed), "<|im_start|>user\nhi");
  EXPECT_EQ(tok->Decode(*parsed, /*skip_special=*/true), "user\nhi");
}

TEST(HfTokenizer, TinyStoriesByteFallbackRoundTrip) {
  const std::string path = VectorsPath("models/tinystories-656k/tokenizer.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
  auto tok = LoadOrNull(path);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 2048);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_TRUE(tok->strips_leading_space());
  // The documented greedy continuation of BOS (models/README.md).
  const std::vector<int32_t> ref = {147,  201,  282,  215, 286, 598,  1662, 356, 499, 826,
                                    1363, 1145, 1652, 615, 242, 1482, 951,  628, 499, 826};
  const std::string text = tok->Decode(ref);
  EXPECT_EQ(
      text.rfind("Once upon a time, there was a little girl named Lily. She had a toy car", 0), 0u)
      << text;
  // Encoding prepends "▁" (its own token, 80) as the Prepend normalizer says; decoding strips it.
  auto ids = tok->Encode(text, /*add_special=*/true, false);
  ASSERT_TRUE(ids.ok());
  std::vector<int32_t> expect = {1, 80};
  expect.insert(expect.end(), ref.begin(), ref.end());
  EXPECT_EQ(*ids, expect);
  EXPECT_EQ(tok->Decode(*ids, /*skip_special=*/true), text);
  for (const char* s : {"Once upon a time, there was a little girl named Lily.",
                        "  two leading spaces", "Tom said, \"Let's play!\"\nThe end.", " x", ""}) {
    auto enc = tok->Encode(s, false, false);
    ASSERT_TRUE(enc.ok());
    EXPECT_EQ(tok->Decode(*enc), s);
  }
  // Characters outside the vocabulary (which has no byte tokens) become <unk>.
  auto unk = tok->Encode("a\tb 🦙", false, false);
  ASSERT_TRUE(unk.ok());
  EXPECT_NE(std::find(unk->begin(), unk->end(), 0), unk->end());
}

// llama.cpp's vocab-only GGUFs against their own vectors. WordPiece (bert-bge) lower-cases and
// strips accents, so its decoding is not checked against the input.
struct GgufVocab {
  const char* name;
  bool lossless;
};

void PrintTo(const GgufVocab& v, std::ostream* os) { *os << v.name; }

class GgufVectors : public ::testing::TestWithParam<GgufVocab> {};

TEST_P(GgufVectors, MatchLlamaCppVectors) {
  const std::string vocab = GetParam().name;
  const std::string path = VectorsPath("tokenizers/llama-cpp-vocab/ggml-vocab-" + vocab + ".gguf");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
  auto file = gguf::GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto tok = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  CheckVectors(**tok, vocab, GetParam().lossless);
}

INSTANTIATE_TEST_SUITE_P(AllVocabs, GgufVectors,
                         ::testing::Values(GgufVocab{"llama-spm", true}, GgufVocab{"phi-3", true},
                                           GgufVocab{"gpt-2", true},
                                           GgufVocab{"deepseek-coder", true},
                                           GgufVocab{"deepseek-llm", true},
                                           GgufVocab{"falcon", true}, GgufVocab{"mpt", true},
                                           GgufVocab{"starcoder", true}, GgufVocab{"refact", true},
                                           GgufVocab{"bert-bge", false}),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(GgufVocab, OthersLoad) {
  for (const char* vocab : {"baichuan", "gpt-neox"}) {
    const std::string path =
        VectorsPath(std::string("tokenizers/llama-cpp-vocab/ggml-vocab-") + vocab + ".gguf");
    if (!std::filesystem::exists(path)) continue;
    auto tok = Tokenizer::Load(path);
    ASSERT_TRUE(tok.ok()) << vocab << ": " << tok.status().ToString();
    auto ids = (*tok)->Encode("Hello world, 123!", true, false);
    ASSERT_TRUE(ids.ok());
    EXPECT_FALSE(ids->empty());
    EXPECT_EQ((*tok)->Decode(*ids, /*skip_special=*/true), "Hello world, 123!") << vocab;
  }
}

// A GGUF converted from tokenizer.json the way llama.cpp's converter does it (model "gpt2", the
// pre-tokenizer by name, merges as "a b", added tokens as control / user-defined): the path real
// Llama 3 and Qwen GGUF models take. Must reproduce the same vectors as the JSON.
std::vector<uint8_t> GgufFromTokenizerJson(const std::string& path, const std::string& pre) {
  std::ifstream in(path);
  const auto j = nlohmann::json::parse(in);
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  auto put = [&](size_t id, const std::string& text, int32_t type) {
    if (id >= tokens.size()) {
      for (size_t k = tokens.size(); k <= id; ++k)
        tokens.push_back("[PAD" + std::to_string(k) + "]");
      types.resize(id + 1, 5);
    }
    tokens[id] = text;
    types[id] = type;
  };
  for (const auto& [text, id] : j.at("model").at("vocab").items()) put(id.get<size_t>(), text, 1);
  for (const auto& t : j.at("added_tokens")) {
    put(t.at("id").get<size_t>(), t.at("content").get<std::string>(),
        t.value("special", false) ? 3 : 4);
  }
  std::vector<std::string> merges;
  for (const auto& m : j.at("model").at("merges")) {
    merges.push_back(m.is_string() ? m.get<std::string>()
                                   : m[0].get<std::string>() + " " + m[1].get<std::string>());
  }
  gguf::GgufWriter w;
  w.SetString("tokenizer.ggml.model", "gpt2");
  w.SetString("tokenizer.ggml.pre", pre);
  w.SetStringArray("tokenizer.ggml.tokens", tokens);
  w.SetI32Array("tokenizer.ggml.token_type", types);
  w.SetStringArray("tokenizer.ggml.merges", merges);
  return w.Serialize();
}

TEST(GgufFromJson, LlamaBpeAndQwen2Presets) {
  const std::pair<const char*, const char*> cases[] = {
      {"tokenizers/llama3/tokenizer.json", "llama-bpe"},
      {"tokenizers/qwen3/tokenizer.json", "qwen2"},
  };
  for (const auto& [rel, pre] : cases) {
    const std::string path = VectorsPath(rel);
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
    const std::vector<uint8_t> image = GgufFromTokenizerJson(path, pre);
    auto file = gguf::GgufFile::FromMemory(image.data(), image.size());
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    auto tok = Tokenizer::FromGguf(**file);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    EXPECT_EQ(CheckVectors(**tok, pre, /*lossless=*/true), 46) << pre;
  }
}

}  // namespace
}  // namespace mint::tokenizer
