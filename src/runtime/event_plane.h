// The event plane: workers publish their KV events and load over ZeroMQ PUB sockets; a router
// (or planner) holds one SUB socket connected to every worker and rebuilds each worker's prefix
// cache from the stream.
//
// Wire format: one single-frame ZeroMQ message per pb::EventEnvelope (runtime.proto), carrying
// either one KV event or one LoadMetrics. Subscribers subscribe to everything.
//
// Delivery is best effort and repaired by the subscriber: ZeroMQ drops what is published before a
// subscription is live ("slow joiner") and past a high-water mark, and a publisher drops on queue
// overflow. Event ids are consecutive per worker, so a subscriber that sees an id other than the
// one it expects fetches a snapshot (the worker's GetKvSnapshot RPC, through a SnapshotFetcher),
// delivers it as "replace everything known about this worker", and continues from
// snapshot.last_event_id + 1 with the events it buffered meanwhile; events older than that
// (the snapshot is often ahead of the stream) are dropped as already seen, which is why an engine
// whose ids restart must publish under a new worker id. A gap at the tail of the
// stream (the last events dropped, then silence) is noticed through the load messages, which
// carry the id of the last event the worker emitted: workers should PublishLoad periodically.
//
// Threading model.
//   KvEventPublisher: OnKvEvent / OnKvSnapshot / PublishLoad may be called from any thread (the
//     engine loop in practice); they copy into a bounded queue and never block on I/O. One sender
//     thread owns the PUB socket.
//   KvEventSubscriber: one socket thread owns the SUB socket and every per-worker state, and runs
//     every callback (one at a time, never concurrently). One resync thread calls the
//     SnapshotFetcher (which may block, e.g. on gRPC) for one worker at a time. Connect /
//     Disconnect / Stats may be called from any thread, including from inside a callback.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

#include "core/status.h"
#include "engine/engine.h"
#include "engine/kv_events.h"
#include "runtime/runtime.pb.h"

namespace mint::runtime {

struct KvEventPublisherOptions {
  size_t queue_capacity = 1 << 16;  // messages waiting for the sender thread; beyond: dropped
  int send_hwm = 1 << 16;           // ZeroMQ per-subscriber high-water mark (messages)
  // CURVE (ZeroMQ's encryption and authentication): the cluster's 32-byte secret key
  // (PlaneCurveSecret). Set: the stream is encrypted and only subscribers holding the same key
  // get it (checked by a ZAP handler; refusals are logged and counted). Empty: plaintext.
  std::string curve_secret{};
};

struct KvEventPublisherStats {
  uint64_t events_published = 0;  // handed to the socket
  uint64_t events_dropped = 0;    // queue overflow (or the test drop filter)
  uint64_t loads_published = 0;
  uint64_t loads_dropped = 0;
  uint64_t last_event_id = 0;  // the highest id handed to OnKvEvent / OnKvSnapshot
  uint64_t subscribers_refused = 0;  // CURVE handshakes with a key other than the cluster's
};

// Thread-safety: every method may be called from any thread, concurrently. The sink methods
// must be called in id order for one engine (the engine does so from its loop thread).
class KvEventPublisher : public engine::KvEventSink {
 public:
  // Binds a PUB socket to `bind_endpoint` ("tcp://127.0.0.1:0" picks a free port,
  // "tcp://0.0.0.0:5557", "tcp://*:5557") and starts the sender thread. Errors:
  // kInvalidArgument (empty worker id), kUnavailable (bind refused: bad endpoint, port in use).
  static Result<std::unique_ptr<KvEventPublisher>> Create(std::string worker_id,
                                                          std::string bind_endpoint,
                                                          KvEventPublisherOptions options = {});
  // Stops the sender thread promptly; whatever is still queued is discarded (linger 0).
  ~KvEventPublisher() override;

  KvEventPublisher(const KvEventPublisher&) = delete;
  KvEventPublisher& operator=(const KvEventPublisher&) = delete;

  // The bound endpoint with the real port, e.g. "tcp://127.0.0.1:41234". Bound to a wildcard
  // address, this reads "tcp://0.0.0.0:5557": turning that into an address other hosts can
  // connect to (the host's name or IP) is the caller's business, e.g. for WorkerInfo.
  const std::string& endpoint() const { return endpoint_; }
  const std::string& worker_id() const { return worker_id_; }

  // engine::KvEventSink. Enqueue and return; on a full queue the event is dropped and counted
  // (subscribers repair the gap from a snapshot).
  void OnKvEvent(const engine::KvEvent& event) override;
  // Snapshots are not published (subscribers fetch their own); this only records
  // snapshot.last_event_id as the stream's position.
  void OnKvSnapshot(const engine::KvSnapshot& snapshot) override;
  // Enqueues the worker's load. Its last_kv_event_id is the publisher's own last id (every id
  // handed to OnKvEvent, published or dropped), which is what lets subscribers see a lost tail.
  void PublishLoad(const engine::EngineMetrics& metrics);

