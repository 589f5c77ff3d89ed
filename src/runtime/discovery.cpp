#include "runtime/discovery.h"

#include <algorithm>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

namespace mint::runtime {

std::string WorkerInfo::ToJson() const {
  nlohmann::json j = {{"id", id},
                      {"model", model},
                      {"role", role},
                      {"request_address", request_address},
                      {"events_address", events_address},
                      {"metrics_url", metrics_url},
                      {"block_size", block_size},
                      {"max_model_len", max_model_len},
                      {"host", host},
                      {"pid", pid}};
  return j.dump();
}

Result<WorkerInfo> WorkerInfo::FromJson(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Corruption("worker registration is not a JSON object");
  WorkerInfo w;
  try {
    w.id = j.at("id").get<std::string>();
    w.model = j.at("model").get<std::string>();
    w.role = j.value("role", std::string("agg"));
    w.request_address = j.at("request_address").get<std::string>();
    w.events_address = j.value("events_address", std::string());
    w.metrics_url = j.value("metrics_url", std::string());
    w.block_size = j.value("block_size", 0);
    w.max_model_len = j.value("max_model_len", int64_t{0});
    w.host = j.value("host", std::string());
    w.pid = j.value("pid", int64_t{0});
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("worker registration: ") + e.what());
  }
  if (w.id.empty() || w.request_address.empty())
    return Status::Corruption("worker registration lacks an id or a request address");
  return w;
}

namespace {

// The embedded registry: a map guarded by a mutex; watchers are called synchronously, in
// registration order, under a separate mutex so callbacks never overlap.
class EmbeddedDiscovery : public Discovery {
 public:
  Result<std::unique_ptr<Handle>> Register(const WorkerInfo& info) override {
    if (info.id.empty()) return Status::InvalidArgument("worker id is empty");
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (workers_.count(info.id)) return Status::InvalidArgument("worker id already registered: " + info.id);
      workers_[info.id] = info;
    }
    Notify();
    return std::unique_ptr<Handle>(new Registration(this, info.id));
  }

  Result<std::unique_ptr<Handle>> Watch(MembershipCallback on_change) override {
    uint64_t id;
    {
      std::lock_guard<std::mutex> lk(notify_mu_);
      id = next_watch_++;
      watchers_[id] = std::move(on_change);
      watchers_[id](Current());
    }
    return std::unique_ptr<Handle>(new WatchHandle(this, id));
  }

  Status PutValue(const std::string& key, const std::string& value) override {
    std::lock_guard<std::mutex> lk(mu_);
    values_[key] = value;
    return Status::Ok();
  }
  Result<std::optional<std::string>> GetValue(const std::string& key) override {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = values_.find(key);
    if (it == values_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  std::string_view kind() const override { return "embedded"; }

 private:
  class Registration : public Handle {
   public:
    Registration(EmbeddedDiscovery* d, std::string id) : d_(d), id_(std::move(id)) {}
    ~Registration() override {
      {
        std::lock_guard<std::mutex> lk(d_->mu_);
        d_->workers_.erase(id_);
      }
      d_->Notify();
    }

   private:
    EmbeddedDiscovery* d_;
    std::string id_;
  };
  class WatchHandle : public Handle {
   public:
    WatchHandle(EmbeddedDiscovery* d, uint64_t id) : d_(d), id_(id) {}
    ~WatchHandle() override {
      std::lock_guard<std::mutex> lk(d_->notify_mu_);
      d_->watchers_.erase(id_);
    }

   private:
    EmbeddedDiscovery* d_;
    uint64_t id_;
  };

  Membership Current() {
    std::lock_guard<std::mutex> lk(mu_);
    Membership m;
    for (const auto& [id, w] : workers_) m.push_back(w);
    return m;
  }
  void Notify() {
    std::lock_guard<std::mutex> lk(notify_mu_);
    Membership m = Current();
    for (auto& [id, cb] : watchers_) cb(m);
  }

  std::mutex mu_;
  std::map<std::string, WorkerInfo> workers_;  // guarded by mu_
  std::map<std::string, std::string> values_;  // guarded by mu_
  std::mutex notify_mu_;                       // serializes callbacks; guards watchers_
  std::map<uint64_t, MembershipCallback> watchers_;
  uint64_t next_watch_ = 0;
};

}  // namespace

std::unique_ptr<Discovery> NewEmbeddedDiscovery() { return std::make_unique<EmbeddedDiscovery>(); }

}  // namespace mint::runtime
