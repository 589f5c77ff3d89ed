#include "frontend/request_json.h"

#include <cmath>
#include <limits>

namespace mint::frontend::internal {
// Integer value of a JSON number: integers, and floats without a fractional part.
bool AsInt64(const Json& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    // 2^63 is exactly representable; values below it in magnitude fit.
    if (!std::isfinite(d) || std::floor(d) != d || d >= 9223372036854775808.0 ||
        d < -9223372036854775808.0) {
      return false;
    }
    *out = static_cast<int64_t>(d);
    return true;
  }
  return false;
}

namespace {

// Fast pre-scan: the deepest nesting of [ and { outside strings exceeds `limit`.
bool TooDeep(std::string_view s, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

const Json* Field(const Json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string Shown(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 40) {
    size_t cut = 40;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    s = s.substr(0, cut) + "...";
  }
  return s;
}

ApiError Bad(std::string param, std::string message) {
  return ApiError::InvalidRequest(std::move(param), std::move(message));
}

ApiResult<Json> ParseBody(std::string_view body, const ParseLimits& limits) {
  if (body.size() > limits.max_body_bytes) {
    return ApiError::PayloadTooLarge(body.size(), limits.max_body_bytes);
  }
  if (TooDeep(body, limits.max_json_depth)) {
    return Bad("",
               "JSON nesting is deeper than " + std::to_string(limits.max_json_depth) + " levels");
  }
  Json j;
  try {
    j = Json::parse(body.begin(), body.end());
  } catch (const Json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 5: ...".
    std::string what = e.what();
    size_t colon = what.find("parse error");
    if (colon != std::string::npos) what = what.substr(colon);
    return Bad("", "invalid JSON at byte " + std::to_string(e.byte) + ": " + what);
  } catch (const Json::exception& e) {
    return Bad("", std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) {
    return Bad("", std::string("the request body must be a JSON object, got ") + j.type_name());
  }
  return j;
}

Check GetBool(const Json& obj, std::string_view key, bool* out) {
  const Json* v = Field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    return Bad(std::string(key), std::string(key) + " must be a boolean, got " + Shown(*v));
  }
  *out = v->get<bool>();
  return std::nullopt;
}

Check GetString(const Json& obj, std::string_view key, std::string* out) {
  const Json* v = Field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    return Bad(std::string(key), std::string(key) + " must be a string, got " + Shown(*v));
  }
  *out = v->get<std::string>();
  return std::nullopt;
}

Check GetInt(const Json& obj, std::string_view key, int64_t lo, int64_t hi, const char* range,
             std::optional<int64_t>* out) {
  const Json* v = Field(obj, key);
  if (v == nullptr) return std::nullopt;
  int64_t x = 0;
  if (!AsInt64(*v, &x) || x < lo || x > hi) {
    return Bad(std::string(key),
               std::string(key) + " must be an integer " + range + ", got " + Shown(*v));
  }
  *out = x;
  return std::nullopt;
}

Check GetFloat(const Json& obj, std::string_view key, double lo, bool lo_open, double hi,
               bool hi_open, float* out) {
  const Json* v = Field(obj, key);
  if (v == nullptr) return std::nullopt;
  bool ok = v->is_number();
  double d = ok ? v->get<double>() : 0.0;
  if (ok) {
    ok = std::isfinite(d) && (lo_open ? d > lo : d >= lo) && (hi_open ? d < hi : d <= hi);
  }
  if (!ok) {
    auto bound = [](double b) {
      if (std::isinf(b)) return std::string(b > 0 ? "inf" : "-inf");
      std::string s = std::to_string(b);
      while (s.size() > 1 && s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
      return s;
    };
    std::string range =
        std::string(lo_open ? "(" : "[") + bound(lo) + ", " + bound(hi) + (hi_open ? ")" : "]");
    return Bad(std::string(key),
               std::string(key) + " must be a number in " + range + ", got " + Shown(*v));
  }
  *out = static_cast<float>(d);
  return std::nullopt;
}

namespace {

Check ParseStop(const Json& obj, GenParams* p) {
  const Json* v = Field(obj, "stop");
  if (v == nullptr) return std::nullopt;
  const std::string what = "stop must be a string or an array of at most " +
                           std::to_string(kMaxStopStrings) + " strings of at most " +
                           std::to_string(kMaxStopBytes) + " bytes";
  auto add = [&](const Json& s) -> Check {
    if (!s.is_string()) return Bad("stop", what + ", got " + Shown(*v));
    const auto& str = s.get_ref<const std::string&>();
    if (str.size() > kMaxStopBytes)
      return Bad("stop", what + ", got one of " + std::to_string(str.size()) + " bytes");
    if (!str.empty()) p->stop.push_back(str);  // empty stop strings never match: dropped
    return std::nullopt;
  };
  if (v->is_string()) return add(*v);
  if (!v->is_array() || v->size() > static_cast<size_t>(kMaxStopStrings)) {
    return Bad("stop", what + ", got " + Shown(*v));
  }
  for (const Json& s : *v) {
    if (auto e = add(s)) return e;
  }
  return std::nullopt;
}

Check ParseStopTokenIds(const Json& obj, GenParams* p) {
  const Json* v = Field(obj, "stop_token_ids");
  if (v == nullptr) return std::nullopt;
  const std::string what = "stop_token_ids must be an array of at most " +
                           std::to_string(kMaxStopTokenIds) + " integers in [0, 2147483647]";
  if (!v->is_array() || v->size() > static_cast<size_t>(kMaxStopTokenIds)) {
    return Bad("stop_token_ids", what + ", got " + Shown(*v));
  }
  for (const Json& id : *v) {
    int64_t x = 0;
    if (!id.is_number() || !AsInt64(id, &x) || x < 0 || x > 2147483647) {
      return Bad("stop_token_ids", what + ", got " + Shown(id));
    }
    p->stop_token_ids.push_back(static_cast<int32_t>(x));
  }
  return std::nullopt;
}

// The "router" extension field: per-request overrides of the router's weights.
Check ParseRouterOverrides(const Json& obj, GenParams* p) {
  const Json* ro = Field(obj, "router");
  if (ro == nullptr) return std::nullopt;
  if (!ro->is_object()) return Bad("router", "router must be an object, got " + Shown(*ro));
  for (auto it = ro->begin(); it != ro->end(); ++it) {
    const std::string& k = it.key();
    const std::string param = "router." + k;
    const Json& v = it.value();
    if (k == "mode") {
      auto mode = v.is_string() ? router::ParseMode(v.get<std::string>())
                                : Result<router::Mode>(Status::InvalidArgument("not a string"));
      if (!mode.ok()) {
        return Bad(param, param + " must be one of kv, round-robin, random, least-loaded, got " +
                              Shown(v));
      }
      p->route.mode = *mode;
    } else if (k == "host_credit" || k == "disk_credit") {
      if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 1)) {
        return Bad(param, param + " must be a number in [0, 1], got " + Shown(v));
      }
      (k == "host_credit" ? p->route.host_tier_credit : p->route.disk_tier_credit) =
          v.get<double>();
    } else if (k == "overlap_credit" || k == "prefill_load_scale" || k == "temperature") {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0) {
        return Bad(param, param + " must be a number >= 0, got " + Shown(v));
      }
      const double d = v.get<double>();
      if (k == "overlap_credit") p->route.overlap_credit = d;
      if (k == "prefill_load_scale") p->route.prefill_load_scale = d;
      if (k == "temperature") p->route.temperature = d;
    } else {
      return Bad(param, "unknown router field '" + k +
                            "' (mode, overlap_credit, prefill_load_scale, temperature, "
                            "host_credit, disk_credit)");
    }
  }
  return std::nullopt;
}

}  // namespace

