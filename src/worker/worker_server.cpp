#include "worker/worker_server.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "core/log.h"
#include "runtime/convert_events.h"
#include "runtime/request_plane.h"
#include "runtime/runtime.grpc.pb.h"

namespace mint::worker {

namespace pb = runtime::pb;

namespace {

// Outputs of one request, handed from the engine loop to the call's handler thread.
struct OutputQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<engine::RequestOutput> outputs;
};

// Appends `next` to `acc` (same request; consecutive outputs merge into one message).
void Merge(engine::RequestOutput& acc, engine::RequestOutput&& next) {
  acc.tokens.insert(acc.tokens.end(), next.tokens.begin(), next.tokens.end());
  for (auto& lp : next.logprobs) acc.logprobs.push_back(std::move(lp));
  acc.finish = next.finish;
  acc.error = std::move(next.error);
  acc.prompt_tokens = next.prompt_tokens;
  acc.cached_prompt_tokens = next.cached_prompt_tokens;
  acc.generated_tokens = next.generated_tokens;
}

class Service final : public pb::Worker::Service {
 public:
  Service(engine::Engine* engine, WorkerServerOptions options)
      : engine_(engine), options_(std::move(options)) {}

  grpc::Status Generate(grpc::ServerContext* ctx, const pb::GenerateRequest* req,
                        grpc::ServerWriter<pb::GenerateResponse>* writer) override {
    auto q = std::make_shared<OutputQueue>();
    auto id = engine_->Submit(runtime::FromProto(*req), [q](const engine::RequestOutput& o) {
      {
        std::lock_guard<std::mutex> lk(q->mu);
        q->outputs.push_back(o);
      }
      q->cv.notify_one();
    });
    if (!id.ok()) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      return runtime::ToGrpc(id.status());
    }
    requests_.fetch_add(1, std::memory_order_relaxed);
    bool aborted = false;
    for (;;) {
      engine::RequestOutput out;
      bool have = false;
      {
        std::unique_lock<std::mutex> lk(q->mu);
        // The wait is bounded so a cancelled call is noticed without an output to wake us.
        q->cv.wait_for(lk, std::chrono::milliseconds(50), [&] { return !q->outputs.empty(); });
        while (!q->outputs.empty()) {
          if (!have) {
            out = std::move(q->outputs.front());
            have = true;
          } else {
            Merge(out, std::move(q->outputs.front()));
          }
          q->outputs.pop_front();
          if (out.finish != engine::FinishReason::kNone) break;
        }
      }
      if (!aborted && ctx->IsCancelled()) {
        engine_->Abort(*id);
        aborted = true;
        cancelled_.fetch_add(1, std::memory_order_relaxed);
      }
      if (!have) continue;
      const bool final = out.finish != engine::FinishReason::kNone;
      if (!aborted && !writer->Write(runtime::ToProto(out))) {
        // The stream is gone (the caller went away): stop generating for nobody.
        engine_->Abort(*id);
        aborted = true;
        cancelled_.fetch_add(1, std::memory_order_relaxed);
      }
      if (final) break;
    }
    return aborted ? grpc::Status(grpc::StatusCode::CANCELLED, "request cancelled")
                   : grpc::Status::OK;
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
  engine::Engine* engine_;
  WorkerServerOptions options_;
  std::atomic<uint64_t> requests_{0}, cancelled_{0}, rejected_{0};
};

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
