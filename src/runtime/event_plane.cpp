#include "runtime/event_plane.h"

#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <future>
#include <utility>
#include <vector>

#include "core/log.h"
#include "runtime/convert_events.h"

namespace mint::runtime {

namespace {

std::string ZmqError(const std::string& what) { return what + ": " + zmq_strerror(zmq_errno()); }

void SetIntOption(void* socket, int option, int value) {
  zmq_setsockopt(socket, option, &value, sizeof(value));
}

// The CURVE public key (32 bytes) of a 32-byte secret key; empty on error.
std::string CurvePublic(const std::string& secret) {
  if (secret.size() != 32) return {};
  char secret_z85[41] = {}, public_z85[41] = {};
  zmq_z85_encode(secret_z85, reinterpret_cast<const uint8_t*>(secret.data()), 32);
  if (zmq_curve_public(public_z85, secret_z85) != 0) return {};
  uint8_t pub[32];
  if (zmq_z85_decode(pub, public_z85) == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(pub), 32);
}

// Receives one multipart message; false when the context is shutting down.
bool RecvFrames(void* socket, std::vector<std::string>* frames) {
  frames->clear();
  for (;;) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, socket, 0) < 0) {
      zmq_msg_close(&m);
      if (zmq_errno() == EINTR) continue;
      return false;
    }
    frames->emplace_back(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
    const bool more = zmq_msg_more(&m) != 0;
    zmq_msg_close(&m);
    if (!more) return true;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// KvEventPublisher

Result<std::unique_ptr<KvEventPublisher>> KvEventPublisher::Create(
    std::string worker_id, std::string bind_endpoint, KvEventPublisherOptions options) {
  if (worker_id.empty()) return Status::InvalidArgument("KvEventPublisher: empty worker id");
  if (options.queue_capacity == 0) options.queue_capacity = 1;
  void* context = zmq_ctx_new();
  if (context == nullptr) return Status::Internal(ZmqError("zmq_ctx_new"));
  void* socket = zmq_socket(context, ZMQ_PUB);
  if (socket == nullptr) {
    Status status = Status::Internal(ZmqError("zmq_socket(PUB)"));
    zmq_ctx_term(context);
    return status;
  }
  SetIntOption(socket, ZMQ_LINGER, 0);
  SetIntOption(socket, ZMQ_SNDHWM, options.send_hwm);
  void* zap = nullptr;
  if (!options.curve_secret.empty()) {
    // The ZAP handler is bound before the PUB socket, so no handshake can happen without it.
    zap = zmq_socket(context, ZMQ_REP);
    const bool ok = zap != nullptr && options.curve_secret.size() == 32 &&
                    zmq_bind(zap, "inproc://zeromq.zap.01") == 0;
    SetIntOption(socket, ZMQ_CURVE_SERVER, 1);
    if (!ok ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, options.curve_secret.data(), 32) != 0 ||
        zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, "mint", 4) != 0) {
      Status status = Status::Internal(ZmqError("KvEventPublisher: CURVE setup"));
      if (zap != nullptr) zmq_close(zap);
      zmq_close(socket);
      zmq_ctx_term(context);
      return status;
    }
  }
  if (zmq_bind(socket, bind_endpoint.c_str()) != 0) {
    Status status = Status::Unavailable(ZmqError("KvEventPublisher: bind " + bind_endpoint));
    if (zap != nullptr) zmq_close(zap);
    zmq_close(socket);
    zmq_ctx_term(context);
    return status;
  }
  char last[256] = {};
  size_t last_size = sizeof(last);
  std::string endpoint = bind_endpoint;
  if (zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, last, &last_size) == 0) endpoint = last;
  auto pub = std::unique_ptr<KvEventPublisher>(
      new KvEventPublisher(std::move(worker_id), options, context, socket, std::move(endpoint)));
  if (zap != nullptr) {
    KvEventPublisher* raw = pub.get();
    raw->zap_ = std::thread([raw, zap, allowed = CurvePublic(options.curve_secret)] {
      raw->ZapLoop(zap, allowed);
    });
  }
  return pub;
}

