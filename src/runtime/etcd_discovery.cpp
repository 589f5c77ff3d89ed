// The etcd implementation of Discovery: etcd v3 through its gRPC API (etcdserverpb KV, Lease and
// Watch services), with stubs generated at build time (etcd_proto.cmake).
//
// Threading: every Register() handle owns one keep-alive thread and every Watch() handle owns one
// watch thread; the Discovery object itself holds only the channel and stubs, shared with the
// handles, so handles may outlive it. A handle's destructor stops its thread promptly: waits are
// condition_variable waits and the RPC in flight is cancelled (ClientContext::TryCancel).
//
// Watch() returns at once and succeeds even while etcd is down; the first callback then comes
// when etcd is first reached. Register() needs etcd now and fails (kUnavailable) after 2 s.
//
// Endpoints: one is handed to gRPC as is (its DNS resolver follows a name). Several (the members
// of a cluster) are resolved once, at construction, into one address list that gRPC's
// pick_first policy tries in order: when the member in use fails, the next call connects to the
// next one that answers.
//
// Failure model: every call but the watch stream has a deadline (2 s; 500 ms for the final
// revoke) and waits for a connection up to it, so an unreachable etcd is seen after the deadline
// and a returning one is found by the next retry; the channel's reconnect backoff is capped at
// 1 s. The watch stream has no deadline and does not wait for a connection (the Range before it
// just made one); gRPC keepalive pings (every 10 s; etcd refuses pings more often than every
// 5 s) notice a silent peer under it.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/log.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "runtime/discovery.h"
#include "runtime/request_plane.h"

namespace mint::runtime {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kRpcDeadline{2000};  // unary calls: Register fails after this
constexpr milliseconds kRevokeDeadline{500};
constexpr milliseconds kBackoffMin{100};
constexpr milliseconds kBackoffMax{1000};

// What the handles share: one channel and its stubs. Stubs are thread-safe.
struct EtcdClient {
  EtcdOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
};

std::string JoinEndpoints(const std::vector<std::string>& endpoints) {
  std::string out;
  for (const auto& e : endpoints) out += (out.empty() ? "" : ",") + e;
  return out;
}

// The channel target for `endpoints` (see the top of this file): "ipv4:a:p,b:p" or
// "ipv6:[a]:p,[b]:p" for several (IPv4 addresses when both families resolve: one target holds
// one family).
Result<std::string> ChannelTarget(const std::vector<std::string>& endpoints) {
  if (endpoints.size() == 1) return endpoints[0];
  std::vector<std::string> v4, v6;
  for (const std::string& e : endpoints) {
    const size_t colon = e.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == e.size()) {
      return Status::InvalidArgument("etcd endpoint '" + e + "' is not host:port");
    }
    std::string host = e.substr(0, colon);
    const std::string port = e.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      return Status::Unavailable("etcd endpoint '" + e + "': " + gai_strerror(rc));
    }
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      char ip[INET6_ADDRSTRLEN] = {};
      if (a->ai_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, ip, sizeof(ip));
        v4.push_back(std::string(ip) + ":" + port);
      } else if (a->ai_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, ip,
                  sizeof(ip));
        v6.push_back("[" + std::string(ip) + "]:" + port);
      }
    }
    freeaddrinfo(res);
  }
  if (!v4.empty()) return "ipv4:" + JoinEndpoints(v4);
  if (!v6.empty()) return "ipv6:" + JoinEndpoints(v6);
  return Status::Unavailable("etcd endpoints " + JoinEndpoints(endpoints) + " resolve to nothing");
}

// The end of the key range holding every key that starts with `prefix` (etcd's "prefix end":
// the prefix with its last byte below 0xff incremented; "\0" means "to the end of the keyspace").
std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

// Bounded calls wait for a connection up to their deadline: gRPC 1.51 fails calls without
// wait_for_ready at once while its channel is in TRANSIENT_FAILURE, and such calls never make it
// reconnect, so a returning etcd would go unnoticed.
void SetDeadline(grpc::ClientContext* ctx, milliseconds d) {
  ctx->set_deadline(std::chrono::system_clock::now() + d);  // gRPC takes system_clock only
  ctx->set_wait_for_ready(true);
}

