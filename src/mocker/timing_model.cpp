#include "mocker/timing_model.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mint::mocker {
namespace {

using Json = nlohmann::json;

// Dynamo mocker defaults (lib/mocker/src/common/perf_model.rs): prefill in batch new tokens,
// decode in KV usage fraction.
constexpr double kPrefillA = 4.209989e-07, kPrefillB = 1.518344e-02, kPrefillC = 16.50142;
constexpr double kDecodeA = -25.74, kDecodeB = 54.01, kDecodeC = 5.74;

Result<std::vector<std::pair<double, double>>> ParsePoints(const Json& root, const char* field) {
  auto it = root.find(field);
  if (it == root.end()) return Status::InvalidArgument(fmt::format("\"{}\": missing", field));
  if (!it->is_array() || it->empty()) {
    return Status::InvalidArgument(
        fmt::format("\"{}\": must be a non-empty array of [x, ms] pairs", field));
  }
  std::vector<std::pair<double, double>> points;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& p = (*it)[i];
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number()) {
      return Status::InvalidArgument(
          fmt::format("\"{}\"[{}]: must be a pair of numbers [x, ms], got {}", field, i, p.dump()));
    }
    const double x = p[0].get<double>(), ms = p[1].get<double>();
    if (!(x >= 1) || !(ms >= 0)) {
      return Status::InvalidArgument(
          fmt::format("\"{}\"[{}]: x must be >= 1 and ms >= 0, got {}", field, i, p.dump()));
    }
    if (!points.empty() && !(x > points.back().first)) {
      return Status::InvalidArgument(
          fmt::format("\"{}\"[{}]: x must increase strictly ({} after {})", field, i, x,
                      points.back().first));
    }
    points.emplace_back(x, ms);
  }
  return points;
}

// A positive (or, with `zero_ok`, non-negative) number; unset when absent.
Result<std::optional<double>> OptionalNumber(const Json& root, const char* field, bool zero_ok) {
  auto it = root.find(field);
  if (it == root.end()) return std::optional<double>();
  const bool ok = it->is_number() && (zero_ok ? it->get<double>() >= 0 : it->get<double>() > 0);
  if (!ok) {
    return Status::InvalidArgument(fmt::format("\"{}\": must be a number {} 0, got {}", field,
                                               zero_ok ? ">=" : ">", it->dump()));
  }
  return std::optional<double>(it->get<double>());
}

Result<DeviceInfo> ParseDeviceInfo(const Json& root) {
  DeviceInfo d;
  if (auto it = root.find("version"); it != root.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return Status::InvalidArgument("\"version\": must be a non-negative integer");
    }
    if (it->get<int64_t>() > kProfileVersion) {
      return Status::InvalidArgument(
          fmt::format("profile version {} is newer than this mint reads (up to {})",
                      it->get<int64_t>(), kProfileVersion));
    }
    d.version = static_cast<int>(it->get<int64_t>());
  }
  if (auto it = root.find("device"); it != root.end()) {
    if (!it->is_string()) return Status::InvalidArgument("\"device\": must be a string");
    d.device = it->get<std::string>();
  }
  MINT_ASSIGN_OR_RETURN(d.cost_per_hour, OptionalNumber(root, "cost_per_hour", true));
  MINT_ASSIGN_OR_RETURN(d.kv_transfer_gbps, OptionalNumber(root, "kv_transfer_gbps", false));
  MINT_ASSIGN_OR_RETURN(auto bytes, OptionalNumber(root, "kv_bytes_per_token", false));
  MINT_ASSIGN_OR_RETURN(auto capacity, OptionalNumber(root, "kv_capacity_tokens", false));
  if (bytes) d.kv_bytes_per_token = static_cast<uint64_t>(*bytes);
  if (capacity) d.kv_capacity_tokens = static_cast<int64_t>(*capacity);
  return d;
}

}  // namespace

TimingModel TimingModel::Polynomial() { return TimingModel(); }