void KvEventPublisher::ZapLoop(void* zap, std::string allowed_public_key) {
  // ZAP request frames: version, request id, domain, address, identity, mechanism, credentials.
  std::vector<std::string> f;
  while (RecvFrames(zap, &f)) {
    const bool ok = f.size() >= 7 && f[5] == "CURVE" && !allowed_public_key.empty() &&
                    f[6] == allowed_public_key;
    if (!ok) {
      ++refused_;
      log::Warn("event plane {}: refused a subscriber from {} (not a cluster key)", endpoint_,
                f.size() > 3 ? f[3] : std::string("?"));
    }
    const std::string reply[] = {"1.0", f.size() > 1 ? f[1] : std::string(), ok ? "200" : "400",
                                 ok ? "OK" : "not a cluster member", "", ""};
    for (size_t i = 0; i < 6; ++i) {
      zmq_send(zap, reply[i].data(), reply[i].size(), i + 1 < 6 ? ZMQ_SNDMORE : 0);
    }
  }
  zmq_close(zap);
}

KvEventPublisher::KvEventPublisher(std::string worker_id, KvEventPublisherOptions options,
                                   void* context, void* socket, std::string endpoint)
    : worker_id_(std::move(worker_id)),
      options_(options),
      context_(context),
      socket_(socket),
      endpoint_(std::move(endpoint)) {
  sender_ = std::thread([this] { SenderLoop(); });
}

KvEventPublisher::~KvEventPublisher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  sender_.join();
  zmq_close(socket_);
  if (zap_.joinable()) {
    zmq_ctx_shutdown(context_);  // the ZAP handler's receive returns; it closes its socket
    zap_.join();
  }
  zmq_ctx_term(context_);
}

void KvEventPublisher::OnKvEvent(const engine::KvEvent& event) { Enqueue(event, true); }

void KvEventPublisher::OnKvSnapshot(const engine::KvSnapshot& snapshot) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.last_event_id = std::max(stats_.last_event_id, snapshot.last_event_id);
}

void KvEventPublisher::PublishLoad(const engine::EngineMetrics& metrics) {
  Enqueue(ToProto(metrics, worker_id_), false);
}

void KvEventPublisher::Enqueue(Item item, bool is_event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (is_event) {
      const engine::KvEvent& event = std::get<engine::KvEvent>(item);
      stats_.last_event_id = std::max(stats_.last_event_id, event.id);
      if (drop_for_test_ && drop_for_test_(event)) {
        ++stats_.events_dropped;
        return;
      }
    } else {
      std::get<pb::LoadMetrics>(item).set_last_kv_event_id(stats_.last_event_id);
    }
    if (stop_ || queue_.size() >= options_.queue_capacity) {
      ++(is_event ? stats_.events_dropped : stats_.loads_dropped);
      return;
    }
    queue_.push_back(std::move(item));
  }
  cv_.notify_one();
}

KvEventPublisherStats KvEventPublisher::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  KvEventPublisherStats s = stats_;
  s.subscribers_refused = refused_.load();
  return s;
}

void KvEventPublisher::SetDropFilterForTest(std::function<bool(const engine::KvEvent&)> drop) {
  std::lock_guard<std::mutex> lock(mu_);
  drop_for_test_ = std::move(drop);
}

void KvEventPublisher::SenderLoop() {
  std::deque<Item> batch;
  pb::EventEnvelope envelope;
  std::string wire;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      batch.swap(queue_);
    }
    KvEventPublisherStats sent;
    for (Item& item : batch) {
      envelope.Clear();
      envelope.set_worker_id(worker_id_);
      const bool is_event = std::holds_alternative<engine::KvEvent>(item);
      if (is_event) {
        *envelope.mutable_kv_event() = ToProto(std::get<engine::KvEvent>(item));
      } else {
        *envelope.mutable_load() = std::move(std::get<pb::LoadMetrics>(item));
      }
      envelope.SerializeToString(&wire);
      // A PUB socket never blocks: past a subscriber's high-water mark ZeroMQ drops silently.
      const bool ok = zmq_send(socket_, wire.data(), wire.size(), ZMQ_DONTWAIT) >= 0;
      if (is_event) {
        ++(ok ? sent.events_published : sent.events_dropped);
      } else {
        ++(ok ? sent.loads_published : sent.loads_dropped);
      }
    }
    batch.clear();
    std::lock_guard<std::mutex> lock(mu_);
    stats_.events_published += sent.events_published;
    stats_.events_dropped += sent.events_dropped;
    stats_.loads_published += sent.loads_published;
    stats_.loads_dropped += sent.loads_dropped;
  }
}

// ---------------------------------------------------------------------------------------------
// KvEventSubscriber

