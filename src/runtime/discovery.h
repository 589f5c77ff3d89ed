// Discovery: how workers announce themselves and how a frontend finds them.
//
// Two implementations behind one interface:
//   embedded — an in-process registry (`mint serve`, tests); no external service.
//   etcd     — etcd v3 through its gRPC API (stubs generated at build time from the etcd protos
//              Debian ships); registrations live under a lease with keep-alive, so a worker that
//              dies disappears within the lease TTL.
//
// A worker Register()s its WorkerInfo and keeps the returned handle: destroying it removes the
// registration at once. A frontend Watch()es: the callback gets the whole membership on start
// and after every change. If the discovery service goes away, a watch keeps the membership it
// last saw (it reports nothing) and resumes, with a fresh full membership, when it returns; a
// registration re-announces itself when the service returns.
//
// Thread-safety: every method may be called from any thread. Watch callbacks arrive on a
// discovery thread, one at a time, and must not call back into the Discovery object.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runtime/plane_tls.h"

namespace mint::runtime {

struct WorkerInfo {
  std::string id;               // unique per worker process, e.g. "host-pid-random"
  std::string model;            // the model name it serves (what clients put in "model")
  std::string role = "agg";     // agg | prefill | decode
  std::string request_address;  // host:port of its gRPC `Worker` service
  std::string events_address;   // ZeroMQ PUB endpoint ("tcp://host:port"); empty: no events
  std::string metrics_url;      // its Prometheus endpoint; empty: none
  int32_t block_size = 0;       // KV block size, tokens
  int64_t max_model_len = 0;
  // The process serving it (a local launcher such as the planner's stops it by pid); 0 / empty:
  // not announced.
  std::string host;
  int64_t pid = 0;

  std::string ToJson() const;
  static Result<WorkerInfo> FromJson(std::string_view json);
  bool operator==(const WorkerInfo&) const = default;
};

// All registered workers, sorted by id.
using Membership = std::vector<WorkerInfo>;
using MembershipCallback = std::function<void(const Membership&)>;

// Ends what it stands for (a registration, a watch) when destroyed.
class Handle {
 public:
  virtual ~Handle() = default;
};

class Discovery {
 public:
  virtual ~Discovery() = default;
  // Announces `info` until the handle is destroyed. Fails (kUnavailable) if the service cannot
  // be reached now, kInvalidArgument if info.id is empty.
  virtual Result<std::unique_ptr<Handle>> Register(const WorkerInfo& info) = 0;
  // Calls `on_change` with the current membership and again after every change, until the handle
  // is destroyed (no call is in progress or follows once the destructor returns).
  virtual Result<std::unique_ptr<Handle>> Watch(MembershipCallback on_change) = 0;
  // A plain value under `key` (a whole key, not under the registrations' prefix), outside any
  // lease: what the planner's etcd connector writes for an external launcher to reconcile from.
  // kUnavailable if the service cannot be reached now.
  virtual Status PutValue(const std::string& key, const std::string& value) = 0;
  // The value under `key`; nullopt if there is none.
  virtual Result<std::optional<std::string>> GetValue(const std::string& key) = 0;
  // "embedded" or "etcd".
  virtual std::string_view kind() const = 0;
};

std::unique_ptr<Discovery> NewEmbeddedDiscovery();

struct EtcdOptions {
  std::vector<std::string> endpoints = {"127.0.0.1:2379"};  // host:port of etcd client URLs
  std::string prefix = "/mint/workers/";                    // keys are prefix + worker id
  int64_t lease_ttl_s = 10;                                 // a dead worker is gone within this
  // TLS to etcd (https client URLs), with this client certificate when etcd runs with
  // --client-cert-auth. Disabled: plaintext.
  PlaneTls tls{};
  // The name etcd's certificate must carry; empty: the endpoint's host. Certificates from
  // `mint certs` carry kPlaneTlsName.
  std::string tls_server_name{};
};

// Connects lazily; fails only on invalid options. Defined in etcd_discovery.cpp.
Result<std::unique_ptr<Discovery>> NewEtcdDiscovery(const EtcdOptions& options);

}  // namespace mint::runtime
