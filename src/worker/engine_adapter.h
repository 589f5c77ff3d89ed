// The one place protocol types (protocol/generate.h) become the engine's and back: the request
// plane's service and the in-process backend both pass through here.
//
// Thread-safety: free functions on values.
#pragma once

#include "engine/engine.h"
#include "protocol/generate.h"

namespace mint::worker {

engine::Request ToEngine(protocol::GenerateRequest request);
protocol::GenerateOutput FromEngine(const engine::RequestOutput& output);
// Adapts a protocol callback to the engine's (each output converted once).
engine::OutputCallback ToEngine(protocol::OutputCallback on_output);

}  // namespace mint::worker
