// Hugging Face tokenizer.json (+ tokenizer_config.json) -> TokenizerData.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"

namespace mint::tokenizer {
namespace {

using nlohmann::json;

Result<json> ReadJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption(path + ": not valid JSON");
  return j;
}

std::string QuoteRegex(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}-/").find(c) != std::string_view::npos) {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

// {"String": "x"} or {"Regex": "..."} -> PCRE2 pattern.
Result<std::string> PatternOf(const json& p) {
  if (p.contains("Regex")) return p.at("Regex").get<std::string>();
  if (p.contains("String")) return QuoteRegex(p.at("String").get<std::string>());
  return Status::Unsupported("pattern is neither String nor Regex");
}

Result<SplitBehavior> BehaviorOf(const std::string& s) {
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  return Status::Unsupported("split behavior '" + s + "'");
}

Status AddSplit(TokenizerData* d, const std::string& pattern, SplitBehavior behavior, bool invert) {
  MINT_ASSIGN_OR_RETURN(auto step, PreTokenizerStep::Split(pattern, behavior, invert));
  d->pre.steps.push_back(std::move(step));
  return Status::Ok();
}

Status ParseNormalizer(const json& n, TokenizerData* d) {
  if (n.is_null()) return Status::Ok();
  const std::string type = n.value("type", "");
  if (type == "Sequence") {
    for (const json& sub : n.at("normalizers")) MINT_RETURN_IF_ERROR(ParseNormalizer(sub, d));
    return Status::Ok();
  }
  NormalizerStep step{};
  if (type == "Prepend") {
    step.kind = NormalizerStep::Kind::kPrepend;
    step.arg = n.at("prepend").get<std::string>();
  } else if (type == "Replace") {
    step.replacement = n.at("content").get<std::string>();
    if (n.at("pattern").contains("String")) {
      step.kind = NormalizerStep::Kind::kReplaceString;
      step.arg = n.at("pattern").at("String").get<std::string>();
    } else {
      step.kind = NormalizerStep::Kind::kReplaceRegex;
      MINT_ASSIGN_OR_RETURN(step.arg, PatternOf(n.at("pattern")));
      MINT_ASSIGN_OR_RETURN(step.regex, Regex::Compile(step.arg));
    }
  } else if (type == "NFC") {
    step.kind = NormalizerStep::Kind::kNfc;
  } else if (type == "Lowercase") {
    step.kind = NormalizerStep::Kind::kLowercase;
  } else {
    return Status::Unsupported("normalizer '" + type + "'");
  }
  d->normalizers.push_back(std::move(step));
  return Status::Ok();
}

Status ParsePreTokenizer(const json& p, TokenizerData* d) {
  if (p.is_null()) return Status::Ok();
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const json& sub : p.at("pretokenizers")) MINT_RETURN_IF_ERROR(ParsePreTokenizer(sub, d));
    return Status::Ok();
  }
  if (type == "Split") {
    MINT_ASSIGN_OR_RETURN(std::string pattern, PatternOf(p.at("pattern")));
    MINT_ASSIGN_OR_RETURN(SplitBehavior behavior, BehaviorOf(p.value("behavior", "Isolated")));
    return AddSplit(d, pattern, behavior, p.value("invert", false));
  }
  if (type == "ByteLevel") {
    d->byte_level = true;
    if (p.value("add_prefix_space", false)) d->pre.add_prefix_space = true;
    if (p.value("use_regex", true)) {
      return AddSplit(d, kGpt2Regex, SplitBehavior::kIsolated, false);
    }
    return Status::Ok();
  }
  if (type == "Digits") {
    return AddSplit(d, p.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+",
                    SplitBehavior::kIsolated, false);
  }
  if (type == "Metaspace") {
    if (!d->pre.steps.empty()) return Status::Unsupported("Metaspace after another pre-tokenizer");
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::Kind::kMetaspace;
    step.replacement = p.value("replacement", std::string(kMetaspace));
    const std::string scheme =
        p.value("prepend_scheme", p.value("add_prefix_space", true) ? "always" : "never");
    step.prepend = scheme == "first"   ? PreTokenizerStep::Prepend::kFirst
                   : scheme == "never" ? PreTokenizerStep::Prepend::kNever
                                       : PreTokenizerStep::Prepend::kAlways;
    step.split = p.value("split", true);
    d->pre.steps.push_back(std::move(step));
    return Status::Ok();
  }
  return Status::Unsupported("pre-tokenizer '" + type + "'");
}

