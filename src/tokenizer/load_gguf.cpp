// GGUF tokenizer.ggml.* metadata -> TokenizerData; Tokenizer::Load's dispatch on the path.
#include <filesystem>
#include <fstream>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer_internal.h"

namespace mint::tokenizer {
namespace {

// The string items of an array value, or an error naming the key.
Result<std::vector<std::string>> StringArray(const gguf::GgufFile& f, const std::string& key) {
  const gguf::Value* v = f.Find(key);
  if (v == nullptr) return Status::NotFound("no " + key + " in the GGUF metadata");
  const gguf::Array* arr = v->AsArray();
  if (arr == nullptr || arr->elem_type != gguf::ValueType::kString) {
    return Status::Corruption(key + " is not an array of strings");
  }
  std::vector<std::string> out;
  out.reserve(arr->items.size());
  for (const gguf::Value& item : arr->items) {
    const auto* s = std::get_if<std::string>(&item.v);
    if (s == nullptr) return Status::Corruption(key + " holds a non-string item");
    out.push_back(*s);
  }
  return out;
}

// Numeric array items as doubles (scores) or integers (token types); empty if absent.
Result<std::vector<double>> NumberArray(const gguf::GgufFile& f, const std::string& key) {
  std::vector<double> out;
  const gguf::Value* v = f.Find(key);
  if (v == nullptr) return out;
  const gguf::Array* arr = v->AsArray();
  if (arr == nullptr) return Status::Corruption(key + " is not an array");
  out.reserve(arr->items.size());
  for (const gguf::Value& item : arr->items) {
    MINT_ASSIGN_OR_RETURN(double x, item.AsFloat());
    out.push_back(x);
  }
  return out;
}

// A token id key: absent -> `def`; 0xFFFFFFFF or out of range -> -1.
Result<int32_t> IdKey(const gguf::GgufFile& f, const std::string& key, int32_t def,
                      int32_t vocab_size) {
  MINT_ASSIGN_OR_RETURN(int64_t v, f.GetIntOr(key, def));
  return v >= 0 && v < vocab_size ? static_cast<int32_t>(v) : -1;
}

Status LoadMerges(const gguf::GgufFile& f, TokenizerData* d) {
  MINT_ASSIGN_OR_RETURN(auto merges, StringArray(f, "tokenizer.ggml.merges"));
  std::vector<MergeTable::Entry> entries;
  entries.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank];
    const size_t sp = m.find(' ', 1);
    if (sp == std::string::npos) continue;
    const std::string a = m.substr(0, sp), b = m.substr(sp + 1);
    const auto ia = d->text_to_id.find(a), ib = d->text_to_id.find(b),
               im = d->text_to_id.find(a + b);
    if (ia != d->text_to_id.end() && ib != d->text_to_id.end() && im != d->text_to_id.end()) {
      entries.push_back(
          {MergeTable::Key(ia->second, ib->second), static_cast<int32_t>(rank), im->second});
    }
  }
  d->merges.Build(entries);
  return Status::Ok();
}

Status SetUpPreTokenizer(const std::string& pre, TokenizerData* d) {
  MINT_ASSIGN_OR_RETURN(auto patterns, PresetRegexes(pre));
  for (const std::string& p : patterns) {
    MINT_ASSIGN_OR_RETURN(auto step, PreTokenizerStep::Split(p));
    d->pre.steps.push_back(std::move(step));
  }
  return Status::Ok();
}

// tokenizer.ggml.tokens / scores / token_type -> texts, scores, types and the text index.
Status LoadVocabulary(const gguf::GgufFile& f, TokenizerData* d) {
  MINT_ASSIGN_OR_RETURN(d->texts, StringArray(f, "tokenizer.ggml.tokens"));
  const auto n = static_cast<int32_t>(d->texts.size());
  if (d->texts.empty()) return Status::Corruption("tokenizer.ggml.tokens is empty");
  MINT_ASSIGN_OR_RETURN(auto scores, NumberArray(f, "tokenizer.ggml.scores"));
  MINT_ASSIGN_OR_RETURN(auto types, NumberArray(f, "tokenizer.ggml.token_type"));
  if ((!scores.empty() && scores.size() != d->texts.size()) ||
      (!types.empty() && types.size() != d->texts.size())) {
    return Status::Corruption("tokenizer.ggml.scores/token_type length differs from tokens");
  }
  d->scores.assign(scores.begin(), scores.end());
  d->types.resize(n, TokenType::kNormal);
  for (int32_t i = 0; i < static_cast<int32_t>(types.size()); ++i) {
    const int t = static_cast<int>(types[i]);
    d->types[i] = t >= 0 && t <= 6 ? static_cast<TokenType>(t) : TokenType::kNormal;
  }
  for (int32_t i = 0; i < n; ++i) {
    if (!d->texts[i].empty()) d->text_to_id.emplace(d->texts[i], i);
  }
  return Status::Ok();
}