std::string Describe(const grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

// Stops one background thread: Stop() wakes its waits and cancels the RPC it has in flight.
// Thread-safety: all methods may be called from any thread; Attach/Detach from the worker only.
class StopSignal {
 public:
  // Makes `ctx` the context Stop() cancels. Returns false (and attaches nothing) if stopped.
  bool Attach(grpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopped_) return false;
    ctx_ = ctx;
    return true;
  }
  void Detach() {
    std::lock_guard<std::mutex> lk(mu_);
    ctx_ = nullptr;
  }
  // Waits `d` or until stopped; returns false if stopped.
  bool WaitFor(milliseconds d) {
    std::unique_lock<std::mutex> lk(mu_);
    return !cv_.wait_for(lk, d, [&] { return stopped_; });
  }
  void Stop() {
    std::lock_guard<std::mutex> lk(mu_);
    stopped_ = true;
    if (ctx_ != nullptr) ctx_->TryCancel();
    cv_.notify_all();
  }
  bool stopped() {
    std::lock_guard<std::mutex> lk(mu_);
    return stopped_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;                // guarded by mu_
  grpc::ClientContext* ctx_ = nullptr;  // guarded by mu_
};

// Attaches a context to a StopSignal for the scope of one RPC. Used on the worker thread only.
class ScopedCall {
 public:
  ScopedCall(StopSignal* stop, grpc::ClientContext* ctx) : stop_(stop), ok_(stop->Attach(ctx)) {}
  ~ScopedCall() {
    if (ok_) stop_->Detach();
  }
  bool ok() const { return ok_; }  // false: stopped, do not start the RPC

 private:
  StopSignal* stop_;
  bool ok_;
};

// Exponential backoff between kBackoffMin and kBackoffMax. Not thread-safe (one thread's).
class Backoff {
 public:
  milliseconds Next() {
    milliseconds d = next_;
    next_ = std::min(next_ * 2, kBackoffMax);
    return d;
  }
  void Reset() { next_ = kBackoffMin; }

 private:
  milliseconds next_ = kBackoffMin;
};

// Logs "etcd lost" / "etcd back" once per transition, not once per retry. Not thread-safe.
class ReachabilityLog {
 public:
  explicit ReachabilityLog(std::string what) : what_(std::move(what)) {}
  void Failed(const grpc::Status& s) {
    if (reachable_) log::Info("discovery: {}: etcd unreachable ({}), retrying", what_, Describe(s));
    reachable_ = false;
  }
  void Succeeded() {
    if (!reachable_) log::Info("discovery: {}: etcd reachable again", what_);
    reachable_ = true;
  }

 private:
  std::string what_;
  bool reachable_ = true;
};

// ---------------------------------------------------------------------------------------------
// Registration: a lease, the key under it, and a thread keeping the lease alive.
// Thread-safety: Announce() then Start() on the creating thread; afterwards only the destructor.

class EtcdRegistration : public Handle {
 public:
  EtcdRegistration(std::shared_ptr<const EtcdClient> client, WorkerInfo info)
      : client_(std::move(client)),
        info_(std::move(info)),
        key_(client_->options.prefix + info_.id),
        value_(info_.ToJson()) {}

  ~EtcdRegistration() override {
    stop_.Stop();
    if (thread_.joinable()) thread_.join();
    // Best effort: revoking deletes the key now instead of after the TTL.
    if (lease_id_ != 0) {
      grpc::ClientContext ctx;
      SetDeadline(&ctx, kRevokeDeadline);
      etcdserverpb::LeaseRevokeRequest req;
      req.set_id(lease_id_);
      etcdserverpb::LeaseRevokeResponse resp;
      grpc::Status s = client_->lease->LeaseRevoke(&ctx, req, &resp);
      if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
        log::Warn("discovery: revoking the lease of {} failed ({}); it expires within {} s",
                  info_.id, Describe(s), client_->options.lease_ttl_s);
      }
    }
  }

  // Grants a lease and puts the key under it (the first time, on the caller's thread).
  grpc::Status Announce() {
    etcdserverpb::LeaseGrantResponse grant;
    {
      grpc::ClientContext ctx;
      SetDeadline(&ctx, kRpcDeadline);
      ScopedCall call(&stop_, &ctx);
      if (!call.ok()) return grpc::Status::CANCELLED;
      etcdserverpb::LeaseGrantRequest req;
      req.set_ttl(client_->options.lease_ttl_s);
      grpc::Status s = client_->lease->LeaseGrant(&ctx, req, &grant);
      if (!s.ok()) return s;
      if (!grant.error().empty()) return grpc::Status(grpc::StatusCode::INTERNAL, grant.error());
    }
    lease_id_ = grant.id();
    ttl_s_ = std::max<int64_t>(grant.ttl(), 1);
    grpc::ClientContext ctx;
    SetDeadline(&ctx, kRpcDeadline);
    ScopedCall call(&stop_, &ctx);
    if (!call.ok()) return grpc::Status::CANCELLED;
    etcdserverpb::PutRequest req;
    req.set_key(key_);
    req.set_value(value_);
    req.set_lease(lease_id_);
    etcdserverpb::PutResponse resp;
    return client_->kv->Put(&ctx, req, &resp);
  }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

 private:
  enum class KeepAlive { kOk, kLeaseLost, kFailed, kStopped };

  // One keep-alive round on its own short stream (a stream per round: a sync Read cannot time
  // out, a deadline on a short stream can).
  KeepAlive KeepAliveOnce(grpc::Status* status) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, kRpcDeadline);
    ScopedCall call(&stop_, &ctx);
    if (!call.ok()) return KeepAlive::kStopped;
    auto stream = client_->lease->LeaseKeepAlive(&ctx);
    etcdserverpb::LeaseKeepAliveRequest req;
    req.set_id(lease_id_);
    etcdserverpb::LeaseKeepAliveResponse resp;
    bool got = stream->Write(req) && stream->Read(&resp);
    stream->WritesDone();
    if (got) ctx.TryCancel();  // the stream is done; do not wait for the server to close it
    *status = stream->Finish();
    if (stop_.stopped()) return KeepAlive::kStopped;
    if (!got)
      return status->error_code() == grpc::StatusCode::NOT_FOUND ? KeepAlive::kLeaseLost
                                                                 : KeepAlive::kFailed;
    return resp.ttl() <= 0 ? KeepAlive::kLeaseLost : KeepAlive::kOk;
  }

  void Run() {
    ReachabilityLog reach("registration of " + info_.id);
    Backoff backoff;
    bool announced = true;  // Register() announced before starting the thread
    while (!stop_.stopped()) {
      grpc::Status s;
      if (!announced) {
        s = Announce();
        if (stop_.stopped()) return;
        if (!s.ok()) {
          reach.Failed(s);
          if (!stop_.WaitFor(backoff.Next())) return;
          continue;
        }
        reach.Succeeded();
        log::Info("discovery: re-registered {} under lease {:x}", info_.id, lease_id_);
        announced = true;
        backoff.Reset();
      }
      KeepAlive k = KeepAliveOnce(&s);
      switch (k) {
        case KeepAlive::kStopped:
          return;
        case KeepAlive::kOk:
          reach.Succeeded();
          backoff.Reset();
          if (!stop_.WaitFor(milliseconds(ttl_s_ * 1000 / 3))) return;
          break;
        case KeepAlive::kLeaseLost:
          reach.Succeeded();
          log::Info("discovery: lease {:x} of {} expired or was revoked; registering again",
                    lease_id_, info_.id);
          lease_id_ = 0;
          announced = false;
          break;
        case KeepAlive::kFailed:
          reach.Failed(s);
          if (!stop_.WaitFor(backoff.Next())) return;
          break;
      }
    }
  }

  std::shared_ptr<const EtcdClient> client_;
  const WorkerInfo info_;
  const std::string key_;
  const std::string value_;
  StopSignal stop_;
  // Written by Announce() (before Start() on the caller's thread, then on thread_ only), read by
  // the destructor after the join.
  int64_t lease_id_ = 0;
  int64_t ttl_s_ = 1;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Watch: Range the prefix, then follow a Watch stream from the next revision.