namespace {

using Clock = std::chrono::steady_clock;

struct ConnectCommand {
  std::string worker_id;
  std::string endpoint;
  std::promise<Status> done;
};
struct DisconnectCommand {
  std::string worker_id;
  std::promise<void> done;
};
struct FetchDoneCommand {
  std::string worker_id;
  uint64_t generation;
  Result<engine::KvSnapshot> result;
};
struct StopCommand {};
using Command = std::variant<ConnectCommand, DisconnectCommand, FetchDoneCommand, StopCommand>;

struct FetchJob {
  std::string worker_id;
  uint64_t generation;
};

// One connected worker, owned by the socket thread.
struct WorkerState {
  std::string endpoint;
  uint64_t generation = 0;  // changes on every (re)connect; stale fetch results are ignored
  bool syncing = true;      // waiting for a snapshot; events go to `buffer`
  bool fetch_in_flight = false;
  bool retry_pending = false;
  Clock::time_point retry_at;
  std::chrono::milliseconds backoff{0};
  uint64_t next_id = 1;        // when !syncing: the id the next event must carry
  uint64_t known_last_id = 0;  // the highest id the worker is known to have emitted
  std::deque<engine::KvEvent> buffer;
};

}  // namespace

struct KvEventSubscriber::Impl {
  Callbacks callbacks;
  SnapshotFetcher fetcher;
  KvEventSubscriberOptions options;
  void* context = nullptr;
  void* socket = nullptr;  // owned by the socket thread once it runs
  int wake_fd = -1;        // eventfd: commands are waiting

  std::mutex command_mu;
  std::deque<Command> commands;  // guarded by command_mu

  std::mutex resync_mu;
  std::condition_variable resync_cv;
  std::deque<FetchJob> jobs;  // guarded by resync_mu
  bool resync_stop = false;   // guarded by resync_mu

  mutable std::mutex stats_mu;
  KvEventSubscriberStats stats;  // guarded by stats_mu

  // Socket thread only.
  std::map<std::string, WorkerState> workers;
  uint64_t next_generation = 1;

  std::thread socket_thread;
  std::thread resync_thread;

  ~Impl() {
    if (socket != nullptr) zmq_close(socket);
    if (context != nullptr) zmq_ctx_term(context);
    if (wake_fd >= 0) close(wake_fd);
  }

  bool OnSocketThread() const { return std::this_thread::get_id() == socket_thread.get_id(); }