Check ParseCommonFields(const Json& obj, std::string* model, GenParams* p) {
  const Json* m = Field(obj, "model");
  if (m == nullptr || !m->is_string() || m->get_ref<const std::string&>().empty()) {
    return Bad("model", "model is required and must be a non-empty string" +
                            (m == nullptr ? std::string() : ", got " + Shown(*m)));
  }
  *model = m->get<std::string>();

  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (auto e = GetInt(obj, "max_tokens", 1, kMax, ">= 1", &p->max_tokens)) return e;

  protocol::SamplingOptions& s = p->sampling;
  if (auto e = GetFloat(obj, "temperature", 0, false, 2, false, &s.temperature)) return e;
  if (auto e = GetFloat(obj, "top_p", 0, true, 1, false, &s.top_p)) return e;
  if (auto e = GetFloat(obj, "min_p", 0, false, 1, false, &s.min_p)) return e;
  if (auto e = GetFloat(obj, "presence_penalty", -2, false, 2, false, &s.presence_penalty)) {
    return e;
  }
  if (auto e = GetFloat(obj, "frequency_penalty", -2, false, 2, false, &s.frequency_penalty)) {
    return e;
  }
  if (auto e =
          GetFloat(obj, "repetition_penalty", 0, true, HUGE_VAL, true, &s.repetition_penalty)) {
    return e;
  }
  std::optional<int64_t> top_k;
  if (auto e = GetInt(obj, "top_k", -1, std::numeric_limits<int32_t>::max(),
                      ">= -1 (-1 or 0 = disabled)", &top_k)) {
    return e;
  }
  if (top_k) s.top_k = *top_k <= 0 ? 0 : static_cast<int32_t>(*top_k);
  std::optional<int64_t> seed;
  if (auto e = GetInt(obj, "seed", kMin, kMax, "in the int64 range", &seed)) return e;
  if (seed) {
    s.seed = static_cast<uint64_t>(*seed);
    s.has_seed = true;
  }

  if (auto e = ParseStop(obj, p)) return e;
  if (auto e = ParseStopTokenIds(obj, p)) return e;
  std::optional<int64_t> n;
  if (auto e = GetInt(obj, "n", 1, kMaxChoices, "in [1, 16]", &n)) return e;
  if (n) p->n = static_cast<int32_t>(*n);
  if (auto e = GetBool(obj, "stream", &p->stream)) return e;
  if (auto e = GetBool(obj, "ignore_eos", &p->ignore_eos)) return e;
  if (auto e = ParseRouterOverrides(obj, p)) return e;

  if (const Json* so = Field(obj, "stream_options")) {
    if (!so->is_object()) {
      return Bad("stream_options", "stream_options must be an object, got " + Shown(*so));
    }
    if (!p->stream) {
      return Bad("stream_options", "stream_options is only allowed when stream is true");
    }
    if (const Json* iu = Field(*so, "include_usage")) {
      if (!iu->is_boolean()) {
        return Bad("stream_options.include_usage",
                   "stream_options.include_usage must be a boolean, got " + Shown(*iu));
      }
      p->include_usage = iu->get<bool>();
    }
  }
  if (const Json* lb = Field(obj, "logit_bias")) {
    if (!lb->is_object()) {
      return Bad("logit_bias", "logit_bias must be an object, got " + Shown(*lb));
    }
    if (!lb->empty()) return Bad("logit_bias", "logit_bias is not supported");
  }
  return std::nullopt;
}

Check FinishGenParams(GenParams* p) {
  Status st = p->sampling.Validate();
  if (!st.ok()) {
    // Validate's messages start with the field name: "top_p = 0.000000 is outside (0, 1]".
    const std::string& m = st.message();
    return Bad(m.substr(0, m.find(' ')), m);
  }
  return std::nullopt;
}

}  // namespace mint::frontend::internal