// Thread-safety: all state is its thread's; the destructor (any thread but the callback's) stops
// and joins it.

class EtcdWatch : public Handle {
 public:
  EtcdWatch(std::shared_ptr<const EtcdClient> client, MembershipCallback on_change)
      : client_(std::move(client)),
        on_change_(std::move(on_change)),
        range_end_(PrefixEnd(client_->options.prefix)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~EtcdWatch() override {
    stop_.Stop();
    thread_.join();  // no callback runs once this returns
  }

 private:
  using Members = std::map<std::string, WorkerInfo>;  // by etcd key

  void Run() {
    ReachabilityLog reach("watch of " + client_->options.prefix);
    Backoff backoff;
    while (!stop_.stopped()) {
      int64_t revision = 0;
      grpc::Status s = RangeAll(&revision);
      if (stop_.stopped()) return;
      if (!s.ok()) {
        reach.Failed(s);
        if (!stop_.WaitFor(backoff.Next())) return;
        continue;
      }
      reach.Succeeded();
      backoff.Reset();
      Deliver();
      bool compacted = false;
      s = Follow(revision + 1, &compacted);
      if (stop_.stopped()) return;
      if (compacted) continue;  // history is gone: take a fresh full membership at once
      reach.Failed(s);
      if (!stop_.WaitFor(backoff.Next())) return;
    }
  }

  // Replaces members_ with everything under the prefix; *revision: the store revision read.
  grpc::Status RangeAll(int64_t* revision) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, kRpcDeadline);
    ScopedCall call(&stop_, &ctx);
    if (!call.ok()) return grpc::Status::CANCELLED;
    etcdserverpb::RangeRequest req;
    req.set_key(client_->options.prefix);
    req.set_range_end(range_end_);
    etcdserverpb::RangeResponse resp;
    grpc::Status s = client_->kv->Range(&ctx, req, &resp);
    if (!s.ok()) return s;
    members_.clear();
    for (const auto& kv : resp.kvs()) Apply(kv.key(), &kv.value());
    *revision = resp.header().revision();
    return grpc::Status::OK;
  }

  // Follows changes from `start_revision` until the stream ends (error, stop, or compaction).
  grpc::Status Follow(int64_t start_revision, bool* compacted) {
    grpc::ClientContext ctx;
    ScopedCall call(&stop_, &ctx);
    if (!call.ok()) return grpc::Status::CANCELLED;
    auto stream = client_->watch->Watch(&ctx);
    etcdserverpb::WatchRequest req;
    auto* create = req.mutable_create_request();
    create->set_key(client_->options.prefix);
    create->set_range_end(range_end_);
    create->set_start_revision(start_revision);
    etcdserverpb::WatchResponse resp;
    bool open = false;  // left the stream open on the server: cancel it before Finish()
    if (stream->Write(req)) {
      while (stream->Read(&resp)) {
        if (resp.canceled()) {
          if (resp.compact_revision() > 0) {
            log::Info("discovery: watch of {} compacted at revision {}; reading it afresh",
                      client_->options.prefix, resp.compact_revision());
            *compacted = true;
          } else {
            log::Warn("discovery: etcd canceled the watch of {}: {}", client_->options.prefix,
                      resp.cancel_reason());
          }
          open = true;
          break;
        }
        if (resp.events_size() == 0) continue;  // created, progress notification
        Members before = members_;
        for (const auto& ev : resp.events()) {
          Apply(ev.kv().key(), ev.type() == mvccpb::Event::PUT ? &ev.kv().value() : nullptr);
        }
        if (!(members_ == before)) Deliver();
      }
    }
    if (open) ctx.TryCancel();
    grpc::Status s = stream->Finish();
    return s.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "watch stream ended") : s;
  }

  // value == nullptr: the key was deleted.
  void Apply(const std::string& key, const std::string* value) {
    if (value == nullptr) {
      members_.erase(key);
      return;
    }
    auto info = WorkerInfo::FromJson(*value);
    if (!info.ok()) {
      log::Warn("discovery: ignoring {}: {}", key, info.status().ToString());
      members_.erase(key);
      return;
    }
    members_[key] = std::move(info.value());
  }

  // Calls back with members_ if it differs from what was last delivered (always the first time).
  void Deliver() {
    Membership m;
    m.reserve(members_.size());
    for (const auto& [key, info] : members_) m.push_back(info);
    std::sort(m.begin(), m.end(),
              [](const WorkerInfo& a, const WorkerInfo& b) { return a.id < b.id; });
    if (delivered_once_ && m == delivered_) return;
    delivered_once_ = true;
    delivered_ = m;
    if (stop_.stopped()) return;
    on_change_(delivered_);
  }

  std::shared_ptr<const EtcdClient> client_;
  MembershipCallback on_change_;
  const std::string range_end_;
  StopSignal stop_;
  // Owned by thread_.
  Members members_;
  Membership delivered_;
  bool delivered_once_ = false;
  std::thread thread_;  // last: starts after everything above is constructed
};