void ParseDecoder(const json& dec, TokenizerData* d) {
  if (dec.is_null()) return;
  const std::string type = dec.value("type", "");
  if (type == "Sequence") {
    for (const json& sub : dec.at("decoders")) ParseDecoder(sub, d);
  } else if (type == "ByteLevel") {
    d->piece_decoding = PieceDecoding::kByteLevel;
  } else if (type == "Metaspace") {
    d->piece_decoding = PieceDecoding::kMetaspace;
    const std::string scheme =
        dec.value("prepend_scheme", dec.value("add_prefix_space", true) ? "always" : "never");
    d->strip_leading_space = scheme != "never";
  } else if (type == "Replace") {
    if (dec.contains("pattern") && dec.at("pattern").value("String", "") == kMetaspace) {
      d->piece_decoding = PieceDecoding::kMetaspace;
    }
  } else if (type == "Strip") {
    if (dec.value("start", 0) > 0 && dec.value("content", " ") == " ") {
      d->strip_leading_space = true;
    }
  }
}

// TemplateProcessing: a special token before "A" means add_bos, after it add_eos.
void ParsePostProcessor(const json& p, int* add_bos_id, int* add_eos_id) {
  if (p.is_null()) return;
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const json& sub : p.at("processors")) ParsePostProcessor(sub, add_bos_id, add_eos_id);
    return;
  }
  if (type != "TemplateProcessing" || !p.contains("single")) return;
  const json& single = p.at("single");
  auto special_id = [&](const json& item) -> int {
    const std::string name = item.at("SpecialToken").at("id").get<std::string>();
    const json& ids = p.at("special_tokens").at(name).at("ids");
    return ids.empty() ? -1 : ids[0].get<int>();
  };
  bool seen_sequence = false;
  for (const json& item : single) {
    if (item.contains("Sequence")) {
      seen_sequence = true;
    } else if (item.contains("SpecialToken")) {
      (seen_sequence ? *add_eos_id : *add_bos_id) = special_id(item);
    }
  }
}

std::string TokenContent(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content")) return v.at("content").get<std::string>();
  return {};
}

Status ParseModel(const json& model, TokenizerData* d, const json& added_tokens) {
  const std::string type = model.value("type", "BPE");
  if (type != "BPE") return Status::Unsupported("tokenizer.json model '" + type + "'");
  int64_t max_id = -1;
  for (const auto& [text, id] : model.at("vocab").items()) max_id = std::max<int64_t>(max_id, id);
  for (const json& t : added_tokens) max_id = std::max<int64_t>(max_id, t.at("id").get<int64_t>());
  if (max_id < 0 || max_id >= (int64_t{1} << 24)) {
    return Status::Corruption("vocabulary ids out of range [0, 2^24)");
  }
  d->texts.assign(max_id + 1, std::string());
  d->types.assign(max_id + 1, TokenType::kUnused);
  for (const auto& [text, id] : model.at("vocab").items()) {
    const int64_t i = id.get<int64_t>();
    if (i < 0) return Status::Corruption("negative token id for '" + text + "'");
    d->texts[i] = text;
    d->types[i] = TokenType::kNormal;
  }
  d->ignore_merges = model.value("ignore_merges", false);
  d->byte_fallback = model.value("byte_fallback", false);
  d->fuse_unk = model.value("fuse_unk", false);
  for (const json& t : added_tokens) {
    AddedToken a;
    a.id = t.at("id").get<int32_t>();
    a.content = t.at("content").get<std::string>();
    a.special = t.value("special", false);
    a.lstrip = t.value("lstrip", false);
    a.rstrip = t.value("rstrip", false);
    d->texts[a.id] = a.content;
    d->types[a.id] = a.special ? TokenType::kControl : TokenType::kUserDefined;
    d->added.push_back(std::move(a));
  }
  for (size_t i = 0; i < d->texts.size(); ++i) {
    if (!d->texts[i].empty()) d->text_to_id.emplace(d->texts[i], static_cast<int32_t>(i));
  }
  if (model.contains("unk_token") && model.at("unk_token").is_string()) {
    auto it = d->text_to_id.find(model.at("unk_token").get<std::string>());
    if (it != d->text_to_id.end()) {
      d->unk_id = it->second;
      if (d->types[d->unk_id] == TokenType::kNormal) d->types[d->unk_id] = TokenType::kUnknown;
    }
  }
  if (d->byte_fallback) {
    for (size_t i = 0; i < d->texts.size(); ++i) {
      if (d->types[i] == TokenType::kNormal && ParseByteToken(d->texts[i]) >= 0) {
        d->types[i] = TokenType::kByte;
      }
    }
  }
  // Merges: "a b" strings or ["a", "b"] pairs; rank = position.
  std::vector<MergeTable::Entry> entries;
  const json& merges = model.at("merges");
  entries.reserve(merges.size());
  int32_t rank = 0;
  for (const json& m : merges) {
    std::string a, b;
    if (m.is_array() && m.size() == 2) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) return Status::Corruption("merge without a space: " + s);
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else {
      return Status::Corruption("merge entry is neither a string nor a pair");
    }
    const auto ia = d->text_to_id.find(a), ib = d->text_to_id.find(b),
               im = d->text_to_id.find(a + b);
    if (ia != d->text_to_id.end() && ib != d->text_to_id.end() && im != d->text_to_id.end()) {
      entries.push_back({MergeTable::Key(ia->second, ib->second), rank, im->second});
    }
    ++rank;
  }
  d->merges.Build(entries);
  return Status::Ok();
}