  KvEventPublisherStats Stats() const;

  // Test hook: events for which `drop` returns true are counted as dropped and not sent. Called
  // under the queue lock; set it before publishing. Null: drop nothing.
  void SetDropFilterForTest(std::function<bool(const engine::KvEvent&)> drop);

 private:
  using Item = std::variant<engine::KvEvent, pb::LoadMetrics>;
  KvEventPublisher(std::string worker_id, KvEventPublisherOptions options, void* context,
                   void* socket, std::string endpoint);
  void Enqueue(Item item, bool is_event);
  void SenderLoop();
  // CURVE: answers ZeroMQ's authentication requests (ZAP) until the context shuts down.
  void ZapLoop(void* zap_socket, std::string allowed_public_key);

  const std::string worker_id_;
  const KvEventPublisherOptions options_;
  void* const context_;
  void* const socket_;  // owned by the sender thread once it runs
  const std::string endpoint_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;                                     // guarded by mu_
  bool stop_ = false;                                          // guarded by mu_
  KvEventPublisherStats stats_;                                // guarded by mu_
  std::function<bool(const engine::KvEvent&)> drop_for_test_;  // guarded by mu_
  std::thread sender_;
  std::thread zap_;  // runs only with CURVE
  std::atomic<uint64_t> refused_{0};
};

struct KvEventSubscriberOptions {
  std::chrono::milliseconds resync_backoff_initial{20};  // first retry after a failed fetch
  std::chrono::milliseconds resync_backoff_max{1000};
  size_t max_buffered_events = 1 << 16;  // per worker while a snapshot is being fetched
  int receive_hwm = 1 << 17;             // ZeroMQ SUB high-water mark (messages)
  std::string curve_secret{};  // the cluster's CURVE key when publishers use one (see above)
};

struct WorkerEventStats {
  uint64_t events_received = 0;  // valid KV events that arrived (delivered, buffered or dropped)
  uint64_t gaps_detected = 0;    // an id other than the expected one, or a lost tail
  uint64_t resyncs = 0;          // snapshots delivered
  uint64_t fetch_failures = 0;
  uint64_t loads_received = 0;
  uint64_t stale_dropped = 0;  // ids below the expected one: already covered by a snapshot
  uint64_t last_event_id = 0;  // the last id delivered (snapshot or event); 0: none yet
  bool live = false;           // in sync: no snapshot pending
};

struct KvEventSubscriberStats {
  uint64_t events_received = 0;  // totals over every worker ever connected
  uint64_t gaps_detected = 0;
  uint64_t resyncs = 0;
  uint64_t fetch_failures = 0;
  uint64_t malformed = 0;                           // messages that did not parse
  std::map<std::string, WorkerEventStats> workers;  // connected workers only
};

// Thread-safety: every method may be called from any thread (see the threading model above).
class KvEventSubscriber {
 public:
  struct Callbacks {
    std::function<void(const std::string& worker_id, const engine::KvEvent&)> on_event;
    // Replace everything known about this worker's cache with `snapshot`.
    std::function<void(const std::string& worker_id, const engine::KvSnapshot&)> on_snapshot;
    std::function<void(const std::string& worker_id, const pb::LoadMetrics&)> on_load;
  };
  // Returns the worker's current snapshot (in real use its GetKvSnapshot RPC). Called on the
  // resync thread; may block. An error is retried with backoff while the worker is connected.
  using SnapshotFetcher = std::function<Result<engine::KvSnapshot>(const std::string& worker_id)>;

  // Null callbacks are skipped. Errors: kInvalidArgument (no fetcher), kInternal (ZeroMQ).
  static Result<std::unique_ptr<KvEventSubscriber>> Create(Callbacks callbacks,
                                                           SnapshotFetcher fetcher,
                                                           KvEventSubscriberOptions options = {});
  // Stops both threads; waits for a fetch in progress to return. No callback runs afterwards.
  // Must not be called from a callback.
  ~KvEventSubscriber();

  KvEventSubscriber(const KvEventSubscriber&) = delete;
  KvEventSubscriber& operator=(const KvEventSubscriber&) = delete;

  // Connects to a worker's PUB endpoint and fetches its snapshot at once (so an idle worker's
  // cache is known too); its events follow the snapshot. Connecting a connected worker to the
  // same endpoint is a no-op; to another endpoint, reconnects (and re-syncs). Errors:
  // kInvalidArgument (empty id, malformed endpoint, endpoint in use by another worker).
  Status Connect(std::string worker_id, std::string endpoint);
  // Disconnects and forgets the worker: once this returns, no callback for it runs (unless it
  // is connected again). Unknown ids are ignored.
  void Disconnect(const std::string& worker_id);

  KvEventSubscriberStats Stats() const;

 private:
  struct Impl;
  explicit KvEventSubscriber(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mint::runtime