  void Post(Command command) {
    {
      std::lock_guard<std::mutex> lock(command_mu);
      commands.push_back(std::move(command));
    }
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd, &one, sizeof(one));
  }

  template <typename F>
  void UpdateWorkerStats(const std::string& worker_id, F&& update) {
    std::lock_guard<std::mutex> lock(stats_mu);
    auto it = stats.workers.find(worker_id);
    if (it != stats.workers.end()) update(stats, it->second);
  }

  WorkerState* Find(const std::string& worker_id, uint64_t generation) {
    auto it = workers.find(worker_id);
    if (it == workers.end() || it->second.generation != generation) return nullptr;
    return &it->second;
  }

  // --- socket thread: the loop -------------------------------------------------------------

  void SocketLoop() {
    for (;;) {
      int timeout_ms = 100;  // a fallback only: commands wake the poll through wake_fd
      const Clock::time_point now = Clock::now();
      for (const auto& [id, w] : workers) {
        if (!w.retry_pending) continue;
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(w.retry_at - now);
        timeout_ms = std::clamp(static_cast<int>(wait.count()) + 1, 0, timeout_ms);
      }
      zmq_pollitem_t items[2] = {{socket, 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd, ZMQ_POLLIN, 0}};
      zmq_poll(items, 2, timeout_ms);
      if (items[1].revents & ZMQ_POLLIN) {
        uint64_t count;
        [[maybe_unused]] ssize_t n = read(wake_fd, &count, sizeof(count));
      }
      if (!RunCommands()) return;
      ReceiveAvailable();
      RetryDueFetches();
    }
  }

  // Returns false on StopCommand.
  bool RunCommands() {
    std::deque<Command> pending;
    {
      std::lock_guard<std::mutex> lock(command_mu);
      pending.swap(commands);
    }
    for (size_t i = 0; i < pending.size(); ++i) {
      Command& command = pending[i];
      if (auto* c = std::get_if<ConnectCommand>(&command)) {
        c->done.set_value(DoConnect(c->worker_id, c->endpoint));
      } else if (auto* d = std::get_if<DisconnectCommand>(&command)) {
        DoDisconnect(d->worker_id);
        d->done.set_value();
      } else if (auto* f = std::get_if<FetchDoneCommand>(&command)) {
        ApplyFetch(f->worker_id, f->generation, std::move(f->result));
      } else {
        // Stop: answer whoever still waits so no caller hangs.
        for (size_t j = i + 1; j < pending.size(); ++j) {
          if (auto* rc = std::get_if<ConnectCommand>(&pending[j])) {
            rc->done.set_value(Status::Cancelled("subscriber stopping"));
          } else if (auto* rd = std::get_if<DisconnectCommand>(&pending[j])) {
            rd->done.set_value();
          }
        }
        return false;
      }
    }
    return true;
  }

  void ReceiveAvailable() {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    // Bounded so commands (e.g. a Disconnect) are not starved by a flood.
    for (int i = 0; i < 4096; ++i) {
      if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0) break;
      OnMessage(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    }
    zmq_msg_close(&msg);
  }

  void RetryDueFetches() {
    const Clock::time_point now = Clock::now();
    for (auto& [id, w] : workers) {
      if (w.retry_pending && w.retry_at <= now) RequestFetch(id, w);
    }
  }

  // --- socket thread: connections ----------------------------------------------------------

  Status DoConnect(const std::string& worker_id, const std::string& endpoint) {
    auto it = workers.find(worker_id);
    if (it != workers.end()) {
      if (it->second.endpoint == endpoint) return Status::Ok();
      DoDisconnect(worker_id);
    }
    for (const auto& [id, w] : workers) {
      if (w.endpoint == endpoint) {
        return Status::InvalidArgument("endpoint " + endpoint + " is already connected for " + id);
      }
    }
    if (zmq_connect(socket, endpoint.c_str()) != 0) {
      return Status::InvalidArgument(ZmqError("connect " + endpoint));
    }
    WorkerState& w = workers[worker_id];
    w.endpoint = endpoint;
    w.generation = next_generation++;
    w.backoff = options.resync_backoff_initial;
    {
      std::lock_guard<std::mutex> lock(stats_mu);
      stats.workers[worker_id] = WorkerEventStats{};
    }
    RequestFetch(worker_id, w);
    return Status::Ok();
  }

  void DoDisconnect(const std::string& worker_id) {
    auto it = workers.find(worker_id);
    if (it == workers.end()) return;
    zmq_disconnect(socket, it->second.endpoint.c_str());
    workers.erase(it);
    std::lock_guard<std::mutex> lock(stats_mu);
    stats.workers.erase(worker_id);
  }

  // --- socket thread: the stream -----------------------------------------------------------

  void OnMessage(const char* data, size_t size) {
    pb::EventEnvelope envelope;
    const bool parsed = envelope.ParseFromArray(data, static_cast<int>(size));
    if (!parsed || (envelope.has_kv_event() && !IsValidKvEvent(envelope.kv_event())) ||
        envelope.body_case() == pb::EventEnvelope::BODY_NOT_SET) {
      std::lock_guard<std::mutex> lock(stats_mu);
      ++stats.malformed;
      return;
    }
    auto it = workers.find(envelope.worker_id());
    if (it == workers.end()) return;  // not (or no longer) connected
    // Not it->first: a callback may disconnect the worker, destroying the map's key.
    const std::string& worker_id = envelope.worker_id();
    if (envelope.has_kv_event()) {
      OnEvent(worker_id, it->second, FromProto(envelope.kv_event()));
    } else {
      OnLoad(worker_id, it->second, envelope.load());
    }
  }

  void OnEvent(const std::string& worker_id, WorkerState& w, engine::KvEvent event) {
    UpdateWorkerStats(worker_id, [](KvEventSubscriberStats& all, WorkerEventStats& one) {
      ++all.events_received;
      ++one.events_received;
    });
    if (event.tier != engine::StorageTier::kDevice) {
      // A tier's event (id 0, outside the sequence): a hint, delivered as it comes.
      if (callbacks.on_event) callbacks.on_event(worker_id, event);
      return;
    }
    w.known_last_id = std::max(w.known_last_id, event.id);
    if (w.syncing) {
      if (w.buffer.size() >= options.max_buffered_events) w.buffer.pop_front();
      w.buffer.push_back(std::move(event));
      return;
    }
    if (event.id == w.next_id) {
      Deliver(worker_id, w, event);
      return;
    }
    if (event.id < w.next_id) {
      // Already in the snapshot: a snapshot is often ahead of the stream it repairs.
      UpdateWorkerStats(
          worker_id, [](KvEventSubscriberStats&, WorkerEventStats& one) { ++one.stale_dropped; });
      return;
    }
    // A gap: buffer this one and fetch a snapshot.
    w.buffer.push_back(std::move(event));
    StartResync(worker_id, w);
  }

  void OnLoad(const std::string& worker_id, WorkerState& w, const pb::LoadMetrics& load) {
    const uint64_t generation = w.generation;
    UpdateWorkerStats(worker_id,
                      [](KvEventSubscriberStats&, WorkerEventStats& one) { ++one.loads_received; });
    w.known_last_id = std::max(w.known_last_id, load.last_kv_event_id());
    if (callbacks.on_load) {
      callbacks.on_load(worker_id, load);
      if (Find(worker_id, generation) == nullptr) return;  // disconnected by the callback
    }
    // Every event up to the load's id was sent before it: a lower position means the tail of
    // the stream was lost.
    if (!w.syncing && w.known_last_id >= w.next_id) StartResync(worker_id, w);
  }

  void Deliver(const std::string& worker_id, WorkerState& w, const engine::KvEvent& event) {
    w.next_id = event.id + 1;
    UpdateWorkerStats(worker_id, [&](KvEventSubscriberStats&, WorkerEventStats& one) {
      one.last_event_id = event.id;
    });
    if (callbacks.on_event) callbacks.on_event(worker_id, event);
  }

  void StartResync(const std::string& worker_id, WorkerState& w) {
    w.syncing = true;
    UpdateWorkerStats(worker_id, [](KvEventSubscriberStats& all, WorkerEventStats& one) {
      ++all.gaps_detected;
      ++one.gaps_detected;
      one.live = false;
    });
    RequestFetch(worker_id, w);
  }

  void RequestFetch(const std::string& worker_id, WorkerState& w) {
    w.retry_pending = false;
    if (w.fetch_in_flight) return;
    w.fetch_in_flight = true;
    {
      std::lock_guard<std::mutex> lock(resync_mu);
      jobs.push_back(FetchJob{worker_id, w.generation});
    }
    resync_cv.notify_one();
  }

  // Delivers the snapshot, then the buffered events that follow it; a gap among them (or a lost
  // tail) starts another fetch.
  void ApplyFetch(const std::string& worker_id, uint64_t generation,
                  Result<engine::KvSnapshot> result) {
    WorkerState* w = Find(worker_id, generation);
    if (w == nullptr) return;
    w->fetch_in_flight = false;
    if (!result.ok()) {
      UpdateWorkerStats(worker_id, [](KvEventSubscriberStats& all, WorkerEventStats& one) {
        ++all.fetch_failures;
        ++one.fetch_failures;
      });
      w->retry_pending = true;
      w->retry_at = Clock::now() + w->backoff;
      w->backoff = std::min(w->backoff * 2, options.resync_backoff_max);
      return;
    }
    w->backoff = options.resync_backoff_initial;
    const engine::KvSnapshot& snapshot = result.value();
    w->next_id = snapshot.last_event_id + 1;
    w->known_last_id = std::max(w->known_last_id, snapshot.last_event_id);
    UpdateWorkerStats(worker_id, [&](KvEventSubscriberStats& all, WorkerEventStats& one) {
      ++all.resyncs;
      ++one.resyncs;
      one.last_event_id = snapshot.last_event_id;
    });
    if (callbacks.on_snapshot) {
      callbacks.on_snapshot(worker_id, snapshot);
      if ((w = Find(worker_id, generation)) == nullptr) return;
    }
    while (!w->buffer.empty()) {
      engine::KvEvent event = std::move(w->buffer.front());
      if (event.id > w->next_id) break;  // a gap: keep it for the next snapshot
      w->buffer.pop_front();
      if (event.id < w->next_id) continue;  // already in the snapshot
      Deliver(worker_id, *w, event);
      if ((w = Find(worker_id, generation)) == nullptr) return;
    }
    if (!w->buffer.empty() || w->known_last_id >= w->next_id) {
      StartResync(worker_id, *w);
      return;
    }
    w->syncing = false;
    UpdateWorkerStats(worker_id,
                      [](KvEventSubscriberStats&, WorkerEventStats& one) { one.live = true; });
  }

  // --- resync thread -----------------------------------------------------------------------

  void ResyncLoop() {
    for (;;) {
      FetchJob job;
      {
        std::unique_lock<std::mutex> lock(resync_mu);
        resync_cv.wait(lock, [this] { return resync_stop || !jobs.empty(); });
        if (resync_stop) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      Result<engine::KvSnapshot> result = Status::Internal("snapshot fetcher threw");
      try {
        result = fetcher(job.worker_id);
      } catch (const std::exception& e) {
        result = Status::Internal(std::string("snapshot fetcher threw: ") + e.what());
      }
      Post(FetchDoneCommand{std::move(job.worker_id), job.generation, std::move(result)});
    }
  }
};

