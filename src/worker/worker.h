// Worker: one engine made reachable — its request-plane server (WorkerServer), its KV events
// and load on the event plane, and its registration in discovery — started and stopped as one.
//
// Used by `mint worker` (one per process, etcd discovery) and by `mint serve --workers N` (N in
// one process, embedded discovery).
//
// Thread-safety: Create and destruction on one thread; the parts run their own threads.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <string>

#include "core/status.h"
#include "engine/engine.h"
#include "runtime/discovery.h"
#include "runtime/event_plane.h"
#include "worker/worker_server.h"

namespace mint::worker {

struct WorkerOptions {
  std::string id;                  // empty: "<hostname>-<pid>-<random>"
  std::string model_name;
  std::string role = "agg";
  std::string bind_host = "127.0.0.1";  // where the internal ports listen
  std::string advertise_host = {};      // what others dial; empty: bind_host (or the hostname when
                                        // bind_host is 0.0.0.0)
  int port = 0;         // request plane (gRPC); 0: any free port
  int events_port = 0;  // event plane (ZeroMQ PUB); 0: any free port; < 0: no events
  int drain_ms = 500;   // on stop, calls in flight get this long before they are cancelled
  std::string metrics_url = {};  // announced in discovery; empty: none
  // Mutual TLS on the request plane and CURVE on the event plane; disabled: plaintext.
  runtime::PlaneTls tls{};
};

class Worker {
 public:
  // Starts serving `engine` (which must outlive the worker) and registers it in `discovery`
  // (which must too).
  static Result<std::unique_ptr<Worker>> Create(engine::Engine* engine, runtime::Discovery* discovery,
                                                const WorkerOptions& options);
  // Deregisters, then stops the servers (requests in flight are aborted).
  ~Worker();

  const runtime::WorkerInfo& info() const { return info_; }
  WorkerServerStats stats() const { return server_->stats(); }
  // Null when events are off (events_port < 0).
  const runtime::KvEventPublisher* publisher() const { return publisher_.get(); }

 private:
  Worker() = default;
  void LoadLoop();

  engine::Engine* engine_ = nullptr;
  runtime::WorkerInfo info_;
  std::unique_ptr<WorkerServer> server_;
  std::unique_ptr<runtime::KvEventPublisher> publisher_;
  std::unique_ptr<runtime::Handle> registration_;
  // Publishes the engine's load every 100 ms (also how subscribers notice a lost tail of events).
  std::mutex load_mu_;
  std::condition_variable load_cv_;
  bool stop_load_ = false;  // guarded by load_mu_
  std::thread load_thread_;
};

// "<hostname>-<pid>-<4 random hex digits>".
std::string DefaultWorkerId();

}  // namespace mint::worker
