#include "worker/worker_server.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "core/log.h"
#include "core/tsan.h"
#include "runtime/convert_events.h"
#include "runtime/request_plane.h"
#include "runtime/runtime.grpc.pb.h"
#include "worker/engine_adapter.h"

namespace mint::worker {

namespace pb = runtime::pb;

namespace {

// Appends `next` to `acc` (same request; consecutive outputs merge into one message).
void Merge(protocol::GenerateOutput& acc, protocol::GenerateOutput&& next) {
  acc.tokens.insert(acc.tokens.end(), next.tokens.begin(), next.tokens.end());
  for (auto& lp : next.logprobs) acc.logprobs.push_back(std::move(lp));
  acc.finish = next.finish;
  acc.error = std::move(next.error);
  acc.prompt_tokens = next.prompt_tokens;
  acc.cached_prompt_tokens = next.cached_prompt_tokens;
  acc.generated_tokens = next.generated_tokens;
  acc.kv_export_handle = std::move(next.kv_export_handle);
  acc.kv_import_failed = next.kv_import_failed;
}

class Service;

// One Generate call, with no thread of its own: the engine loop hands each output to Push, at most
// one write is in flight, and outputs that arrive meanwhile are merged into the next message. A
// call cancelled by its caller, or whose write fails, aborts its request in the engine. The state
// outlives the reactor (gRPC deletes it in OnDone) because the engine may still deliver the
// request's final output after the call has ended; it then goes nowhere.
class GenerateCall final : public grpc::ServerWriteReactor<pb::GenerateResponse> {
 public:
  static GenerateCall* Start(Service* service, const pb::GenerateRequest& req);

  void OnWriteDone(bool ok) override {
    TsanAcquire(this);
    {
      std::lock_guard<std::mutex> lk(s_->mu);
      s_->writing = false;
      if (!ok) s_->gone = true;  // the stream is gone (the caller went away)
    }
    if (!ok) AbortRequest();
    s_->Pump();
  }
  void OnCancel() override {
    TsanAcquire(this);
    {
      std::lock_guard<std::mutex> lk(s_->mu);
      s_->gone = true;
    }
    AbortRequest();
    s_->Pump();
  }
  void OnDone() override {
    TsanAcquire(this);
    delete this;
  }

 private:
  struct Shared {
    std::mutex mu;
    GenerateCall* call = nullptr;              // valid until `finished` is set
    std::deque<protocol::GenerateOutput> outputs;  // from the engine, not yet written
    pb::GenerateResponse msg;                  // the write in flight
    bool writing = false;    // a write is in flight: only its OnWriteDone starts the next step
    bool final_written = false;
    bool gone = false;       // cancelled by the caller or a write failed
    bool finished = false;   // Finish was called: nobody touches `call` again
    grpc::Status error = grpc::Status::OK;  // Submit refused the request

    // Starts the call's next operation, if one is due and none is in flight: the next (merged)
    // message, or Finish. The operation is started outside the lock; `writing` / `finished` make
    // the caller its only owner.
    void Pump() {
      enum { kNone, kWrite, kFinish } action = kNone;
      grpc::Status status;
      GenerateCall* c = nullptr;
      {
        std::lock_guard<std::mutex> lk(mu);
        if (finished || writing) return;
        c = call;
        if (!error.ok()) {
          status = error;
          action = kFinish;
        } else if (gone) {
          status = grpc::Status(grpc::StatusCode::CANCELLED, "request cancelled");
          action = kFinish;
        } else if (!outputs.empty()) {
          protocol::GenerateOutput out = std::move(outputs.front());
          outputs.pop_front();
          while (!outputs.empty() && out.finish == protocol::FinishReason::kNone) {
            Merge(out, std::move(outputs.front()));
            outputs.pop_front();
          }
          final_written = out.finish != protocol::FinishReason::kNone;
          msg = runtime::ToProto(out);
          writing = true;
          action = kWrite;
        } else if (final_written) {
          action = kFinish;
        }
        if (action == kFinish) finished = true;
      }
      TsanRelease(c);  // its reactions run on gRPC's threads
      if (action == kWrite) c->StartWrite(&msg);
      if (action == kFinish) c->Finish(std::move(status));
    }
  };

  GenerateCall(Service* service, std::shared_ptr<Shared> s)
      : service_(service), s_(std::move(s)) {}
  void AbortRequest();

  Service* service_;
  std::shared_ptr<Shared> s_;
  uint64_t id_ = 0;
  bool submitted_ = false;
  std::atomic<bool> aborted_{false};
};

class Service final : public pb::Worker::WithCallbackMethod_Generate<pb::Worker::Service> {
 public:
  Service(engine::Engine* engine, WorkerServerOptions options)
      : engine_(engine), options_(std::move(options)) {}