// ---------------------------------------------------------------------------------------------

class EtcdDiscovery : public Discovery {
 public:
  explicit EtcdDiscovery(std::shared_ptr<const EtcdClient> client) : client_(std::move(client)) {}

  Result<std::unique_ptr<Handle>> Register(const WorkerInfo& info) override {
    if (info.id.empty()) return Status::InvalidArgument("worker id is empty");
    auto reg = std::make_unique<EtcdRegistration>(client_, info);
    grpc::Status s = reg->Announce();
    if (!s.ok()) {
      // The destructor revokes a lease granted before a failed Put.
      return Unreachable("registering " + info.id, s);
    }
    log::Info("discovery: registered {} in etcd at {} (lease TTL {} s)", info.id,
              JoinEndpoints(client_->options.endpoints), client_->options.lease_ttl_s);
    reg->Start();
    return std::unique_ptr<Handle>(std::move(reg));
  }

  // Returns at once, even if etcd is down now: the first callback then comes once it is reached.
  Result<std::unique_ptr<Handle>> Watch(MembershipCallback on_change) override {
    if (!on_change) return Status::InvalidArgument("watch callback is empty");
    return std::unique_ptr<Handle>(new EtcdWatch(client_, std::move(on_change)));
  }

  Status PutValue(const std::string& key, const std::string& value) override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, kRpcDeadline);
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    etcdserverpb::PutResponse resp;
    grpc::Status s = client_->kv->Put(&ctx, req, &resp);
    return s.ok() ? Status::Ok() : Unreachable("writing " + key, s);
  }

  Result<std::optional<std::string>> GetValue(const std::string& key) override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, kRpcDeadline);
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    etcdserverpb::RangeResponse resp;
    grpc::Status s = client_->kv->Range(&ctx, req, &resp);
    if (!s.ok()) return Unreachable("reading " + key, s);
    if (resp.kvs_size() == 0) return std::optional<std::string>();
    return std::optional<std::string>(resp.kvs(0).value());
  }

  std::string_view kind() const override { return "etcd"; }

 private:
  // kUnavailable naming the endpoints, what was being done, and gRPC's status.
  Status Unreachable(const std::string& doing, const grpc::Status& s) const {
    return Status::Unavailable("etcd at " + JoinEndpoints(client_->options.endpoints) + ": " +
                               doing + ": " + Describe(s));
  }

  std::shared_ptr<const EtcdClient> client_;
};

}  // namespace