Result<std::unique_ptr<KvEventSubscriber>> KvEventSubscriber::Create(
    Callbacks callbacks, SnapshotFetcher fetcher, KvEventSubscriberOptions options) {
  if (!fetcher) return Status::InvalidArgument("KvEventSubscriber: no snapshot fetcher");
  auto impl = std::make_unique<Impl>();
  impl->callbacks = std::move(callbacks);
  impl->fetcher = std::move(fetcher);
  impl->options = options;
  impl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->wake_fd < 0) return Status::Internal("KvEventSubscriber: eventfd failed");
  impl->context = zmq_ctx_new();
  if (impl->context == nullptr) return Status::Internal(ZmqError("zmq_ctx_new"));
  impl->socket = zmq_socket(impl->context, ZMQ_SUB);
  if (impl->socket == nullptr) return Status::Internal(ZmqError("zmq_socket(SUB)"));
  SetIntOption(impl->socket, ZMQ_LINGER, 0);
  SetIntOption(impl->socket, ZMQ_RCVHWM, options.receive_hwm);
  if (!options.curve_secret.empty()) {
    // Every publisher of the cluster has the same key pair, and so does this subscriber.
    const std::string pub = CurvePublic(options.curve_secret);
    if (pub.empty() ||
        zmq_setsockopt(impl->socket, ZMQ_CURVE_SERVERKEY, pub.data(), 32) != 0 ||
        zmq_setsockopt(impl->socket, ZMQ_CURVE_PUBLICKEY, pub.data(), 32) != 0 ||
        zmq_setsockopt(impl->socket, ZMQ_CURVE_SECRETKEY, options.curve_secret.data(), 32) != 0) {
      return Status::Internal(ZmqError("KvEventSubscriber: CURVE setup"));
    }
  }
  if (zmq_setsockopt(impl->socket, ZMQ_SUBSCRIBE, "", 0) != 0) {
    return Status::Internal(ZmqError("ZMQ_SUBSCRIBE"));
  }
  Impl* raw = impl.get();
  raw->resync_thread = std::thread([raw] { raw->ResyncLoop(); });
  raw->socket_thread = std::thread([raw] { raw->SocketLoop(); });
  return std::unique_ptr<KvEventSubscriber>(new KvEventSubscriber(std::move(impl)));
}