  grpc::ServerWriteReactor<pb::GenerateResponse>* Generate(
      grpc::CallbackServerContext*, const pb::GenerateRequest* req) override {
    return GenerateCall::Start(this, *req);
  }

  grpc::Status Health(grpc::ServerContext*, const pb::HealthRequest*,
                      pb::HealthResponse* resp) override {
    resp->set_worker_id(options_.worker_id);
    resp->set_model(options_.model_name);
    resp->set_serving(true);
    const engine::EngineMetrics m = engine_->Metrics();
    auto* load = resp->mutable_load();
    load->set_worker_id(options_.worker_id);
    load->set_running(m.running);
    load->set_waiting(m.waiting);
    load->set_kv_blocks_used(m.blocks.used);
    load->set_kv_blocks_total(m.blocks.num_blocks);
    load->set_kv_usage(m.blocks.usage());
    load->set_prefill_tokens_queued(m.waiting_prefill_tokens);
    return grpc::Status::OK;
  }

  grpc::Status GetKvSnapshot(grpc::ServerContext*, const pb::KvSnapshotRequest*,
                             pb::KvSnapshot* resp) override {
    // Subscribing returns what is cached now, consistent with the event ids.
    struct Ignore : engine::KvEventSink {
      void OnKvEvent(const engine::KvEvent&) override {}
    } sink;
    engine::KvSnapshot snap = engine_->SubscribeKvEvents(&sink);
    engine_->UnsubscribeKvEvents(&sink);
    *resp = runtime::ToProto(snap);
    return grpc::Status::OK;
  }

  WorkerServerStats stats() const {
    return {.requests = requests_.load(), .cancelled = cancelled_.load(),
            .rejected = rejected_.load()};
  }

 private:
  friend class GenerateCall;
  engine::Engine* engine_;
  WorkerServerOptions options_;
  std::atomic<uint64_t> requests_{0}, cancelled_{0}, rejected_{0};
};

GenerateCall* GenerateCall::Start(Service* service, const pb::GenerateRequest& req) {
  TsanAcquire(service);  // gRPC's callback threads are shared by every server in the process
  auto s = std::make_shared<Shared>();
  auto* call = new GenerateCall(service, s);
  s->call = call;
  // Outputs may arrive on the engine loop before Submit returns; Push only queues and pumps
  // (operations started before gRPC binds the reactor are held back by gRPC until it does).
  auto id = service->engine_->Submit(ToEngine(runtime::FromProto(req)),
                                     [s](const engine::RequestOutput& o) {
                                       {
                                         std::lock_guard<std::mutex> lk(s->mu);
                                         if (s->finished || s->gone) return;
                                         s->outputs.push_back(FromEngine(o));
                                       }
                                       s->Pump();
                                     });
  if (!id.ok()) {
    service->rejected_.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(s->mu);
      s->error = runtime::ToGrpc(id.status());
    }
  } else {
    service->requests_.fetch_add(1, std::memory_order_relaxed);
    call->id_ = *id;
    call->submitted_ = true;
  }
  s->Pump();
  TsanRelease(call);
  return call;
}

void GenerateCall::AbortRequest() {
  if (!submitted_ || aborted_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lk(s_->mu);
    if (s_->final_written) return;  // it ended on its own: nothing to abort
  }
  service_->engine_->Abort(id_);
  service_->cancelled_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

struct WorkerServer::Impl {
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  int drain_ms = 0;
  std::once_flag shutdown_once;
};

WorkerServer::WorkerServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WorkerServer::~WorkerServer() { Shutdown(); }

Result<std::unique_ptr<WorkerServer>> WorkerServer::Start(engine::Engine* engine,
                                                          const WorkerServerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->service = std::make_unique<Service>(engine, options);
  TsanRelease(impl->service.get());  // its handlers may run on gRPC threads that already exist
  impl->drain_ms = options.drain_ms;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.bind, runtime::PlaneServerCredentials(options.tls), &impl->port);
  builder.RegisterService(impl->service.get());
  // Frontends ping every few seconds to notice a lost worker; allow it.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    return Status::Unavailable("cannot listen for the request plane on " + options.bind);
  }
  return std::unique_ptr<WorkerServer>(new WorkerServer(std::move(impl)));
}

int WorkerServer::port() const { return impl_->port; }

void WorkerServer::Shutdown() {
  std::call_once(impl_->shutdown_once, [this] {
    // Calls still running get cancelled after the deadline; their handlers abort the requests.
    impl_->server->Shutdown(std::chrono::system_clock::now() +
                            std::chrono::milliseconds(impl_->drain_ms));
    impl_->server->Wait();
  });
}

WorkerServerStats WorkerServer::stats() const { return impl_->service->stats(); }

}  // namespace mint::worker
