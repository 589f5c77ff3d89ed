#include "runtime/worker_client.h"

#include <mutex>

#include "core/tsan.h"
#include "runtime/convert_events.h"
#include "runtime/request_plane.h"

namespace mint::runtime {
namespace {

StreamEnd Classify(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return StreamEnd::kOk;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return StreamEnd::kDeadline;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::NOT_FOUND:
      return StreamEnd::kRejected;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return StreamEnd::kBusy;
    default:
      return StreamEnd::kLost;
  }
}

// One Generate call read by a reactor. gRPC runs its reactions one after another on its own
// threads; the owner deletes it after on_done (WorkerClient::NewGenerate says where).
class Stream final : public GenerateStream, public grpc::ClientReadReactor<pb::GenerateResponse> {
 public:
  Stream(std::shared_ptr<pb::Worker::Stub> stub, pb::GenerateRequest req,
         std::optional<std::chrono::system_clock::time_point> deadline, Callbacks callbacks)
      : stub_(std::move(stub)), req_(std::move(req)), callbacks_(std::move(callbacks)) {
    if (deadline) ctx_.set_deadline(*deadline);
  }

  void Start() override {
    stub_->async()->Generate(&ctx_, &req_, this);
    TsanRelease(this);  // the reactions run on gRPC's threads, after this
    StartRead(&resp_);
    StartCall();
  }

  void Cancel() override { ctx_.TryCancel(); }

  void OnReadDone(bool ok) override {
    TsanAcquire(this);
    if (!ok) return;  // end of stream: OnDone follows
    callbacks_.on_output(runtime::FromProto(resp_));
    TsanRelease(this);
    StartRead(&resp_);
  }

  void OnDone(const grpc::Status& status) override {
    TsanAcquire(this);
    callbacks_.on_done(Classify(status), runtime::FromGrpc(status));
  }

 private:
  std::shared_ptr<pb::Worker::Stub> stub_;  // the channel outlives the call
  grpc::ClientContext ctx_;
  pb::GenerateRequest req_;
  pb::GenerateResponse resp_;
  Callbacks callbacks_;
};

}  // namespace

const char* StreamEndName(StreamEnd e) {
  switch (e) {
    case StreamEnd::kOk:
      return "ok";
    case StreamEnd::kDeadline:
      return "deadline";
    case StreamEnd::kRejected:
      return "rejected";
    case StreamEnd::kBusy:
      return "busy";
    case StreamEnd::kLost:
      return "lost";
  }
  return "?";
}

struct WorkerClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::shared_ptr<pb::Worker::Stub> stub;
};

WorkerClient::WorkerClient(const std::string& address, int keepalive_ms, const PlaneTls& tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->channel = MakeWorkerChannel(address, keepalive_ms, tls);
  impl_->stub = pb::Worker::NewStub(impl_->channel);
}

WorkerClient::~WorkerClient() = default;

std::unique_ptr<GenerateStream> WorkerClient::NewGenerate(
    const protocol::GenerateRequest& request, uint64_t request_id,
    std::optional<std::chrono::system_clock::time_point> deadline,
    GenerateStream::Callbacks callbacks) {
  pb::GenerateRequest req = ToProto(request);
  req.set_request_id(std::to_string(request_id));
  return std::make_unique<Stream>(impl_->stub, std::move(req), deadline, std::move(callbacks));
}

Result<engine::KvSnapshot> WorkerClient::KvSnapshot(std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  pb::KvSnapshot snap;
  grpc::Status st = impl_->stub->GetKvSnapshot(&ctx, pb::KvSnapshotRequest(), &snap);
  if (!st.ok()) return FromGrpc(st);
  return runtime::FromProto(snap);
}

}  // namespace mint::runtime
