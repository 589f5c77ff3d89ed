// TimingModel: how long a simulated engine step takes, from the step's shape.
//
// A step's time is the prefill part plus the decode part (either may be absent):
//   prefill_ms(prefill_tokens, prefill_kv_tokens)   — new tokens of the step's prefill chunks, and
//                                                     those times the tokens cached before them
//   decode_ms(decode_seqs, decode_kv_tokens, cap)  — sequences decoding one token, the sum of
//                                                     their context lengths, the cache capacity
//
// Two sources:
//  - Polynomial (the default): Dynamo's mocker defaults (ai-dynamo/dynamo,
//    lib/mocker/src/common/perf_model.rs, `PerfModel::Polynomial`; fitted on a GPU serving an 8B
//    class model):
//      prefill_ms(t)  = 4.209989e-07 t^2 + 1.518344e-02 t + 16.50142      (t = batch new tokens)
//      decode_ms(u)   = max(1, -25.74 u^2 + 54.01 u + 5.74)                (u = KV usage in [0, 1])
//    with u = decode_kv_tokens / capacity, clamped to 1. Dynamo times prefill and decode
//    separately; summing them for a mixed (chunked-prefill) step is Mint's choice.
//  - Profile: measured points, interpolated piecewise-linearly (clamped to the end points' slope
//    beyond the range, never below 0). JSON, written by `mint profile`:
//      {
//        "prefill": [[tokens, ms], ...],        // step time of one prefill chunk of `tokens`
//        "decode":  [[batch, ms], ...],         // step time of `batch` decodes at short context
//        "decode_ms_per_kv_token": 0.0001,      // optional (default 0): added per context token
//        "prefill_ms_per_kv_token": 0.00001,    // optional (default 0): added per new prefill
//                                               // token per token cached before its chunk
//        "source": "...",                       // optional, free text (model, machine, date)
//        // optional, version 1 (what `mint configure` and `mint simulate` read; DeviceInfo):
//        "version": 1,                          // absent: 0; newer than 1 is refused
//        "device": "...",                       // the device the steps were timed on
//        "cost_per_hour": 2.5,                  // currency units per device hour
//        "kv_bytes_per_token": 131072,          // KV bytes of one token (all layers, K and V)
//        "kv_capacity_tokens": 1048576,         // tokens of KV one worker holds
//        "kv_transfer_gbps": 25                 // KV moved between workers, GB/s
//      }
//    Both tables need at least one point, x strictly increasing, x >= 1 and ms >= 0.
//    decode_ms = interp(decode, decode_seqs) + decode_ms_per_kv_token * decode_kv_tokens;
//    prefill_ms = interp(prefill, prefill_tokens) + prefill_ms_per_kv_token * prefill_kv_tokens
//    (a chunk after a cached prefix, or a later chunk of a long prompt, attends more keys).
//
// Thread-safety: immutable after construction; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace mint::mocker {

inline constexpr int kProfileVersion = 1;

// What a profile says about its device beyond step times; unset when the file does not say.
struct DeviceInfo {
  int version = 0;
  std::string device;
  std::optional<double> cost_per_hour;
  std::optional<uint64_t> kv_bytes_per_token;
  std::optional<int64_t> kv_capacity_tokens;
  std::optional<double> kv_transfer_gbps;
};

// What one step computes, as the timing model sees it.
struct StepShape {
  int64_t prefill_tokens = 0;    // new tokens of prefilling sequences (chunks, recomputes)
  int64_t prefill_kv_tokens = 0;  // sum over prefill chunks of new tokens x tokens before them
  int64_t decode_seqs = 0;       // sequences computing one token
  int64_t decode_kv_tokens = 0;  // sum of the decoding sequences' context lengths
  int64_t kv_capacity_tokens = 0;  // the whole cache: num_blocks * block_size
};

class TimingModel {
 public:
  // Dynamo's default polynomials (see above).
  static TimingModel Polynomial();
  // Parses a profile (format above). Errors (kInvalidArgument) name the field and the problem.
  static Result<TimingModel> ParseProfile(std::string_view json);
  // Reads and parses a profile file; errors are prefixed with the path (kNotFound if missing).
  static Result<TimingModel> LoadProfile(const std::string& path);

  // 0 for no tokens. kv_tokens: new tokens x tokens cached before them (StepShape).
  double PrefillMs(int64_t tokens, int64_t kv_tokens = 0) const;
  double DecodeMs(int64_t decode_seqs, int64_t decode_kv_tokens,
                  int64_t kv_capacity_tokens) const;  // 0 for no sequences
  double StepMs(const StepShape& shape) const;

  bool is_profile() const { return kind_ == Kind::kProfile; }
  const DeviceInfo& device() const { return device_; }
  // One line: "dynamo polynomial" or "profile (N prefill, M decode points)".
  std::string Describe() const;

 private:
  enum class Kind { kPolynomial, kProfile };
  using Points = std::vector<std::pair<double, double>>;  // (x, ms), x increasing
  static double Interpolate(const Points& points, double x);

  Kind kind_ = Kind::kPolynomial;
  Points prefill_, decode_;
  double decode_ms_per_kv_token_ = 0;
  double prefill_ms_per_kv_token_ = 0;
  std::string source_;
  DeviceInfo device_;
};

}  // namespace mint::mocker
