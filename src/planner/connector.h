// How the planner acts: a connector makes a role have N workers.
//
//  - LocalConnector starts `mint worker` / `mint mocker` processes on this host from a template
//    command per role (run by /bin/sh, one worker per process, in a session of its own so they
//    outlive the planner), and stops them with SIGTERM (a worker deregisters, drains and exits;
//    the frontend migrates what it still had). It counts the workers registered in discovery
//    (WorkerInfo host and pid), plus the processes it started that have not registered yet
//    (for `start_grace_s`), minus those it is stopping: so a restarted planner adopts the
//    running workers instead of starting duplicates.
//  - EtcdConnector (Dynamo's "virtual" connector) starts and stops nothing: it writes each
//    role's desired count under <prefix><model>/<role> as {"replicas": N, "updated": unix
//    seconds}, for an external launcher (a Kubernetes operator, systemd units) to reconcile
//    from, and counts the role's registered workers.
//
// Thread-safety: one planner loop calls a connector.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/discovery.h"

namespace mint::planner {

class Connector {
 public:
  virtual ~Connector() = default;
  // Asks for `count` workers of `role` (model `model`), given the registered workers now.
  // Returns what it did in words ("" when nothing), or an error (a command that could not start).
  virtual Result<std::string> Scale(const std::string& model, const std::string& role, int count,
                                    const runtime::Membership& members) = 0;
  // Workers of `role` counted as there (registered, plus starting, minus stopping).
  virtual int Actual(const std::string& model, const std::string& role,
                     const runtime::Membership& members) = 0;
};

class EtcdConnector final : public Connector {
 public:
  // `discovery` (the planner's, etcd) must outlive the connector.
  EtcdConnector(runtime::Discovery* discovery, std::string prefix)
      : discovery_(discovery), prefix_(std::move(prefix)) {}
  Result<std::string> Scale(const std::string& model, const std::string& role, int count,
                            const runtime::Membership& members) override;
  int Actual(const std::string& model, const std::string& role,
             const runtime::Membership& members) override;

 private:
  runtime::Discovery* discovery_;
  std::string prefix_;
  std::map<std::string, int> written_;  // key -> the count last written
};

struct LocalConnectorOptions {
  std::map<std::string, std::string> commands;  // role -> shell command line
  std::string log_dir = ".";                    // planner-<role>-<pid>.log per process
  double start_grace_s = 120;  // a started process counts this long before it registers
};

class LocalConnector final : public Connector {
 public:
  explicit LocalConnector(LocalConnectorOptions options);
  Result<std::string> Scale(const std::string& model, const std::string& role, int count,
                            const runtime::Membership& members) override;
  int Actual(const std::string& model, const std::string& role,
             const runtime::Membership& members) override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Started {
    std::string role;
    Clock::time_point at;
  };
  void Reap();
  // This host's registered workers of the role that are not being stopped, newest id last.
  std::vector<const runtime::WorkerInfo*> Registered(const std::string& model,
                                                     const std::string& role,
                                                     const runtime::Membership& members) const;
  std::vector<int64_t> Starting(const std::string& role, const runtime::Membership& members);

  LocalConnectorOptions options_;
  std::string host_;
  std::map<int64_t, Started> started_;  // pid -> what and when, until it registers or exits
  std::set<int64_t> stopping_;          // pids sent SIGTERM, until they leave discovery or exit
};

}  // namespace mint::planner
