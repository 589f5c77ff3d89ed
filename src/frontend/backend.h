// The frontend's view of a generation backend, in protocol types (protocol/generate.h): an engine
// in this process (worker/local_backend.h) or workers over the request plane (remote_backend.h).
//
// Thread-safety: every method may be called from any thread; output callbacks arrive on a backend
// thread and must return quickly.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "engine/engine.h"  // EngineMetrics
#include "protocol/generate.h"
#include "router/router.h"

namespace mint::frontend {

class GenerationBackend {
 public:
  virtual ~GenerationBackend() = default;
  // Queues a request; outputs stream to `on_output` until one with finish != kNone. `route`:
  // this request's routing overrides (backends with one engine ignore them).
  virtual Result<uint64_t> Submit(protocol::GenerateRequest request,
                                  protocol::OutputCallback on_output,
                                  const router::RouteOverrides& route) = 0;
  Result<uint64_t> Submit(protocol::GenerateRequest request, protocol::OutputCallback on_output) {
    return Submit(std::move(request), std::move(on_output), router::RouteOverrides{});
  }
  // Aborts a request; its final output (kAbort) still arrives. Unknown ids are ignored.
  virtual void Abort(uint64_t id) = 0;
  virtual engine::EngineMetrics Metrics() const = 0;
  // Longest prompt + output the backend accepts.
  virtual int64_t max_model_len() const = 0;
  // Prometheus lines of the backend's own (appended to the frontend's /metrics).
  virtual std::string MetricsText() const { return {}; }
};

}  // namespace mint::frontend
