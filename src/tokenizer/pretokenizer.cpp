#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <map>

#include "tokenizer/fast_split.h"
#include "tokenizer/unicode.h"

namespace mint::tokenizer {
namespace {

// Per-thread PCRE2 scratch: match data (one pair is all we read) and a JIT stack large enough
// for the backtracking of long whitespace runs.
struct MatchScratch {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  MatchScratch() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (context != nullptr && jit_stack != nullptr) {
      pcre2_jit_stack_assign(context, nullptr, jit_stack);
    }
  }
  ~MatchScratch() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
};

MatchScratch& Scratch() {
  thread_local MatchScratch scratch;
  return scratch;
}

struct Segment {
  uint32_t begin;
  uint32_t end;
  bool matched;
};

// Cuts text[span] into matched / unmatched segments, in order, skipping empty matches.
void Segments(const Regex& re, const std::string& text, Span span, std::vector<Segment>* out) {
  out->clear();
  const std::string_view subject(text.data() + span.begin, span.end - span.begin);
  size_t pos = 0;
  size_t last = 0;
  while (pos < subject.size()) {
    size_t b = 0, e = 0;
    if (!re.Find(subject, pos, &b, &e)) break;
    if (e == b) {  // empty match: step over one character
      pos = b + Utf8LengthFromLead(static_cast<uint8_t>(subject[b < subject.size() ? b : 0]));
      continue;
    }
    if (b > last) out->push_back({span.begin + uint32_t(last), span.begin + uint32_t(b), false});
    out->push_back({span.begin + uint32_t(b), span.begin + uint32_t(e), true});
    last = pos = e;
  }
  if (last < subject.size()) {
    out->push_back({span.begin + uint32_t(last), span.end, false});
  }
}

// Applies one split step to text[span], appending pieces to *out (Hugging Face semantics of
// SplitDelimiterBehavior; "delimiter" = matched segment, or unmatched one if inverted).
void SplitSpan(const PreTokenizerStep& step, const std::string& text, Span span,
               std::vector<Segment>* segs, std::vector<Span>* out) {
  if (step.fast != 0) {
    FastSplit(static_cast<FastSplitKind>(step.fast), text, span, out);
    return;
  }
  Segments(*step.regex, text, span, segs);
  const size_t first = out->size();
  const size_t n = segs->size();
  auto delim = [&](size_t i) { return (*segs)[i].matched != step.invert; };
  switch (step.behavior) {
    case SplitBehavior::kIsolated:
      for (const Segment& seg : *segs) out->push_back({seg.begin, seg.end});
      break;
    case SplitBehavior::kRemoved:
      for (size_t i = 0; i < n; ++i) {
        if (!delim(i)) out->push_back({(*segs)[i].begin, (*segs)[i].end});
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
    case SplitBehavior::kContiguous: {
      const bool contiguous = step.behavior == SplitBehavior::kContiguous;
      bool prev = false;
      for (size_t i = 0; i < n; ++i) {
        const bool d = delim(i);
        const bool merge = contiguous ? (d && prev) : (d && !prev);
        if (merge && out->size() > first) {
          out->back().end = (*segs)[i].end;
        } else {
          out->push_back({(*segs)[i].begin, (*segs)[i].end});
        }
        prev = d;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      // Walk backwards: a delimiter joins the piece after it unless that one is a delimiter.
      std::vector<Span> rev;
      bool prev = false;
      for (size_t k = n; k-- > 0;) {
        const bool d = delim(k);
        if (d && !prev && !rev.empty()) {
          rev.back().begin = (*segs)[k].begin;
        } else {
          rev.push_back({(*segs)[k].begin, (*segs)[k].end});
        }
        prev = d;
      }
      out->insert(out->end(), rev.rbegin(), rev.rend());
      break;
    }
  }
}

void ApplyMetaspace(const PreTokenizerStep& step, bool first_segment, std::string* text,
                    std::vector<Span>* spans) {
  std::string out;
  out.reserve(text->size() + step.replacement.size() * 2);
  const bool prepend = step.prepend == PreTokenizerStep::Prepend::kAlways ||
                       (step.prepend == PreTokenizerStep::Prepend::kFirst && first_segment);
  if (prepend && !text->empty() && text->compare(0, step.replacement.size(), step.replacement)) {
    out.append(step.replacement);
  }
  for (char c : *text) {
    if (c == ' ') {
      out.append(step.replacement);
    } else {
      out.push_back(c);
    }
  }
  *text = std::move(out);
  spans->clear();
  if (text->empty()) return;
  if (!step.split) {
    spans->push_back({0, uint32_t(text->size())});
    return;
  }
  uint32_t start = 0;
  size_t pos = text->find(step.replacement, 1);
  while (pos != std::string::npos && !step.replacement.empty()) {
    spans->push_back({start, uint32_t(pos)});
    start = uint32_t(pos);
    pos = text->find(step.replacement, pos + step.replacement.size());
  }
  spans->push_back({start, uint32_t(text->size())});
}

}  // namespace

Result<std::shared_ptr<const Regex>> Regex::Compile(std::string_view pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return Status::InvalidArgument("regex error at offset " + std::to_string(offset) + ": " +
                                   reinterpret_cast<const char*>(message) + " in /" +
                                   std::string(pattern) + "/");
  }
  std::shared_ptr<Regex> re(new Regex());
  re->code_ = code;
  re->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  re->pattern_ = std::string(pattern);
  return std::shared_ptr<const Regex>(std::move(re));
}

Result<PreTokenizerStep> PreTokenizerStep::Split(std::string_view pattern, SplitBehavior behavior,
                                                 bool invert) {
  PreTokenizerStep step;
  step.kind = Kind::kSplit;
  MINT_ASSIGN_OR_RETURN(step.regex, Regex::Compile(pattern));
  step.behavior = behavior;
  step.invert = invert;
  if (behavior == SplitBehavior::kIsolated && !invert) {
    step.fast = static_cast<int>(FastSplitKindFor(pattern));
  }
  return step;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

bool Regex::Find(std::string_view subject, size_t start, size_t* begin, size_t* end) const {
  MatchScratch& s = Scratch();
  if (s.data == nullptr) return false;
  auto* code = static_cast<const pcre2_code*>(code_);
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const int rc =
      jit_ ? pcre2_jit_match(code, subj, subject.size(), start, 0, s.data, s.context)
           : pcre2_match(code, subj, subject.size(), start, PCRE2_NO_UTF_CHECK, s.data, s.context);
  if (rc < 0) return false;
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
  if (ov[0] > ov[1] || ov[1] > subject.size()) return false;  // \K oddities
  *begin = ov[0];
  *end = ov[1];
  return true;
}

void PreTokenizer::Run(std::string* text, bool first_segment, std::vector<Span>* spans) const {
  if (add_prefix_space && !text->empty() && (*text)[0] != ' ') text->insert(0, " ");
  spans->clear();
  if (text->empty()) return;
  spans->push_back({0, uint32_t(text->size())});
  std::vector<Span> next;
  std::vector<Segment> scratch;
  for (const PreTokenizerStep& step : steps) {
    if (step.kind == PreTokenizerStep::Kind::kMetaspace) {
      ApplyMetaspace(step, first_segment, text, spans);
      continue;
    }
    next.clear();
    for (const Span& span : *spans) SplitSpan(step, *text, span, &scratch, &next);
    spans->swap(next);
  }
}

const char* const kGpt2Regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

namespace {

// Split patterns as documented for each pre-tokenizer (Hugging Face tokenizer.json files and
// llama.cpp's llama-vocab.cpp list); each applies to the pieces of the one before.
const char* const kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// GPT-2's pattern without the final "|\s+" alternative, as llama.cpp applies it.
const char* const kGpt2RegexLlamaCpp =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
// Letters of the cased scripts, as DeepSeek LLM's tokenizer.json lists them.
const char* const kDeepseekLlmLetters =
    "\\s?["
    "A-Za-z\\x{b5}\\x{c0}-\\x{d6}\\x{d8}-\\x{f6}\\x{f8}-\\x{1ba}\\x{1bc}-\\x{1bf}"
    "\\x{1c4}-\\x{293}\\x{295}-\\x{2af}\\x{370}-\\x{373}\\x{376}\\x{377}"
    "\\x{37b}-\\x{37d}\\x{37f}\\x{386}\\x{388}-\\x{38a}\\x{38c}\\x{38e}-\\x{3a1}"
    "\\x{3a3}-\\x{3f5}\\x{3f7}-\\x{481}\\x{48a}-\\x{52f}\\x{531}-\\x{556}"
    "\\x{10a0}-\\x{10c5}\\x{13a0}-\\x{13f5}\\x{13f8}-\\x{13fd}\\x{1c90}-\\x{1cba}"
    "\\x{1cbd}-\\x{1cbf}\\x{1d00}-\\x{1d2b}\\x{1d6b}-\\x{1d77}\\x{1d79}-\\x{1d9a}"
    "\\x{1e00}-\\x{1f15}\\x{1f18}-\\x{1f1d}\\x{1f20}-\\x{1f45}\\x{1f48}-\\x{1f4d}"
    "\\x{1f50}-\\x{1f57}\\x{1f59}\\x{1f5b}\\x{1f5d}\\x{1f5f}-\\x{1f7d}"
    "\\x{1f80}-\\x{1fb4}\\x{1fb6}-\\x{1fbc}\\x{1fbe}\\x{1fc2}-\\x{1fc4}"
    "\\x{1fc6}-\\x{1fcc}\\x{1fd0}-\\x{1fd3}\\x{1fd6}-\\x{1fdb}\\x{1fe0}-\\x{1fec}"
    "\\x{1ff2}-\\x{1ff4}\\x{1ff6}-\\x{1ffc}\\x{2102}\\x{2107}\\x{210a}-\\x{2113}"
    "\\x{2115}\\x{2119}-\\x{211d}\\x{2124}\\x{2126}\\x{2128}\\x{212a}-\\x{212d}"
    "\\x{212f}-\\x{2134}\\x{2139}\\x{213c}-\\x{213f}\\x{2145}-\\x{2149}\\x{214e}"
    "\\x{2183}\\x{2184}\\x{2c00}-\\x{2c7b}\\x{2c7e}-\\x{2ce4}\\x{2ceb}-\\x{2cee}"
    "\\x{2cf2}\\x{2cf3}\\x{a640}-\\x{a66d}\\x{a680}-\\x{a69b}\\x{a722}-\\x{a76f}"
    "\\x{a771}-\\x{a787}\\x{a78b}-\\x{a78e}\\x{ab70}-\\x{abbf}\\x{fb00}-\\x{fb06}"
    "\\x{fb13}-\\x{fb17}\\x{ff21}-\\x{ff3a}\\x{ff41}-\\x{ff5a}\\x{10400}-\\x{1044f}"
    "\\x{104b0}-\\x{104d3}\\x{104d8}-\\x{104fb}\\x{10c80}-\\x{10cb2}"
    "\\x{10cc0}-\\x{10cf2}\\x{118a0}-\\x{118df}\\x{1e900}-\\x{1e943}"
    "]+";
const char* const kCjk = "[\\x{4e00}-\\x{9fa5}\\x{800}-\\x{4e00}\\x{ac00}-\\x{d7ff}]+";

const std::map<std::string, std::vector<std::string>>& Presets() {
  static const auto* presets = new std::map<std::string, std::vector<std::string>>{
      {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2RegexLlamaCpp, "\\p{N}+", "[0-9][0-9][0-9]"}},
      {"llama3", {kLlama3Regex}},
      {"deepseek-llm",
       {"[\\r\\n]", kDeepseekLlmLetters,
        "\\s?[!-/:-~\\x{ff01}-\\x{ff0f}\\x{ff1a}-\\x{ff5e}\\x{2018}-\\x{201f}\\x{3000}-\\x{3002}]+",
        "\\s+$", kCjk, "\\p{N}+"}},
      {"deepseek-coder", {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kCjk, "\\p{N}"}},
      {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2RegexLlamaCpp, "[0-9][0-9][0-9]"}},
      {"starcoder", {"\\p{N}", kGpt2RegexLlamaCpp}},
      {"gpt2", {kGpt2RegexLlamaCpp}},
      {"qwen2", {kQwen2Regex}},
      {"poro", {" ?[^(\\s|.,!?…。，、।۔،)]+"}},
      {"viking", {" ?[^(\\s|.,!?…。，、।۔،)]+", "\\p{N}"}},
      {"deepseek3",
       {"\\p{N}{1,3}", "[\\x{4e00}-\\x{9fa5}\\x{3040}-\\x{309f}\\x{30a0}-\\x{30ff}]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?"
        "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
  };
  return *presets;
}

// GGUF pre-tokenizer names -> preset.
const std::map<std::string, std::string>& PresetAliases() {
  static const auto* aliases = new std::map<std::string, std::string>{
      {"default", "default"},
      {"llama3", "llama3"},
      {"llama-v3", "llama3"},
      {"llama-bpe", "llama3"},
      {"falcon3", "llama3"},
      {"dbrx", "llama3"},
      {"smaug-bpe", "llama3"},
      {"chatglm-bpe", "llama3"},
      {"pixtral", "llama3"},
      {"deepseek-llm", "deepseek-llm"},
      {"deepseek-coder", "deepseek-coder"},
      {"deepseek-v3", "deepseek3"},
      {"falcon", "falcon"},
      {"starcoder", "starcoder"},
      {"refact", "starcoder"},
      {"command-r", "starcoder"},
      {"smollm", "starcoder"},
      {"codeshell", "starcoder"},
      {"exaone", "starcoder"},
      {"minerva-7b", "starcoder"},
      {"gpt-2", "gpt2"},
      {"gpt2", "gpt2"},
      {"mpt", "gpt2"},
      {"olmo", "gpt2"},
      {"jais", "gpt2"},
      {"trillion", "gpt2"},
      {"qwen2", "qwen2"},
      {"qwen2.5", "qwen2"},
      {"qwen-2.5", "qwen2"},
      {"deepseek-r1-qwen", "qwen2"},
      {"stablelm2", "qwen2"},
      {"hunyuan", "qwen2"},
      {"poro-chat", "poro"},
      {"bloom", "poro"},
      {"gpt3-finnish", "poro"},
      {"viking", "viking"},
  };
  return *aliases;
}

}  // namespace

Result<std::vector<std::string>> PresetRegexes(const std::string& pre_name) {
  const std::string name = pre_name.empty() ? "default" : pre_name;
  auto it = PresetAliases().find(name);
  if (it == PresetAliases().end()) {
    return Status::Unsupported("pre-tokenizer '" + name + "' is not supported");
  }
  return Presets().at(it->second);
}

}  // namespace mint::tokenizer
