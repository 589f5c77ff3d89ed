// The client side of the request plane with gRPC hidden: one WorkerClient per worker (a channel
// with keep-alive pings, mutual TLS when configured), Generate streams read by a reactor on
// gRPC's threads (no thread waits on a stream), the worker's KV snapshot. Callers see protocol
// types, mint Status, and how a stream ended classified for their next step (StreamEnd).
//
// Thread-safety: WorkerClient is thread-safe. A stream's callbacks run on gRPC's threads, one at
// a time, in order; Cancel may be called from any thread until on_done has run.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "engine/kv_events.h"  // KvSnapshot
#include "protocol/generate.h"
#include "runtime/plane_tls.h"

namespace mint::runtime {

// How a Generate stream ended, for the caller's next step.
enum class StreamEnd {
  kOk,        // the stream ended cleanly (after the worker's final output, or none)
  kDeadline,  // the call ran past its deadline
  kRejected,  // the worker refused the request itself (invalid, unknown, unsupported, out of
              // range): another worker would refuse it too
  kBusy,      // the worker refused it for want of room: another worker may take it
  kLost,      // the worker or the connection was lost, or the call was cancelled
};
const char* StreamEndName(StreamEnd e);

class GenerateStream {
 public:
  struct Callbacks {
    std::function<void(const protocol::GenerateOutput&)> on_output;  // each message
    std::function<void(StreamEnd, const Status&)> on_done;        // once, after the last
  };
  virtual ~GenerateStream() = default;
  // Sends the request; the callbacks may run before Start returns. Once only.
  virtual void Start() = 0;
  // Ends the call early (on_done follows, with kLost). Any thread, before on_done has run.
  virtual void Cancel() = 0;
};

class WorkerClient {
 public:
  WorkerClient(const std::string& address, int keepalive_ms, const PlaneTls& tls);
  ~WorkerClient();

  // A Generate stream of `request` (`request_id` names it in the worker's logs), ending at
  // `deadline` if set. Start it once its owner is ready for callbacks. Destroy it only after
  // on_done has returned, and not on a gRPC thread (it may hold the channel's last reference).
  std::unique_ptr<GenerateStream> NewGenerate(
      const protocol::GenerateRequest& request, uint64_t request_id,
      std::optional<std::chrono::system_clock::time_point> deadline,
      GenerateStream::Callbacks callbacks);

  // The worker's KV snapshot (blocks it holds), for an event subscriber's resync.
  Result<engine::KvSnapshot> KvSnapshot(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mint::runtime
