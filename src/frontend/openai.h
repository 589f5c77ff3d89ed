// The frontend's OpenAI protocol layer, one include for the HTTP server: errors (api_error.h),
// request parsing and validation (openai_request.h), response/SSE builders (openai_response.h),
// stop strings (stop_matcher.h) and the reasoning/content split (reasoning.h). No networking.
//
// How a server uses it for one chat request:
//   auto req = ParseChatRequest(body, limits);      // 4xx ApiError -> ErrorBody
//   render req->messages with the model's chat template, tokenize, submit to the engine
//   per choice: detokenize -> ReasoningParser -> StopMatcher (on content) -> ChatChunk / body
//   (a stop string found by StopMatcher aborts the engine request; finish_reason "stop").
//
// Thread-safety: everything here is pure functions or per-stream objects.
#pragma once

#include "frontend/api_error.h"        // IWYU pragma: export
#include "frontend/openai_request.h"   // IWYU pragma: export
#include "frontend/openai_response.h"  // IWYU pragma: export
#include "frontend/reasoning.h"        // IWYU pragma: export
#include "frontend/stop_matcher.h"     // IWYU pragma: export