std::string ChatTemplateOf(const json& config) {
  if (!config.contains("chat_template")) return {};
  const json& t = config.at("chat_template");
  if (t.is_string()) return t.get<std::string>();
  if (t.is_array()) {  // [{"name": ..., "template": ...}]: prefer "default"
    std::string first;
    for (const json& e : t) {
      if (!e.is_object() || !e.contains("template")) continue;
      if (e.value("name", "") == "default") return e.at("template").get<std::string>();
      if (first.empty()) first = e.at("template").get<std::string>();
    }
    return first;
  }
  return {};
}

Result<std::unique_ptr<TokenizerData>> LoadImpl(const std::string& path) {
  MINT_ASSIGN_OR_RETURN(json j, ReadJson(path));
  if (!j.is_object() || !j.contains("model")) {
    return Status::Corruption(path + ": no \"model\" in tokenizer.json");
  }
  auto d = std::make_unique<TokenizerData>();
  d->model = ModelKind::kBpe;
  const json no_added = json::array();
  MINT_RETURN_IF_ERROR(ParseModel(j.at("model"), d.get(), j.value("added_tokens", no_added)));
  MINT_RETURN_IF_ERROR(ParseNormalizer(j.value("normalizer", json()), d.get()));
  MINT_RETURN_IF_ERROR(ParsePreTokenizer(j.value("pre_tokenizer", json()), d.get()));
  d->piece_decoding = d->byte_level ? PieceDecoding::kByteLevel : PieceDecoding::kVerbatim;
  ParseDecoder(j.value("decoder", json()), d.get());
  int template_bos = -1, template_eos = -1;
  ParsePostProcessor(j.value("post_processor", json()), &template_bos, &template_eos);

  json config;
  const auto config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) {
    MINT_ASSIGN_OR_RETURN(config, ReadJson(config_path.string()));
  }
  auto id_of = [&](const char* key) -> int32_t {
    if (!config.is_object() || !config.contains(key)) return -1;
    auto it = d->text_to_id.find(TokenContent(config.at(key)));
    return it == d->text_to_id.end() ? -1 : it->second;
  };
  d->bos_id = id_of("bos_token");
  d->eos_id = id_of("eos_token");
  d->pad_id = id_of("pad_token");
  if (d->unk_id < 0) d->unk_id = id_of("unk_token");
  if (d->bos_id < 0) d->bos_id = template_bos;
  if (d->eos_id < 0) d->eos_id = template_eos;
  // add_bos: tokenizer_config.json, else the post-processor template, else "when there is a
  // BOS token" (some exports of Llama 3 drop the template that adds it).
  if (config.is_object() && config.contains("add_bos_token") &&
      config.at("add_bos_token").is_boolean()) {
    d->add_bos = config.at("add_bos_token").get<bool>();
  } else {
    d->add_bos = template_bos >= 0 || d->bos_id >= 0;
  }
  if (config.is_object() && config.contains("add_eos_token") &&
      config.at("add_eos_token").is_boolean()) {
    d->add_eos = config.at("add_eos_token").get<bool>();
  } else {
    d->add_eos = template_eos >= 0;
  }
  if (config.is_object()) d->chat_template = ChatTemplateOf(config);
  d->description = std::string("hf-bpe") + (d->byte_level ? "/byte-level" : "") +
                   (d->byte_fallback ? "/byte-fallback" : "");
  return d;
}

}  // namespace

Result<std::unique_ptr<TokenizerData>> LoadHuggingFaceData(const std::string& json_path) {
  try {
    return LoadImpl(json_path);
  } catch (const std::exception& e) {  // nlohmann type errors on malformed files
    return Status::Corruption(json_path + ": " + e.what());
  }
}

}  // namespace mint::tokenizer
