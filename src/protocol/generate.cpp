#include "protocol/generate.h"

#include "core/sampling_ranges.h"

namespace mint::protocol {

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

Status SamplingOptions::Validate() const { return CheckSamplingRanges(*this); }

}  // namespace mint::protocol