KvEventSubscriber::KvEventSubscriber(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KvEventSubscriber::~KvEventSubscriber() {
  impl_->Post(StopCommand{});
  impl_->socket_thread.join();
  {
    std::lock_guard<std::mutex> lock(impl_->resync_mu);
    impl_->resync_stop = true;
  }
  impl_->resync_cv.notify_all();
  impl_->resync_thread.join();
}

Status KvEventSubscriber::Connect(std::string worker_id, std::string endpoint) {
  if (worker_id.empty()) return Status::InvalidArgument("KvEventSubscriber: empty worker id");
  if (impl_->OnSocketThread()) return impl_->DoConnect(worker_id, endpoint);
  ConnectCommand command{std::move(worker_id), std::move(endpoint), {}};
  std::future<Status> done = command.done.get_future();
  impl_->Post(std::move(command));
  return done.get();
}

void KvEventSubscriber::Disconnect(const std::string& worker_id) {
  if (impl_->OnSocketThread()) {
    impl_->DoDisconnect(worker_id);
    return;
  }
  DisconnectCommand command{worker_id, {}};
  std::future<void> done = command.done.get_future();
  impl_->Post(std::move(command));
  done.get();
}

KvEventSubscriberStats KvEventSubscriber::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  return impl_->stats;
}

}  // namespace mint::runtime
