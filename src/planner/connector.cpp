#include "planner/connector.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/host.h"

extern char** environ;

namespace mint::planner {
namespace {

bool IsRegistered(int64_t pid, const runtime::Membership& members) {
  return std::any_of(members.begin(), members.end(),
                     [&](const runtime::WorkerInfo& w) { return w.pid == pid; });
}

}  // namespace

Result<std::string> EtcdConnector::Scale(const std::string& model, const std::string& role,
                                         int count, const runtime::Membership& /*members*/) {
  const std::string key = prefix_ + model + "/" + role;
  auto it = written_.find(key);
  if (it != written_.end() && it->second == count) return std::string();
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  MINT_RETURN_IF_ERROR(discovery_->PutValue(
      key, fmt::format("{{\"replicas\":{},\"updated\":{}}}", count,
                       std::chrono::duration_cast<std::chrono::seconds>(now).count())));
  written_[key] = count;
  return fmt::format("desired {} {} written to {}", count, role, key);
}

int EtcdConnector::Actual(const std::string& model, const std::string& role,
                          const runtime::Membership& members) {
  return static_cast<int>(std::count_if(members.begin(), members.end(), [&](const auto& w) {
    return w.model == model && w.role == role;
  }));
}

LocalConnector::LocalConnector(LocalConnectorOptions options)
    : options_(std::move(options)), host_(HostName()) {}

void LocalConnector::Reap() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    started_.erase(pid);
    stopping_.erase(pid);
  }
}

std::vector<const runtime::WorkerInfo*> LocalConnector::Registered(
    const std::string& model, const std::string& role, const runtime::Membership& members) const {
  std::vector<const runtime::WorkerInfo*> out;
  for (const runtime::WorkerInfo& w : members) {
    if (w.model == model && w.role == role && w.host == host_ && w.pid > 0 &&
        stopping_.count(w.pid) == 0) {
      out.push_back(&w);
    }
  }
  return out;
}

std::vector<int64_t> LocalConnector::Starting(const std::string& role,
                                              const runtime::Membership& members) {
  std::vector<int64_t> out;
  const auto now = Clock::now();
  for (auto it = started_.begin(); it != started_.end();) {
    const double age = std::chrono::duration<double>(now - it->second.at).count();
    if (IsRegistered(it->first, members) || age > options_.start_grace_s) {
      it = started_.erase(it);  // registered (counted there now), or given up on
      continue;
    }
    if (it->second.role == role && stopping_.count(it->first) == 0) out.push_back(it->first);
    ++it;
  }
  return out;
}

int LocalConnector::Actual(const std::string& model, const std::string& role,
                           const runtime::Membership& members) {
  Reap();
  // A stopped worker leaves discovery before it exits; forget it once gone from both.
  for (auto it = stopping_.begin(); it != stopping_.end();) {
    it = IsRegistered(*it, members) || kill(static_cast<pid_t>(*it), 0) == 0 ? std::next(it)
                                                                             : stopping_.erase(it);
  }
  return static_cast<int>(Registered(model, role, members).size() + Starting(role, members).size());
}

Result<std::string> LocalConnector::Scale(const std::string& model, const std::string& role,
                                          int count, const runtime::Membership& members) {
  const int actual = Actual(model, role, members);
  std::string did;
  if (count > actual) {
    auto cmd = options_.commands.find(role);
    if (cmd == options_.commands.end() || cmd->second.empty()) {
      return Status::InvalidArgument("no command to start a " + role + " worker (--" + role +
                                     "-command)");
    }
    std::vector<int64_t> pids;
    for (int i = actual; i < count; ++i) {
      posix_spawn_file_actions_t fa;
      posix_spawnattr_t attr;
      posix_spawn_file_actions_init(&fa);
      posix_spawnattr_init(&attr);
      // Its own session (outlives the planner), no signal blocked (the planner blocks SIGTERM
      // to wait for it), default dispositions.
      sigset_t none, defaults;
      sigemptyset(&none);
      sigemptyset(&defaults);
      sigaddset(&defaults, SIGTERM);
      sigaddset(&defaults, SIGINT);
      posix_spawnattr_setsigmask(&attr, &none);
      posix_spawnattr_setsigdefault(&attr, &defaults);
      posix_spawnattr_setflags(&attr,
                               POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
      const std::string log =
          fmt::format("{}/planner-{}-{}-{}.log", options_.log_dir, role, getpid(), started_.size());
      posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(),
                                       O_WRONLY | O_CREAT | O_APPEND, 0644);
      posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
      posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
      // Nothing else of the planner's (its /metrics listener, its etcd connections) goes with
      // the worker: a worker outliving the planner would otherwise hold the planner's port.
      posix_spawn_file_actions_addclosefrom_np(&fa, 3);
      const char* argv[] = {"/bin/sh", "-c", cmd->second.c_str(), nullptr};
      pid_t pid = 0;
      const int rc =
          posix_spawn(&pid, "/bin/sh", &fa, &attr, const_cast<char* const*>(argv), environ);
      posix_spawn_file_actions_destroy(&fa);
      posix_spawnattr_destroy(&attr);
      if (rc != 0) {
        return Status::IoError(fmt::format("cannot start a {} worker: {}", role, strerror(rc)));
      }
      started_[pid] = {.role = role, .at = Clock::now()};
      pids.push_back(pid);
    }
    did = fmt::format("started {} {} worker(s) (pid {})", pids.size(), role, fmt::join(pids, ", "));
  } else if (count < actual) {
    // Not-yet-registered processes first (newest first), then registered ones, newest id last.
    std::vector<int64_t> victims;
    std::vector<int64_t> starting = Starting(role, members);
    std::sort(starting.rbegin(), starting.rend());
    for (int64_t pid : starting) victims.push_back(pid);
    std::vector<const runtime::WorkerInfo*> registered = Registered(model, role, members);
    for (auto it = registered.rbegin(); it != registered.rend(); ++it) {
      victims.push_back((*it)->pid);
    }
    victims.resize(std::min<size_t>(victims.size(), static_cast<size_t>(actual - count)));
    for (int64_t pid : victims) {
      kill(static_cast<pid_t>(pid), SIGTERM);
      stopping_.insert(pid);
      started_.erase(pid);
    }
    did = fmt::format("stopping {} {} worker(s) (SIGTERM to pid {})", victims.size(), role,
                      fmt::join(victims, ", "));
  }
  return did;
}

}  // namespace mint::planner
