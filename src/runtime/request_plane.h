// The request plane: the gRPC `Worker` service's messages <-> engine types, status mapping, and
// channels to workers. The service itself (worker side) lives in src/worker; the client side is
// the frontend's RemoteBackend.
//
// Thread-safety: free functions on values.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "core/status.h"
#include "engine/engine.h"
#include "runtime/runtime.grpc.pb.h"

namespace mint::runtime {

pb::GenerateRequest ToProto(const engine::Request& request);
engine::Request FromProto(const pb::GenerateRequest& request);
pb::GenerateResponse ToProto(const engine::RequestOutput& output);
// request_id is left 0: ids are the caller's business on each side.
engine::RequestOutput FromProto(const pb::GenerateResponse& response);

grpc::Status ToGrpc(const Status& status);
Status FromGrpc(const grpc::Status& status);

// An insecure channel (internal plane) with keep-alive pings, so a worker that vanishes without
// closing its sockets (host lost, network cut) is noticed within ~`keepalive_ms` * 2.
std::shared_ptr<grpc::Channel> MakeWorkerChannel(const std::string& address, int keepalive_ms = 5000);

}  // namespace mint::runtime
