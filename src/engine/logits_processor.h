// LogitsProcessor: the engine's seam for constrained decoding (DESIGN.md, "Seams"). A request
// that carries a constraint (Request::grammar) gets a processor from the engine's factory when
// it is submitted; before each sampling the processor masks the tokens that may not come next,
// and every chosen token advances it. Grammars (src/grammar) and tool_choice ride on it; the
// constraint is plain text, so it crosses the request plane to remote workers unchanged.
//
// Thread-safety: a processor belongs to one request and is used on the engine's loop thread
// only. The factory runs on the submitting thread (compiling there, off the loop) and must be
// safe to call concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"

namespace mint::engine {

struct Request;

class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;
  // Sets the logits of tokens that may not come next to -infinity. Returns false when no token
  // at all may come next (the constraint is complete and allows no stop token): the engine then
  // ends the request (kStop).
  virtual bool Mask(std::span<float> logits) = 0;
  // The tokens that may come next as a list (ascending ids), when the processor has one cheaply
  // and it is short: the engine then samples among them without touching the rest of the row
  // (Sampler::SampleAmong). False: call Mask instead. An empty list means what Mask's false does.
  virtual bool ListAllowed(std::vector<int32_t>* ids) { return false; }
  // True if `token` may come next (for executors that choose tokens without logits).
  virtual bool Allows(int32_t token) = 0;
  // Advances past the chosen token (always one Mask or Allows permitted).
  virtual void Accept(int32_t token) = 0;
  // Not ok once the constraint cannot be followed (a grammar too ambiguous to track): the
  // engine ends the request with this error (kError) instead of emitting more tokens.
  virtual Status status() const { return Status::Ok(); }
};

// Builds the processor for a request with a constraint; errors (a bad grammar) refuse the request.
using LogitsProcessorFactory =
    std::function<Result<std::unique_ptr<LogitsProcessor>>(const Request& request)>;

}  // namespace mint::engine
