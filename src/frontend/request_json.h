// Internal to the frontend: typed, range-checked access to the fields of a parsed request body,
// each failure an ApiError naming the field (param) and the allowed values. Shared by the chat and
// completions parsers. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "frontend/api_error.h"
#include "frontend/openai_request.h"

namespace mint::frontend::internal {

using Json = nlohmann::ordered_json;
// Empty when the field is fine.
using Check = std::optional<ApiError>;

// Integer value of a JSON number: integers, and floats with no fractional part, within int64.
bool AsInt64(const Json& v, int64_t* out);
// The field, or nullptr when it is absent or JSON null.
const Json* Field(const Json& obj, std::string_view key);
// A short rendering of a value for messages ("got ..."): its JSON text, cut at 40 bytes.
std::string Shown(const Json& v);
ApiError Bad(std::string param, std::string message);

// Size limit, nesting limit, JSON syntax, top-level object.
ApiResult<Json> ParseBody(std::string_view body, const ParseLimits& limits);

// Each getter leaves *out untouched when the field is absent/null.
Check GetBool(const Json& obj, std::string_view key, bool* out);
Check GetString(const Json& obj, std::string_view key, std::string* out);
// Integer in [lo, hi]; `range` is how the message spells the allowed values (">= 1", "[1, 16]").
Check GetInt(const Json& obj, std::string_view key, int64_t lo, int64_t hi, const char* range,
             std::optional<int64_t>* out);
// Number in the interval given by lo/hi and whether each end is open.
Check GetFloat(const Json& obj, std::string_view key, double lo, bool lo_open, double hi,
               bool hi_open, float* out);

// The fields both endpoints share: model, max_tokens, sampling, stop, stop_token_ids, n, seed,
// stream, stream_options, ignore_eos, logit_bias. Endpoint-specific fields (logprobs, ...) are
// parsed by the caller, which then calls FinishGenParams.
Check ParseCommonFields(const Json& obj, std::string* model, GenParams* params);
// Final cross-field checks and protocol::SamplingOptions::Validate, translated to a param.
Check FinishGenParams(GenParams* params);

}  // namespace mint::frontend::internal
