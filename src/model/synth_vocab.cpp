#include "model/synth_vocab.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <cstdio>

#include "gguf/gguf.h"

namespace mint::model {
namespace {

// llama.cpp token types.
constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

Result<int64_t> FromGguf(const std::string& path, gguf::GgufWriter* w) {
  MINT_ASSIGN_OR_RETURN(auto f, gguf::GgufFile::Open(path));
  const gguf::Value* tokens = f->Find("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->AsArray() == nullptr) {
    return Status::NotFound(path + ": no tokenizer.ggml.tokens");
  }
  for (const auto& [key, value] : f->metadata()) {
    if (key.rfind("tokenizer.", 0) == 0) w->SetValue(key, value);
  }
  return static_cast<int64_t>(tokens->AsArray()->items.size());
}

Result<nlohmann::json> ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open " + path.string());
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption(path.string() + ": invalid JSON");
  return j;
}

// tokenizer_config.json names BOS/EOS as a string or as {"content": ...}.
std::string TokenText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"];
  return "";
}

Result<int64_t> FromTokenizerJson(const std::string& path, const std::string& pre,
                                  int64_t n_vocab, gguf::GgufWriter* w) {
  MINT_ASSIGN_OR_RETURN(nlohmann::json j, ReadJson(path));
  const auto& model = j["model"];
  if (!model.is_object() || model.value("type", "") != "BPE" || !model["vocab"].is_object()) {
    return Status::Unsupported(path + ": only BPE tokenizer.json vocabularies are supported");
  }
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    by_id[it.value().get<int64_t>()] = {it.key(), kNormal};
  }
  if (j["added_tokens"].is_array()) {
    for (const auto& t : j["added_tokens"]) {
      by_id[t["id"].get<int64_t>()] = {t["content"].get<std::string>(),
                                       t.value("special", false) ? kControl : kUserDefined};
    }
  }
  const int64_t size = std::max<int64_t>(n_vocab, by_id.empty() ? 0 : by_id.rbegin()->first + 1);
  std::vector<std::string> tokens(size);
  std::vector<int32_t> types(size, kUnused);
  std::map<std::string, int32_t> ids;
  for (int64_t i = 0; i < size; ++i) tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (const auto& [id, tt] : by_id) {
    tokens[id] = tt.first;
    types[id] = tt.second;
    ids[tt.first] = static_cast<int32_t>(id);
  }
  std::vector<std::string> merges;
  for (const auto& m : model["merges"]) {
    merges.push_back(m.is_string() ? m.get<std::string>()
                                   : m[0].get<std::string>() + " " + m[1].get<std::string>());
  }
  w->SetString("tokenizer.ggml.model", "gpt2");
  w->SetString("tokenizer.ggml.pre", pre);
  w->SetStringArray("tokenizer.ggml.tokens", tokens);
  w->SetI32Array("tokenizer.ggml.token_type", types);
  w->SetStringArray("tokenizer.ggml.merges", merges);

  auto config = ReadJson(std::filesystem::path(path).parent_path() / "tokenizer_config.json");
  if (config.ok()) {
    auto set_id = [&](const char* field, const std::string& key) {
      auto it = ids.find(TokenText((*config)[field]));
      if (it != ids.end()) w->SetU32(key, static_cast<uint32_t>(it->second));
    };
    set_id("bos_token", "tokenizer.ggml.bos_token_id");
    set_id("eos_token", "tokenizer.ggml.eos_token_id");
    set_id("pad_token", "tokenizer.ggml.padding_token_id");
    w->SetBool("tokenizer.ggml.add_bos_token", config->value("add_bos_token", false));
    if ((*config)["chat_template"].is_string()) {
      w->SetString("tokenizer.chat_template", (*config)["chat_template"].get<std::string>());
    }
  }
  return size;
}

// A self-contained SentencePiece-style vocabulary of 512 tokens: <unk>, <s>, </s>, the 256
// byte-fallback tokens, then printable pieces with and without the leading "\xe2\x96\x81".
int64_t BuiltinVocabulary(gguf::GgufWriter* w) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, kControl, kControl};
  char buf[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.push_back(buf);
    types.push_back(6);  // BYTE
  }
  const std::string space = "\xe2\x96\x81";
  for (int c = 33; c < 127 && tokens.size() < 512; ++c) {
    tokens.push_back(std::string(1, static_cast<char>(c)));
    types.push_back(kNormal);
    tokens.push_back(space + static_cast<char>(c));
    types.push_back(kNormal);
  }
  for (int a = 'a'; a <= 'z' && tokens.size() < 512; ++a) {
    for (int b = 'a'; b <= 'z' && tokens.size() < 512; ++b) {
      tokens.push_back(space + static_cast<char>(a) + static_cast<char>(b));
      types.push_back(kNormal);
    }
  }
  std::vector<float> scores(tokens.size());
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = -static_cast<float>(i);
  w->SetString("tokenizer.ggml.model", "llama");
  w->SetStringArray("tokenizer.ggml.tokens", tokens);
  w->SetF32Array("tokenizer.ggml.scores", scores);
  w->SetI32Array("tokenizer.ggml.token_type", types);
  w->SetU32("tokenizer.ggml.unknown_token_id", 0);
  w->SetU32("tokenizer.ggml.bos_token_id", 1);
  w->SetU32("tokenizer.ggml.eos_token_id", 2);
  return static_cast<int64_t>(tokens.size());
}

}  // namespace

Result<int64_t> AddVocabulary(const std::string& path, const std::string& bpe_pre,
                              int64_t n_vocab, gguf::GgufWriter* w) {
  if (path == "builtin") {
    const int64_t size = BuiltinVocabulary(w);
    if (n_vocab > size) return Status::InvalidArgument("the builtin vocabulary has 512 tokens");
    return size;
  }
  if (!std::filesystem::exists(path)) {
    return Status::NotFound("vocabulary " + path + " not found (pass --vocab or --shared-dir)");
  }
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    try {
      return FromTokenizerJson(path, bpe_pre.empty() ? "default" : bpe_pre, n_vocab, w);
    } catch (const nlohmann::json::exception& e) {
      return Status::Corruption(path + ": " + e.what());
    }
  }
  MINT_ASSIGN_OR_RETURN(int64_t size, FromGguf(path, w));
  if (n_vocab > size) return Status::InvalidArgument("GGUF vocabularies are not padded");
  return size;
}

}  // namespace mint::model
