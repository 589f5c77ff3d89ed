// The ranges sampling parameters must lie in (the OpenAI API's, and vLLM's for the extensions):
// one definition for the protocol's SamplingOptions (what the frontend accepts) and the engine's
// SamplingParams (what the engine takes), two structs with the same field names.
//
// Thread-safety: a pure function.
#pragma once

#include <cmath>
#include <string>

#include "core/status.h"

namespace mint {

// kInvalidArgument whose message starts with the field's name: "top_p = 0.000000 is outside
// (0, 1]". `S` has temperature, top_p, min_p, repetition_penalty, frequency_penalty and
// presence_penalty (floats).
template <class S>
Status CheckSamplingRanges(const S& s) {
  auto out_of_range = [](const char* field, float v, const char* range) {
    return Status::InvalidArgument(std::string(field) + " = " + std::to_string(v) + " is outside " +
                                   range);
  };
  if (!(s.temperature >= 0.0f) || !std::isfinite(s.temperature)) {
    return out_of_range("temperature", s.temperature, "[0, inf)");
  }
  if (!(s.top_p > 0.0f && s.top_p <= 1.0f)) return out_of_range("top_p", s.top_p, "(0, 1]");
  if (!(s.min_p >= 0.0f && s.min_p <= 1.0f)) return out_of_range("min_p", s.min_p, "[0, 1]");
  if (!(s.repetition_penalty > 0.0f) || !std::isfinite(s.repetition_penalty)) {
    return out_of_range("repetition_penalty", s.repetition_penalty, "(0, inf)");
  }
  if (!(s.frequency_penalty >= -2.0f && s.frequency_penalty <= 2.0f)) {
    return out_of_range("frequency_penalty", s.frequency_penalty, "[-2, 2]");
  }
  if (!(s.presence_penalty >= -2.0f && s.presence_penalty <= 2.0f)) {
    return out_of_range("presence_penalty", s.presence_penalty, "[-2, 2]");
  }
  return Status::Ok();
}

}  // namespace mint
