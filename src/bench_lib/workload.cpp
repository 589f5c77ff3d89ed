#include "bench_lib/workload.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <random>

namespace mint::bench {
namespace {

// Common short English words; each " word" is one token in the usual BPE vocabularies.
constexpr std::string_view kWords[] = {
    "the",   "of",    "and",   "to",    "in",    "is",    "that",  "for",   "it",    "as",
    "was",   "with",  "be",    "by",    "on",    "not",   "he",    "this",  "are",   "or",
    "his",   "from",  "at",    "which", "but",   "have",  "an",    "had",   "they",  "you",
    "were",  "their", "one",   "all",   "we",    "can",   "her",   "has",   "there", "been",
    "if",    "more",  "when",  "will",  "would", "who",   "so",    "no",    "time",  "out",
    "up",    "about", "into",  "them",  "some",  "could", "him",   "what",  "its",   "than",
    "other", "only",  "then",  "also",  "may",   "after", "first", "over",  "like",  "new",
    "two",   "these", "any",   "most",  "made",  "such",  "where", "years", "many",  "before",
    "must",  "through", "back", "much",  "good",  "well",  "down",  "should", "because", "each",
    "just",  "those", "people", "how",  "too",   "little", "state", "world", "very",  "make",
    "still", "own",   "see",   "men",   "work",  "long",  "get",   "here",  "between", "both",
    "life",  "being", "under", "never", "day",   "same",  "another", "know", "while", "last",
    "might", "us",    "great", "old",   "year",  "off",   "come",  "since", "against", "go",
    "came",  "right", "used",  "take",  "three", "house", "use",   "during", "without", "again",
    "place", "around", "however", "home", "small", "found", "thought", "went", "say",  "part",
    "once",  "general", "high", "upon", "school", "every", "does",  "got",   "united", "left",
    "number", "course", "war",  "until", "always", "away", "something", "fact", "though", "water",
    "less",  "public", "put",  "think", "almost", "hand", "enough", "far",  "took",  "head",
    "yet",   "government", "system", "better", "set", "told", "nothing", "night", "end", "why",
    "called", "didn", "eyes",  "find",  "going", "look", "asked", "later", "point", "knew",
    "city",  "next",  "program", "business", "give", "group", "toward", "young", "days", "let",
    "room",  "president", "side", "social", "given", "present", "several", "order", "national",
    "second", "possible", "rather", "per", "face", "among", "form", "important", "often", "things",
    "looked", "early", "white", "case", "john", "become", "large", "big", "need", "four"};
constexpr uint64_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Mix(uint64_t a, uint64_t b) { return SplitMix64(a ^ SplitMix64(b)); }

// Key spaces, so that a prefix group and a trace hash id never collide by accident.
constexpr uint64_t kKeyPrefix = 0x5052454649580000ULL;
constexpr uint64_t kKeyUnique = 0x554e495155450000ULL;
constexpr uint64_t kKeyTrace = 0x5452414345000000ULL;

int SampleLength(const LengthSpec& s, std::mt19937_64& rng) {
  double v = s.a;
  switch (s.kind) {
    case LengthSpec::Kind::kFixed: break;
    case LengthSpec::Kind::kUniform: {
      std::uniform_int_distribution<int64_t> d(static_cast<int64_t>(s.a), static_cast<int64_t>(s.b));
      v = static_cast<double>(d(rng));
      break;
    }
    case LengthSpec::Kind::kNormal: {
      std::normal_distribution<double> d(s.a, s.b);
      v = std::round(d(rng));
      break;
    }
  }
  return static_cast<int>(std::max(1.0, v));
}

double ExpGap(double rate, uint64_t* state) {
  *state = SplitMix64(*state);
  // Uniform in (0, 1]: never log(0).
  double u = (static_cast<double>(*state >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  return -std::log(u) / rate;
}

}  // namespace

Result<LengthSpec> ParseLengthSpec(std::string_view spec) {
  auto num = [](std::string_view s, double* out) {
    try {
      size_t used = 0;
      std::string str(s);
      *out = std::stod(str, &used);
      return used == str.size() && std::isfinite(*out);
    } catch (...) {
      return false;
    }
  };
  auto bad = [&] {
    return Status::InvalidArgument("bad length '" + std::string(spec) +
                                   "' (want N, uniform:LO:HI or normal:MEAN:SD)");
  };
  LengthSpec out;
  size_t c1 = spec.find(':');
  if (c1 == std::string_view::npos) {
    if (!num(spec, &out.a) || out.a < 1) return bad();
    return out;
  }
  std::string_view kind = spec.substr(0, c1);
  std::string_view rest = spec.substr(c1 + 1);
  size_t c2 = rest.find(':');
  if (c2 == std::string_view::npos) return bad();
  if (!num(rest.substr(0, c2), &out.a) || !num(rest.substr(c2 + 1), &out.b)) return bad();
  if (kind == "uniform") {
    out.kind = LengthSpec::Kind::kUniform;
    if (out.a < 1 || out.b < out.a) return bad();
  } else if (kind == "normal") {
    out.kind = LengthSpec::Kind::kNormal;
    if (out.a < 1 || out.b < 0) return bad();
  } else {
    return bad();
  }
  return out;
}

std::string ToString(const LengthSpec& s) {
  auto n = [](double v) {
    std::string t = std::to_string(v);
    t.erase(t.find_last_not_of('0') + 1);
    if (!t.empty() && t.back() == '.') t.pop_back();
    return t;
  };
  switch (s.kind) {
    case LengthSpec::Kind::kFixed: return n(s.a);
    case LengthSpec::Kind::kUniform: return "uniform:" + n(s.a) + ":" + n(s.b);
    case LengthSpec::Kind::kNormal: return "normal:" + n(s.a) + ":" + n(s.b);
  }
  return "?";
}

std::string SeededWords(uint64_t key, int count) {
  std::string out;
  out.reserve(static_cast<size_t>(std::max(count, 0)) * 6);
  uint64_t state = SplitMix64(key);
  for (int i = 0; i < count; ++i) {
    state = SplitMix64(state);
    out.push_back(' ');
    out.append(kWords[state % kNumWords]);
  }
  return out;
}

BenchRequest MakeSyntheticRequest(const SyntheticOptions& opt, int64_t index) {
  std::mt19937_64 rng(Mix(opt.seed, static_cast<uint64_t>(index)));
  BenchRequest r;
  r.index = index;
  r.input_tokens = SampleLength(opt.input, rng);
  r.output_tokens = SampleLength(opt.output, rng);
  int prefix = 0;
  if (opt.prefix_groups > 0 && opt.prefix_len > 0) {
    r.prefix_group = static_cast<int>(index % opt.prefix_groups);
    prefix = opt.prefix_len;
    r.input_tokens = std::max(r.input_tokens, prefix + 1);
    r.prompt = SeededWords(Mix(kKeyPrefix ^ opt.seed, static_cast<uint64_t>(r.prefix_group)),
                           prefix);
  }
  r.prompt += SeededWords(Mix(kKeyUnique ^ opt.seed, static_cast<uint64_t>(index)),
                          r.input_tokens - prefix);
  return r;
}

BenchRequest MakeConversationTurn(const ConversationOptions& opt, int64_t conv, int turn) {
  BenchRequest r;
  r.index = conv * opt.turns + turn;
  r.prefix_group = static_cast<int>(conv);
  for (int t = 0; t <= turn; ++t) {
    std::mt19937_64 rng(
        Mix(opt.seed ^ 0xC0417ULL, static_cast<uint64_t>(conv) * 4096 + static_cast<uint64_t>(t)));
    const int user = std::max(1, SampleLength(t == 0 ? opt.first : opt.user, rng));
    const int answer = std::max(1, SampleLength(opt.output, rng));
    const uint64_t key =
        Mix(kKeyUnique ^ opt.seed ^ 0xC0417ULL, static_cast<uint64_t>(r.index - turn + t));
    r.prompt += SeededWords(Mix(key, 1), user);
    r.input_tokens += user;
    if (t < turn) {
      r.prompt += SeededWords(Mix(key, 2), answer);
      r.input_tokens += answer;
    } else {
      r.output_tokens = answer;
    }
  }
  return r;
}

double NextArrival(Arrival kind, double rate, double prev, uint64_t* rng_state) {
  if (kind == Arrival::kConstant) return prev + 1.0 / rate;
  return prev + ExpGap(rate, rng_state);
}

std::vector<double> ArrivalTimes(Arrival kind, double rate, int64_t count, uint64_t seed) {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(std::max<int64_t>(count, 0)));
  uint64_t state = Mix(seed, 0xA77u);
  double t = kind == Arrival::kConstant ? -1.0 / rate : 0.0;
  for (int64_t i = 0; i < count; ++i) {
    t = NextArrival(kind, rate, t, &state);
    out.push_back(t);
  }
  return out;
}

Result<std::vector<TraceEntry>> ParseMooncakeTrace(std::string_view jsonl) {
  std::vector<TraceEntry> out;
  size_t pos = 0;
  int line_no = 0;
  while (pos < jsonl.size()) {
    size_t nl = jsonl.find('\n', pos);
    if (nl == std::string_view::npos) nl = jsonl.size();
    std::string_view line = jsonl.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("trace line " + std::to_string(line_no) + ": " + why);
    };
    if (!j.is_object()) return bad("not a JSON object");
    TraceEntry e;
    auto ts = j.find("timestamp");
    auto in = j.find("input_length");
    auto outl = j.find("output_length");
    if (ts == j.end() || !ts->is_number()) return bad("missing numeric 'timestamp'");
    if (in == j.end() || !in->is_number_integer()) return bad("missing integer 'input_length'");
    if (outl == j.end() || !outl->is_number_integer()) {
      return bad("missing integer 'output_length'");
    }
    e.timestamp_ms = ts->get<double>();
    e.input_length = in->get<int>();
    e.output_length = outl->get<int>();
    if (e.input_length < 1 || e.output_length < 1) return bad("lengths must be >= 1");
    if (auto h = j.find("hash_ids"); h != j.end()) {
      if (!h->is_array()) return bad("'hash_ids' is not an array");
      for (const auto& id : *h) {
        if (!id.is_number_integer()) return bad("'hash_ids' holds a non-integer");
        e.hash_ids.push_back(id.get<uint64_t>());
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<BenchRequest> TraceToRequests(const std::vector<TraceEntry>& entries, double speedup,
                                          uint64_t seed) {
  std::vector<BenchRequest> out;
  out.reserve(entries.size());
  double t0 = entries.empty() ? 0.0 : entries.front().timestamp_ms;
  for (const auto& e : entries) t0 = std::min(t0, e.timestamp_ms);
  for (size_t i = 0; i < entries.size(); ++i) {
    const TraceEntry& e = entries[i];
    BenchRequest r;
    r.index = static_cast<int64_t>(i);
    r.arrival_s = (e.timestamp_ms - t0) / 1000.0 / speedup;
    r.input_tokens = e.input_length;
    r.output_tokens = e.output_length;
    int remaining = e.input_length;
    for (uint64_t id : e.hash_ids) {
      if (remaining <= 0) break;
      int n = std::min(remaining, kTraceBlockTokens);
      r.prompt += SeededWords(Mix(kKeyTrace ^ seed, id), n);
      remaining -= n;
    }
    if (remaining > 0) r.prompt += SeededWords(Mix(kKeyUnique ^ seed, ~i), remaining);
    out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const BenchRequest& a, const BenchRequest& b) { return a.arrival_s < b.arrival_s; });
  return out;
}

std::vector<BenchRequest> TraceToTokenRequests(const std::vector<TraceEntry>& entries,
                                               double speedup, uint64_t seed, int32_t vocab) {
  std::vector<BenchRequest> out = TraceToRequests(entries, speedup, seed);
  const uint64_t span = vocab > 3 ? static_cast<uint64_t>(vocab - 3) : 1;
  auto append = [&](std::vector<int32_t>* ids, uint64_t key, int n) {
    uint64_t state = SplitMix64(key);
    for (int k = 0; k < n; ++k) {
      state = SplitMix64(state);
      ids->push_back(static_cast<int32_t>(3 + state % span));
    }
  };
  for (BenchRequest& r : out) {
    const TraceEntry& e = entries[static_cast<size_t>(r.index)];
    r.prompt.clear();
    r.prompt_ids.reserve(static_cast<size_t>(e.input_length));
    int remaining = e.input_length;
    for (uint64_t id : e.hash_ids) {
      if (remaining <= 0) break;
      const int n = std::min(remaining, kTraceBlockTokens);
      append(&r.prompt_ids, Mix(kKeyTrace ^ seed, id), n);
      remaining -= n;
    }
    if (remaining > 0) append(&r.prompt_ids, Mix(kKeyUnique ^ seed, ~static_cast<uint64_t>(r.index)), remaining);
  }
  return out;
}

Result<std::vector<BenchRequest>> ParseShareGpt(std::string_view json, int64_t limit) {
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return Status::InvalidArgument("ShareGPT file: top level is not an array");
  auto words = [](const std::string& s) {
    int n = 0;
    bool in = false;
    for (char c : s) {
      bool sp = c == ' ' || c == '\n' || c == '\t' || c == '\r';
      if (!sp && !in) ++n;
      in = !sp;
    }
    return n;
  };
  std::vector<BenchRequest> out;
  for (const auto& conv : j) {
    if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
    if (!conv.is_object()) continue;
    auto turns = conv.find("conversations");
    if (turns == conv.end() || !turns->is_array() || turns->size() < 2) continue;
    const auto& a = (*turns)[0];
    const auto& b = (*turns)[1];
    if (!a.is_object() || !b.is_object()) continue;
    if (a.value("from", "") != "human" || b.value("from", "") != "gpt") continue;
    if (!a.contains("value") || !a["value"].is_string()) continue;
    if (!b.contains("value") || !b["value"].is_string()) continue;
    BenchRequest r;
    r.index = static_cast<int64_t>(out.size());
    r.prompt = a["value"].get<std::string>();
    r.input_tokens = std::max(1, words(r.prompt));
    r.output_tokens = std::max(1, words(b["value"].get<std::string>()));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace mint::bench
