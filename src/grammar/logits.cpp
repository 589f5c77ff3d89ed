#include "grammar/logits.h"

#include <limits>

#include "engine/engine.h"
#include "fmt/format.h"

namespace mint::grammar {
namespace {

class GrammarProcessor final : public engine::LogitsProcessor {
 public:
  GrammarProcessor(std::shared_ptr<const CompiledGrammar> g, std::vector<int32_t> stops)
      : matcher_(std::move(g), std::move(stops)) {}

  bool Mask(std::span<float> logits) override {
    matcher_.FillMask(&allowed_);
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    const size_t n = logits.size();
    bool any = false;
    for (size_t w = 0; w < allowed_.words.size(); ++w) {
      const uint64_t bits = allowed_.words[w];
      const size_t base = w * 64;
      if (bits == ~uint64_t{0} && base + 64 <= n) {
        any = true;
        continue;
      }
      if (bits != 0) any = true;
      const size_t end = std::min(n, base + 64);
      for (size_t i = base; i < end; ++i) {
        if (!((bits >> (i - base)) & 1)) logits[i] = kNegInf;
      }
    }
    for (size_t i = allowed_.words.size() * 64; i < n; ++i) logits[i] = kNegInf;
    return any;
  }

  bool Allows(int32_t token) override { return matcher_.Allows(token); }
  void Accept(int32_t token) override { matcher_.Accept(token); }

 private:
  TokenMatcher matcher_;
  TokenSet allowed_;
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
    AppendUtf8(kControlBase + static_cast<uint32_t>(k), &bytes[markers[k]]);
  }
  return std::make_shared<Vocabulary>(std::move(bytes), static_cast<int32_t>(n_vocab));
}

ControlSpelling::ControlSpelling(const tokenizer::Tokenizer& tok) : tok_(tok) {
  const std::vector<int32_t> markers = MarkerTokens(tok);
  for (size_t k = 0; k < markers.size(); ++k) {
    code_points_.emplace(markers[k], kControlBase + static_cast<uint32_t>(k));
  }
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
    auto p = std::make_unique<GrammarProcessor>(std::move(g), request.stop_token_ids);
    const auto n = static_cast<int64_t>(request.prompt.size());
    if (request.grammar_generated < 0 || request.grammar_generated >= n) {
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
