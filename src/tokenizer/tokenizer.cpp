// The Tokenizer facade: vocabulary finalization, the encode pipeline (added-token partition,
// normalization, pre-tokenization, model) and decoding.
#include <algorithm>
#include <climits>

#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"

namespace mint::tokenizer {

int ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int v = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = text[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    v = v * 16 + digit;
  }
  return v;
}

namespace {

std::string MetaspaceToSpace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kMetaspace.size(), kMetaspace) == 0) {
      out.push_back(' ');
      i += kMetaspace.size();
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

std::string PieceOf(const TokenizerData& d, int32_t id) {
  const std::string& text = d.texts[id];
  switch (d.types[id]) {
    case TokenType::kControl:
    case TokenType::kUnknown:
      return text;
    case TokenType::kByte: {
      const int b = ParseByteToken(text);
      return b >= 0 ? std::string(1, static_cast<char>(b)) : text;
    }
    case TokenType::kUserDefined:
      // Added tokens are spelled as raw text, except in SentencePiece vocabularies.
      return d.piece_decoding == PieceDecoding::kMetaspace ? MetaspaceToSpace(text) : text;
    default:
      break;
  }
  switch (d.piece_decoding) {
    case PieceDecoding::kByteLevel:
      return ByteLevelDecode(text);
    case PieceDecoding::kMetaspace: {
      const int b = ParseByteToken(text);
      if (b >= 0 && d.byte_fallback) return std::string(1, static_cast<char>(b));
      return MetaspaceToSpace(text);
    }
    case PieceDecoding::kVerbatim:
      break;
  }
  return text;
}

bool IsEogText(std::string_view t) {
  static const char* const kEog[] = {"<|eot_id|>",
                                     "<|im_end|>",
                                     "<|end|>",
                                     "<end_of_turn>",
                                     "<|endoftext|>",
                                     "<EOT>",
                                     "<|eom_id|>",
                                     "<|return|>",
                                     "<|call|>",
                                     "<|end_of_text|>",
                                     "<｜end▁of▁sentence｜>",
                                     "<|END_OF_TURN_TOKEN|>",
                                     "<|end_story|>"};
  for (const char* e : kEog) {
    if (t == e) return true;
  }
  return false;
}

}  // namespace

Status FinalizeData(TokenizerData* d) {
  const size_t n = d->texts.size();
  if (n == 0) return Status::Corruption("empty vocabulary");
  if (n > static_cast<size_t>(INT32_MAX)) return Status::OutOfRange("vocabulary too large");
  d->types.resize(n, TokenType::kNormal);
  d->scores.resize(n, 0.0f);
  if (d->text_to_id.empty()) {  // loaders may have built it already
    d->text_to_id.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
      if (!d->texts[i].empty()) d->text_to_id.emplace(d->texts[i], static_cast<int32_t>(i));
    }
  }
  for (int32_t* id : {&d->bos_id, &d->eos_id, &d->eot_id, &d->eom_id, &d->pad_id, &d->unk_id}) {
    if (!d->ValidId(*id)) *id = -1;
  }
  d->max_token_bytes = 0;
  for (const std::string& t : d->texts) d->max_token_bytes = std::max(d->max_token_bytes, t.size());
  d->spelling_filter.assign(size_t{1} << 14, 0);  // 2^20 bits
  {
    const uint64_t mask = d->spelling_filter.size() * 64 - 1;
    for (const std::string& t : d->texts) {
      const uint64_t h = PretokenCache::Hash(t);
      const uint64_t a = h & mask, b = (h >> 32) & mask;
      d->spelling_filter[a >> 6] |= uint64_t{1} << (a & 63);
      d->spelling_filter[b >> 6] |= uint64_t{1} << (b & 63);
    }
  }
  d->byte_ids.fill(-1);
  for (int b = 0; b < 256; ++b) {
    std::string key;
    if (d->byte_level) {
      key = std::string(ByteToUnicode(static_cast<uint8_t>(b)));
    } else {
      static const char kHex[] = "0123456789ABCDEF";
      key = std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">";
    }
    auto it = d->text_to_id.find(key);
    if (it != d->text_to_id.end()) d->byte_ids[b] = it->second;
  }
  d->pieces.resize(n);
  for (size_t i = 0; i < n; ++i) d->pieces[i] = PieceOf(*d, static_cast<int32_t>(i));

  for (auto& list : d->added_by_first_byte) list.clear();
  for (size_t i = 0; i < d->added.size(); ++i) {
    const AddedToken& t = d->added[i];
    if (t.content.empty() || !d->ValidId(t.id)) continue;
    d->added_by_first_byte[static_cast<uint8_t>(t.content[0])].push_back(static_cast<int32_t>(i));
  }
  for (auto& list : d->added_by_first_byte) {
    std::stable_sort(list.begin(), list.end(), [&](int32_t a, int32_t b) {
      return d->added[a].content.size() > d->added[b].content.size();
    });
  }

  std::vector<int32_t> eog;
  for (int32_t id : {d->eos_id, d->eot_id, d->eom_id}) {
    if (id >= 0) eog.push_back(id);
  }
  for (size_t i = 0; i < n; ++i) {
    if (d->types[i] == TokenType::kControl && IsEogText(d->texts[i])) {
      eog.push_back(static_cast<int32_t>(i));
    }
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  d->eog_ids = std::move(eog);
  return Status::Ok();
}