// tokenizer.ggml.model (and .pre) -> the model kind, its decoding and pre-tokenizer.
Status SetUpModel(const gguf::GgufFile& f, const std::string& model, const std::string& pre,
                  TokenizerData* d) {
  if (model == "llama") {
    d->model = ModelKind::kSpm;
    d->spm_escape_whitespace = true;
    d->piece_decoding = PieceDecoding::kMetaspace;
    d->byte_fallback = true;
    MINT_ASSIGN_OR_RETURN(d->add_space_prefix,
                          f.GetBoolOr("tokenizer.ggml.add_space_prefix", true));
    d->strip_leading_space = d->add_space_prefix;
    d->description = "llama (spm)";
  } else if (model == "gpt2") {
    d->model = ModelKind::kBpe;
    d->byte_level = true;
    d->piece_decoding = PieceDecoding::kByteLevel;
    MINT_RETURN_IF_ERROR(LoadMerges(f, d));
    MINT_RETURN_IF_ERROR(SetUpPreTokenizer(pre, d));
    d->ignore_merges = pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3";
    d->description = "gpt2 (byte-level bpe, pre=" + pre + ")";
  } else if (model == "bert") {
    d->model = ModelKind::kWordPiece;
    d->piece_decoding = PieceDecoding::kMetaspace;  // word-initial pieces start with "▁"
    d->strip_leading_space = true;
    d->description = "bert (wordpiece, pre=" + pre + ")";
  } else {
    return Status::Unsupported("tokenizer model '" + model + "'");
  }
  return Status::Ok();
}

// Special token ids and the add_bos / add_eos flags, with each model kind's defaults.
Status LoadSpecialTokens(const gguf::GgufFile& f, TokenizerData* d) {
  const auto n = static_cast<int32_t>(d->texts.size());
  const bool spm = d->model == ModelKind::kSpm, bert = d->model == ModelKind::kWordPiece;
  // BERT vocabularies name [CLS] and [SEP] instead of BOS and EOS (the key's spelling is
  // llama.cpp's); add_special wraps the text in them.
  int32_t default_bos = spm ? 1 : -1, default_eos = spm ? 2 : -1;
  if (bert) {
    MINT_ASSIGN_OR_RETURN(default_bos, IdKey(f, "tokenizer.ggml.cls_token_id", -1, n));
    MINT_ASSIGN_OR_RETURN(default_eos, IdKey(f, "tokenizer.ggml.seperator_token_id", -1, n));
  }
  MINT_ASSIGN_OR_RETURN(d->bos_id, IdKey(f, "tokenizer.ggml.bos_token_id", default_bos, n));
  MINT_ASSIGN_OR_RETURN(d->eos_id, IdKey(f, "tokenizer.ggml.eos_token_id", default_eos, n));
  MINT_ASSIGN_OR_RETURN(d->unk_id, IdKey(f, "tokenizer.ggml.unknown_token_id", spm ? 0 : -1, n));
  MINT_ASSIGN_OR_RETURN(d->eot_id, IdKey(f, "tokenizer.ggml.eot_token_id", -1, n));
  MINT_ASSIGN_OR_RETURN(d->eom_id, IdKey(f, "tokenizer.ggml.eom_token_id", -1, n));
  MINT_ASSIGN_OR_RETURN(d->pad_id, IdKey(f, "tokenizer.ggml.padding_token_id", -1, n));
  MINT_ASSIGN_OR_RETURN(
      d->add_bos, f.GetBoolOr("tokenizer.ggml.add_bos_token", spm || d->ignore_merges || bert));
  MINT_ASSIGN_OR_RETURN(bool add_sep, f.GetBoolOr("tokenizer.ggml.add_sep_token", bert));
  MINT_ASSIGN_OR_RETURN(d->add_eos, f.GetBoolOr("tokenizer.ggml.add_eos_token", add_sep));
  // Control and user-defined tokens are matched in raw text before the model runs.
  for (int32_t i = 0; i < n; ++i) {
    const TokenType t = d->types[i];
    if (t != TokenType::kControl && t != TokenType::kUserDefined) continue;
    AddedToken a;
    a.id = i;
    a.content = d->texts[i];
    a.special = t == TokenType::kControl;
    d->added.push_back(std::move(a));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<TokenizerData>> LoadGgufData(const gguf::GgufFile& f) {
  auto d = std::make_unique<TokenizerData>();
  MINT_ASSIGN_OR_RETURN(std::string model, f.GetString("tokenizer.ggml.model"));
  MINT_ASSIGN_OR_RETURN(std::string pre, f.GetStringOr("tokenizer.ggml.pre", "default"));
  MINT_RETURN_IF_ERROR(LoadVocabulary(f, d.get()));
  MINT_RETURN_IF_ERROR(SetUpModel(f, model, pre, d.get()));
  MINT_RETURN_IF_ERROR(LoadSpecialTokens(f, d.get()));
  MINT_ASSIGN_OR_RETURN(d->chat_template, f.GetStringOr("tokenizer.chat_template", ""));
  return d;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const gguf::GgufFile& file) {
  MINT_ASSIGN_OR_RETURN(auto data, LoadGgufData(file));
  return Finish(std::move(data));
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return FromHuggingFace((fs::path(path) / "tokenizer.json").string());
  if (!fs::exists(path, ec)) return Status::NotFound("no such file: " + path);
  char magic[4] = {};
  std::ifstream(path, std::ios::binary).read(magic, 4);
  if (std::string_view(magic, 4) == "GGUF") {
    MINT_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::Open(path));
    return FromGguf(*file);
  }
  return FromHuggingFace(path);
}

}  // namespace mint::tokenizer