Result<TimingModel> TimingModel::ParseProfile(std::string_view text) {
  Json root;
  try {
    root = Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    return Status::InvalidArgument(fmt::format("not valid JSON: {}", e.what()));
  }
  if (!root.is_object()) return Status::InvalidArgument("a profile must be a JSON object");
  TimingModel m;
  m.kind_ = Kind::kProfile;
  MINT_ASSIGN_OR_RETURN(m.prefill_, ParsePoints(root, "prefill"));
  MINT_ASSIGN_OR_RETURN(m.decode_, ParsePoints(root, "decode"));
  for (auto [field, out] : {std::pair{"decode_ms_per_kv_token", &m.decode_ms_per_kv_token_},
                            std::pair{"prefill_ms_per_kv_token", &m.prefill_ms_per_kv_token_}}) {
    if (auto it = root.find(field); it != root.end()) {
      if (!it->is_number() || !(it->get<double>() >= 0)) {
        return Status::InvalidArgument(fmt::format("\"{}\": must be a number >= 0", field));
      }
      *out = it->get<double>();
    }
  }
  if (auto it = root.find("source"); it != root.end() && it->is_string()) {
    m.source_ = it->get<std::string>();
  }
  MINT_ASSIGN_OR_RETURN(m.device_, ParseDeviceInfo(root));
  return m;
}

Result<TimingModel> TimingModel::LoadProfile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open the timing profile");
  std::ostringstream text;
  text << in.rdbuf();
  auto m = ParseProfile(text.str());
  if (!m.ok()) return m.status().WithContext(path);
  return m;
}

double TimingModel::Interpolate(const Points& points, double x) {
  if (points.size() == 1) {
    // One point: proportional through the origin for larger x, constant below.
    const auto [x0, y0] = points[0];
    return x <= x0 ? y0 : y0 * x / x0;
  }
  // The segment holding x, or the first/last one to extrapolate along.
  auto hi = std::lower_bound(points.begin(), points.end(), x,
                             [](const auto& p, double v) { return p.first < v; });
  if (hi == points.begin()) ++hi;
  if (hi == points.end()) --hi;
  const auto lo = hi - 1;
  const double t = (x - lo->first) / (hi->first - lo->first);
  return std::max(0.0, lo->second + t * (hi->second - lo->second));
}

double TimingModel::PrefillMs(int64_t tokens, int64_t kv_tokens) const {
  if (tokens <= 0) return 0;
  const auto t = static_cast<double>(tokens);
  if (kind_ == Kind::kPolynomial) return kPrefillA * t * t + kPrefillB * t + kPrefillC;
  return Interpolate(prefill_, t) + prefill_ms_per_kv_token_ * static_cast<double>(kv_tokens);
}

double TimingModel::DecodeMs(int64_t decode_seqs, int64_t decode_kv_tokens,
                             int64_t kv_capacity_tokens) const {
  if (decode_seqs <= 0) return 0;
  if (kind_ == Kind::kPolynomial) {
    const double u =
        kv_capacity_tokens > 0
            ? std::min(1.0, static_cast<double>(decode_kv_tokens) /
                                static_cast<double>(kv_capacity_tokens))
            : 1.0;
    return std::max(1.0, kDecodeA * u * u + kDecodeB * u + kDecodeC);
  }
  return Interpolate(decode_, static_cast<double>(decode_seqs)) +
         decode_ms_per_kv_token_ * static_cast<double>(decode_kv_tokens);
}

double TimingModel::StepMs(const StepShape& s) const {
  return PrefillMs(s.prefill_tokens, s.prefill_kv_tokens) +
         DecodeMs(s.decode_seqs, s.decode_kv_tokens, s.kv_capacity_tokens);
}

std::string TimingModel::Describe() const {
  if (kind_ == Kind::kPolynomial) return "dynamo polynomial defaults";
  return fmt::format("profile ({} prefill, {} decode points{}{})", prefill_.size(),
                     decode_.size(), source_.empty() ? "" : "; ", source_);
}

}  // namespace mint::mocker