Result<std::unique_ptr<Discovery>> NewEtcdDiscovery(const EtcdOptions& options) {
  if (options.endpoints.empty()) return Status::InvalidArgument("etcd: no endpoint");
  for (const auto& e : options.endpoints) {
    if (e.empty()) return Status::InvalidArgument("etcd: empty endpoint");
  }
  if (options.prefix.empty()) return Status::InvalidArgument("etcd: empty key prefix");
  if (options.lease_ttl_s < 1) return Status::InvalidArgument("etcd: lease_ttl_s must be >= 1");
  MINT_ASSIGN_OR_RETURN(const std::string target, ChannelTarget(options.endpoints));
  auto client = std::make_shared<EtcdClient>();
  client->options = options;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(kBackoffMin.count()));
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: it is also the connect timeout, and 100 ms is too short
  // for a handshake on a loaded machine.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(kBackoffMax.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  // A channel per Discovery object: handles from different objects never share a connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto creds = PlaneChannelCredentials(options.tls, &args, options.tls_server_name);
  client->channel = grpc::CreateCustomChannel(target, creds, args);
  client->kv = etcdserverpb::KV::NewStub(client->channel);
  client->lease = etcdserverpb::Lease::NewStub(client->channel);
  client->watch = etcdserverpb::Watch::NewStub(client->channel);
  return std::unique_ptr<Discovery>(new EtcdDiscovery(std::move(client)));
}

}  // namespace mint::runtime
