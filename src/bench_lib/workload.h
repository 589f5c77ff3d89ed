// Seeded request generation for `mint bench`: synthetic prompts with length distributions,
// shared-prefix groups, Mooncake trace replay and arrival processes. No I/O here (the caller
// reads files and passes their text), so everything is deterministic and unit-tested.
//
// Prompts are text; the server tokenizes them. A "token" here is one word drawn from a fixed
// vocabulary of common short English words, each preceded by a space, which most BPE
// tokenizers (Llama, Qwen, GPT) encode as exactly one token. Lengths are therefore close to,
// not exactly, the requested token counts; the report uses the server's usage counts when the
// server returns them.
//
// Thread-safety: free functions over value types; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mint::bench {

// A distribution of lengths (tokens): "128", "uniform:64:256", "normal:128:32".
struct LengthSpec {
  enum class Kind { kFixed, kUniform, kNormal };
  Kind kind = Kind::kFixed;
  double a = 128;  // fixed value, uniform low, or normal mean
  double b = 0;    // uniform high (inclusive) or normal standard deviation
};
Result<LengthSpec> ParseLengthSpec(std::string_view spec);
std::string ToString(const LengthSpec& spec);

// One request of a workload.
struct BenchRequest {
  int64_t index = 0;         // position in the workload
  double arrival_s = 0;      // send time relative to the start; ignored in concurrency mode
  std::string prompt;        // text of the prompt (completions) or of the one user message (chat)
  std::vector<int32_t> prompt_ids;  // when non-empty (completions only): sent as token ids
  int input_tokens = 0;      // intended prompt length in tokens (words)
  int output_tokens = 0;     // sent as max_tokens with ignore_eos
  int prefix_group = -1;     // shared-prefix group, -1 if none
};

// `count` words (tokens) of text, each " word", determined only by `key`. Equal keys give
// byte-identical text; a shorter count gives a prefix of a longer one.
std::string SeededWords(uint64_t key, int count);

struct SyntheticOptions {
  LengthSpec input{LengthSpec::Kind::kFixed, 128, 0};
  LengthSpec output{LengthSpec::Kind::kFixed, 128, 0};
  int prefix_groups = 0;  // 0: no shared prefixes
  int prefix_len = 0;     // tokens shared by every request of a group (counts towards input)
  uint64_t seed = 0;
};

// Request `index` of a synthetic workload; depends only on (options, index), never on order,
// so a workload of unknown length (--duration) is generated lazily and reproducibly. Request i
// belongs to prefix group i % prefix_groups. The input length is at least prefix_len + 1.
BenchRequest MakeSyntheticRequest(const SyntheticOptions& opt, int64_t index);

// Multi-turn conversations (`mint bench --conversations N --turns K`): each turn resends the
// whole history, as chat clients do. Turn t of conversation c: the prompt is the first message,
// then for each earlier turn its answer and the next user message; the answers are seeded words
// of that turn's output length (the real answer's text is not fed back, so every run of a
// workload sends byte-identical prompts), so turn t's prompt is a prefix of turn t+1's.
struct ConversationOptions {
  int turns = 1;                                        // >= 1
  LengthSpec first{LengthSpec::Kind::kFixed, 1024, 0};  // the first user message
  LengthSpec user{LengthSpec::Kind::kFixed, 128, 0};    // each later user message
  LengthSpec output{LengthSpec::Kind::kFixed, 128, 0};  // each answer (max_tokens)
  uint64_t seed = 0;
};
// index = conv * turns + turn; prefix_group = conv.
BenchRequest MakeConversationTurn(const ConversationOptions& opt, int64_t conv, int turn);

// Arrival processes for rate mode. Returns `count` arrival times (seconds from start): Poisson
// (exponential gaps with mean 1/rate) or constant (gaps exactly 1/rate). The first arrival is
// at 0 for constant, after one gap for Poisson.
enum class Arrival { kPoisson, kConstant };
std::vector<double> ArrivalTimes(Arrival kind, double rate, int64_t count, uint64_t seed);
// The next arrival time after `prev` (for open-ended runs); `rng_state` carries the stream.
double NextArrival(Arrival kind, double rate, double prev, uint64_t* rng_state);

// One line of a Mooncake trace.
struct TraceEntry {
  double timestamp_ms = 0;
  int input_length = 0;
  int output_length = 0;
  std::vector<uint64_t> hash_ids;  // one per block of kTraceBlockTokens tokens
};
inline constexpr int kTraceBlockTokens = 512;

// Parses Mooncake JSONL (one object per non-empty line). Errors name the line number.
Result<std::vector<TraceEntry>> ParseMooncakeTrace(std::string_view jsonl);

// Turns trace entries into requests: arrival = timestamp_ms / 1000 / speedup (relative to the
// first entry), prompt = for block k the first min(512, remaining) words of
// SeededWords(hash id k), so equal hash ids give byte-identical prompt prefixes; tokens beyond
// the listed blocks are filled with words unique to the request.
std::vector<BenchRequest> TraceToRequests(const std::vector<TraceEntry>& entries, double speedup,
                                          uint64_t seed);

// The same requests with token-id prompts, so a server sees the trace's block structure exactly:
// hash id k becomes 512 token ids in [3, vocab) drawn from a generator seeded by (seed, k) (a
// block of 512 tokens splits evenly into engine blocks of 16, 32, 64, ... tokens); tokens beyond
// the listed blocks are unique to the request. For mocker workers and models whose vocabulary
// covers the ids.
std::vector<BenchRequest> TraceToTokenRequests(const std::vector<TraceEntry>& entries,
                                               double speedup, uint64_t seed, int32_t vocab);

// ShareGPT-style JSON: an array of {"conversations": [{"from": "human"|"gpt", "value": ...}]}.
// Each conversation with a human turn followed by a gpt turn gives one request: prompt = the
// first human turn, output length = the gpt turn's word count (at least 1), input length = the
// prompt's word count. Conversations are taken in file order, up to `limit` (0 = all).
Result<std::vector<BenchRequest>> ParseShareGpt(std::string_view json, int64_t limit);

}  // namespace mint::bench
