// WorkerServer: serves one engine over the request plane (gRPC `Worker` service of
// runtime.proto): Generate streams a request's outputs, Health reports load, GetKvSnapshot gives
// what the prefix cache holds (for event subscribers that saw a gap).
//
// Cancellation: when the caller cancels the call (client gone, deadline passed, frontend
// aborted) or a write fails, the request is aborted in the engine.
//
// Thread-safety: the server runs its own threads; Shutdown() may be called from any thread once.
// The engine must outlive the server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "runtime/plane_tls.h"
#include "engine/engine.h"

namespace mint::worker {

struct WorkerServerOptions {
  std::string worker_id;
  std::string model_name;
  std::string bind = "127.0.0.1:0";  // host:port; port 0 picks a free one
  // On Shutdown, calls in flight get this long to finish before they are cancelled (the
  // frontend migrates those).
  int drain_ms = 500;
  // Mutual TLS on the request plane (callers must present the cluster certificate); disabled:
  // plaintext.
  runtime::PlaneTls tls{};
};

struct WorkerServerStats {
  uint64_t requests = 0;   // Generate calls accepted
  uint64_t cancelled = 0;  // ended by the caller before finishing
  uint64_t rejected = 0;   // refused by the engine (invalid, queue full)
};

class WorkerServer {
 public:
  static Result<std::unique_ptr<WorkerServer>> Start(engine::Engine* engine,
                                                     const WorkerServerOptions& options);
  ~WorkerServer();  // Shutdown()

  int port() const;
  // Stops accepting calls, cancels the ones in flight (their requests are aborted) and waits for
  // their handlers to return.
  void Shutdown();
  WorkerServerStats stats() const;

 private:
  struct Impl;
  explicit WorkerServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mint::worker