Tokenizer::Tokenizer(std::unique_ptr<TokenizerData> data) : data_(std::move(data)) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::Finish(std::unique_ptr<TokenizerData> data) {
  MINT_RETURN_IF_ERROR(FinalizeData(data.get()));
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(data)));
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromHuggingFace(const std::string& path) {
  MINT_ASSIGN_OR_RETURN(auto data, LoadHuggingFaceData(path));
  return Finish(std::move(data));
}

namespace {

// Encodes one stretch of text between added tokens.
void EncodeSegment(const TokenizerData& d, std::string_view seg, bool input_start, bool after_token,
                   std::vector<int32_t>* out) {
  if (seg.empty()) return;
  if (d.model == ModelKind::kWordPiece) {
    EncodeWordPiece(d, seg, out);
    return;
  }
  if (d.model == ModelKind::kSpm) {
    std::string text;
    text.reserve(seg.size() + 16);
    if (d.add_space_prefix && after_token) text.push_back(' ');
    text.append(seg);
    if (d.spm_escape_whitespace) {
      std::string escaped;
      escaped.reserve(text.size() + text.size() / 2);
      for (char c : text) {
        if (c == ' ') {
          escaped.append(kMetaspace);
        } else {
          escaped.push_back(c);
        }
      }
      text.swap(escaped);
    }
    EncodeSpm(d, text, out);
    return;
  }
  std::string text(seg);
  for (const NormalizerStep& step : d.normalizers) {
    switch (step.kind) {
      case NormalizerStep::Kind::kPrepend:
        if (!text.empty()) text.insert(0, step.arg);
        break;
      case NormalizerStep::Kind::kReplaceString: {
        if (step.arg.empty()) break;
        std::string r;
        r.reserve(text.size());
        size_t pos = 0;
        for (size_t hit; (hit = text.find(step.arg, pos)) != std::string::npos;
             pos = hit + step.arg.size()) {
          r.append(text, pos, hit - pos).append(step.replacement);
        }
        r.append(text, pos, std::string::npos);
        text.swap(r);
        break;
      }
      case NormalizerStep::Kind::kReplaceRegex: {
        std::string r;
        size_t pos = 0, b = 0, e = 0;
        while (pos <= text.size() && step.regex->Find(text, pos, &b, &e) && e > b) {
          r.append(text, pos, b - pos).append(step.replacement);
          pos = e;
        }
        r.append(text, pos, std::string::npos);
        text.swap(r);
        break;
      }
      case NormalizerStep::Kind::kNfc:
        if (MayNeedNfc(text)) text = NormalizeNfc(text);
        break;
      case NormalizerStep::Kind::kLowercase: {
        std::string lower;
        AppendLowercase(text, &lower);
        text.swap(lower);
        break;
      }
    }
  }
  thread_local std::vector<Span> spans;
  d.pre.Run(&text, input_start, &spans);
  for (const Span& s : spans) {
    EncodeBpeWord(d, std::string_view(text).substr(s.begin, s.end - s.begin), out);
  }
}

bool IsSpaceByte(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

Result<std::vector<int32_t>> Tokenizer::Encode(std::string_view text, bool add_special,
                                               bool parse_special) const {
  if (text.size() > static_cast<size_t>(INT32_MAX)) {
    return Status::OutOfRange("text longer than 2 GiB");
  }
  const TokenizerData& d = *data_;
  std::string clean;
  if (!IsValidUtf8(text)) {
    clean = SanitizeUtf8(text);
    text = clean;
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && d.add_bos && d.bos_id >= 0) out.push_back(d.bos_id);

  size_t seg_start = 0;
  bool after_token = true;  // start of input counts as "after a token" (SPM dummy prefix)
  bool input_start = true;
  if (!d.added.empty()) {
    for (size_t i = 0; i < text.size();) {
      const auto& candidates = d.added_by_first_byte[static_cast<uint8_t>(text[i])];
      const AddedToken* hit = nullptr;
      for (int32_t idx : candidates) {
        const AddedToken& t = d.added[idx];
        if (t.special && !parse_special) continue;
        if (text.compare(i, t.content.size(), t.content) == 0) {
          hit = &t;
          break;
        }
      }
      if (hit == nullptr) {
        ++i;
        continue;
      }
      size_t seg_end = i;
      if (hit->lstrip) {
        while (seg_end > seg_start && IsSpaceByte(text[seg_end - 1])) --seg_end;
      }
      EncodeSegment(d, text.substr(seg_start, seg_end - seg_start), input_start, after_token, &out);
      out.push_back(hit->id);
      i += hit->content.size();
      if (hit->rstrip) {
        while (i < text.size() && IsSpaceByte(text[i])) ++i;
      }
      seg_start = i;
      after_token = true;
      input_start = false;
    }
  }
  EncodeSegment(d, text.substr(seg_start), input_start, after_token, &out);
  if (add_special && d.add_eos && d.eos_id >= 0) out.push_back(d.eos_id);
  return out;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special) const {
  const TokenizerData& d = *data_;
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    if (!d.ValidId(id)) continue;
    if (skip_special && d.types[id] == TokenType::kControl) continue;
    const std::string& piece = d.pieces[id];
    if (piece.empty()) continue;
    if (first && d.strip_leading_space && piece[0] == ' ') {
      out.append(piece, 1, std::string::npos);
    } else {
      out.append(piece);
    }
    first = false;
  }
  return out;
}

std::string Tokenizer::TokenPiece(int32_t id) const {
  return data_->ValidId(id) ? data_->pieces[id] : std::string();
}
std::string Tokenizer::TokenText(int32_t id) const {
  return data_->ValidId(id) ? data_->texts[id] : std::string();
}
TokenType Tokenizer::token_type(int32_t id) const {
  return data_->ValidId(id) ? data_->types[id] : TokenType::kUndefined;
}
int32_t Tokenizer::TokenId(std::string_view text) const {
  auto it = data_->text_to_id.find(text);
  return it == data_->text_to_id.end() ? -1 : it->second;
}
int32_t Tokenizer::vocab_size() const { return data_->vocab_size(); }
int32_t Tokenizer::bos_id() const { return data_->bos_id; }
int32_t Tokenizer::eos_id() const { return data_->eos_id; }
int32_t Tokenizer::eot_id() const { return data_->eot_id; }
int32_t Tokenizer::pad_id() const { return data_->pad_id; }
int32_t Tokenizer::unk_id() const { return data_->unk_id; }
bool Tokenizer::add_bos() const { return data_->add_bos; }
bool Tokenizer::add_eos() const { return data_->add_eos; }
bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  return std::binary_search(data_->eog_ids.begin(), data_->eog_ids.end(), id);
}
bool Tokenizer::IsControl(int32_t id) const { return token_type(id) == TokenType::kControl; }
bool Tokenizer::strips_leading_space() const { return data_->strip_leading_space; }
const std::string& Tokenizer::chat_template() const { return data_->chat_template; }
const std::string& Tokenizer::description() const { return data_->description; }

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer)
    : tokenizer_(&tokenizer) {}

void IncrementalDetokenizer::Prime(std::span<const int32_t> ids) {
  const TokenizerData& d = tokenizer_->data();
  for (int32_t id : ids) {
    if (d.ValidId(id) && d.types[id] != TokenType::kControl && !d.pieces[id].empty()) {
      seen_text_ = true;
    }
  }
}

std::string IncrementalDetokenizer::Push(int32_t id) {
  const TokenizerData& d = tokenizer_->data();
  if (!d.ValidId(id) || d.types[id] == TokenType::kControl) return {};
  const std::string& piece = d.pieces[id];
  if (piece.empty()) return {};
  if (!seen_text_ && d.strip_leading_space && piece[0] == ' ') {
    pending_.append(piece, 1, std::string::npos);
  } else {
    pending_.append(piece);
  }
  seen_text_ = true;
  const size_t n = CompleteUtf8Prefix(pending_);
  if (n == 0) return {};
  std::string out = SanitizeUtf8(std::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  return out;
}

std::string IncrementalDetokenizer::Flush() {
  std::string out = SanitizeUtf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace mint::tokenizer
