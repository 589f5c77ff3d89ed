#include "protocol/generate.h"

#include <cmath>
#include <string>

namespace mint::protocol {

namespace {

Status OutOfRange(const char* field, float value, const char* range) {
  return Status::InvalidArgument(std::string(field) + " = " + std::to_string(value) +
                                 " is outside " + range);
}

}  // namespace

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
    case FinishReason::kError:
      return "error";
  }
  return "?";
}

Status SamplingOptions::Validate() const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
    return OutOfRange("temperature", temperature, "[0, inf)");
  }
  if (!(top_p > 0.0f && top_p <= 1.0f)) return OutOfRange("top_p", top_p, "(0, 1]");
  if (!(min_p >= 0.0f && min_p <= 1.0f)) return OutOfRange("min_p", min_p, "[0, 1]");
  if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty)) {
    return OutOfRange("repetition_penalty", repetition_penalty, "(0, inf)");
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    return OutOfRange("frequency_penalty", frequency_penalty, "[-2, 2]");
  }
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    return OutOfRange("presence_penalty", presence_penalty, "[-2, 2]");
  }
  return Status::Ok();
}

}  // namespace mint::protocol
