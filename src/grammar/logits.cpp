#include "grammar/logits.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>

#include "engine/engine.h"
#include "fmt/format.h"
#include "tokenizer/unicode.h"

namespace mint::grammar {
namespace {

// A grammar over the whole output, or (with a trigger) a lazy one: free text until the output
// contains the trigger, then the grammar over what follows it, free again once it completes.
class GrammarProcessor final : public engine::LogitsProcessor {
 public:
  GrammarProcessor(std::shared_ptr<const CompiledGrammar> g, std::vector<int32_t> stops,
                   std::string trigger)
      : grammar_(std::move(g)), trigger_(std::move(trigger)) {
    if (trigger_.empty()) matcher_.emplace(grammar_, std::move(stops));
  }

  bool ListAllowed(std::vector<int32_t>* ids) override {
    if (!matcher_) return false;  // free text
    matcher_->FillMask(&allowed_);
    fresh_ = true;
    const int64_t count = allowed_.Count();
    if (count > static_cast<int64_t>(allowed_.words.size()) * 64 / 16)
      return false;  // long: Mask writes the row
    fresh_ = false;
    ids->clear();
    for (size_t w = 0; w < allowed_.words.size(); ++w) {
      for (uint64_t bits = allowed_.words[w]; bits != 0; bits &= bits - 1) {
        ids->push_back(static_cast<int32_t>(w * 64 + std::countr_zero(bits)));
      }
    }
    return true;
  }

  bool Mask(std::span<float> logits) override {
    if (!matcher_) return true;  // free text
    if (!fresh_) matcher_->FillMask(&allowed_);  // else ListAllowed just filled it
    fresh_ = false;
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    const size_t n = logits.size();
    bool any = false;
    for (size_t w = 0; w < allowed_.words.size(); ++w) {
      const uint64_t bits = allowed_.words[w];
      const size_t base = w * 64;
      if (base >= n) break;
      const size_t width = std::min<size_t>(64, n - base);
      if (bits == 0) {  // the common case at structural positions: a run to fill
        std::fill_n(logits.data() + base, width, kNegInf);
        continue;
      }
      any = true;
      // Only the cleared bits, lowest first.
      for (uint64_t clear = ~bits; clear != 0; clear &= clear - 1) {
        const auto i = static_cast<size_t>(std::countr_zero(clear));
        if (i >= width) break;
        logits[base + i] = kNegInf;
      }
    }
    for (size_t i = allowed_.words.size() * 64; i < n; ++i) logits[i] = kNegInf;
    return any;
  }

  bool Allows(int32_t token) override { return !matcher_ || matcher_->Allows(token); }
  Status status() const override { return matcher_ ? matcher_->status() : Status::Ok(); }

  void Accept(int32_t token) override {
    fresh_ = false;
    if (!matcher_) {
      Watch(token);
      return;
    }
    matcher_->Accept(token);
    if (!trigger_.empty() && matcher_->OnlyEnd()) matcher_.reset();  // the lazy part is done
  }

 private:
  // Free text: looks for the trigger across token boundaries; what follows it in the same token
  // is the grammar's first input. A continuation the grammar refuses leaves the text free.
  void Watch(int32_t token) {
    const Vocabulary& v = grammar_->vocab();
    if (!v.has_bytes(token)) return;
    window_ += v.bytes(token);
    const size_t at = window_.find(trigger_);
    if (at == std::string::npos) {
      if (window_.size() >= trigger_.size()) window_.erase(0, window_.size() - trigger_.size() + 1);
      return;
    }
    const std::string rest = window_.substr(at + trigger_.size());
    window_.clear();
    matcher_.emplace(grammar_, std::vector<int32_t>{});
    if (!matcher_->AcceptText(rest) || matcher_->OnlyEnd()) matcher_.reset();
  }

  std::shared_ptr<const CompiledGrammar> grammar_;
  std::string trigger_;
  std::optional<TokenMatcher> matcher_;  // empty: free text (lazy grammars only)
  std::string window_;                   // the tail of free text, for a split trigger
  TokenSet allowed_;
  bool fresh_ = false;  // allowed_ is this step's (filled by ListAllowed)
};

}  // namespace

namespace {

// Control tokens that do not end generation, in id order (their rank is their code point).
std::vector<int32_t> MarkerTokens(const tokenizer::Tokenizer& tok) {
  std::vector<int32_t> out;
  for (int32_t t = 0; t < tok.vocab_size(); ++t) {
    if (tok.IsControl(t) && !tok.IsEndOfGeneration(t)) out.push_back(t);
  }
  if (out.size() > 0x10FFFF - kControlBase) out.resize(0x10FFFF - kControlBase);
  return out;
}

}  // namespace

std::shared_ptr<const Vocabulary> VocabularyFromTokenizer(const tokenizer::Tokenizer& tok,
                                                          int64_t n_vocab) {
  std::vector<std::string> bytes(static_cast<size_t>(tok.vocab_size()));
  for (int32_t t = 0; t < tok.vocab_size(); ++t) {
    if (!tok.IsControl(t)) bytes[t] = tok.TokenPiece(t);
  }
  const std::vector<int32_t> markers = MarkerTokens(tok);
  for (size_t k = 0; k < markers.size(); ++k) {
    tokenizer::AppendUtf8(kControlBase + static_cast<uint32_t>(k), &bytes[markers[k]]);
  }
  return std::make_shared<Vocabulary>(std::move(bytes), static_cast<int32_t>(n_vocab));
}

ControlSpelling::ControlSpelling(const tokenizer::Tokenizer& tok) : tok_(tok) {
  const std::vector<int32_t> markers = MarkerTokens(tok);
  for (size_t k = 0; k < markers.size(); ++k) {
    code_points_.emplace(markers[k], kControlBase + static_cast<uint32_t>(k));
  }
}

std::string ControlSpelling::Bytes(std::string_view marker) const {
  auto it = code_points_.find(tok_.TokenId(marker));
  if (it == code_points_.end()) return std::string(marker);
  std::string out;
  tokenizer::AppendUtf8(it->second, &out);
  return out;
}

std::string ControlSpelling::Literal(std::string_view marker) const {
  const int32_t id = tok_.TokenId(marker);
  auto it = code_points_.find(id);
  if (id < 0 || it == code_points_.end()) return GbnfLiteral(marker);
  return fmt::format("\"\\U{:08X}\"", it->second);
}

engine::LogitsProcessorFactory GrammarProcessorFactory(std::shared_ptr<GrammarCache> cache) {
  return [cache](const engine::Request& request)
             -> Result<std::unique_ptr<engine::LogitsProcessor>> {
    MINT_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledGrammar> g, cache->Get(request.grammar));
    auto p = std::make_unique<GrammarProcessor>(std::move(g), request.stop_token_ids,
                                                request.grammar_trigger);
    const auto n = static_cast<int64_t>(request.prompt.size());
    if (request.grammar_generated < 0 || (request.grammar_generated > 0 && request.grammar_generated >= n)) {
      return Status::InvalidArgument("grammar_generated: must be in [0, prompt size)");
    }
    for (int64_t i = n - request.grammar_generated; i < n; ++i) {
      if (!p->Allows(request.prompt[i])) {
        return Status::InvalidArgument("grammar: the output so far does not match the grammar");
      }
      p->Accept(request.prompt[i]);
    }
    return std::unique_ptr<engine::LogitsProcessor>(std::move(p));
  };
}

}  // namespace mint::grammar
