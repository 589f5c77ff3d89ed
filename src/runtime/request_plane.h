// The request plane: the gRPC `Worker` service's messages <-> protocol types, status mapping, and
// channels to workers. The service itself (worker side) lives in src/worker; the client side is
// runtime::WorkerClient (worker_client.h), which the frontend's RemoteBackend uses.
//
// Thread-safety: free functions on values.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "core/status.h"
#include "protocol/generate.h"
#include "runtime/plane_tls.h"
#include "runtime/runtime.grpc.pb.h"

namespace mint::runtime {

pb::GenerateRequest ToProto(const protocol::GenerateRequest& request);
protocol::GenerateRequest FromProto(const pb::GenerateRequest& request);
pb::GenerateResponse ToProto(const protocol::GenerateOutput& output);
// request_id is left 0: ids are the caller's business on each side.
protocol::GenerateOutput FromProto(const pb::GenerateResponse& response);

// Plaintext when `tls` is not enabled; else TLS that requires and verifies a client certificate.
std::shared_ptr<grpc::ServerCredentials> PlaneServerCredentials(const PlaneTls& tls);
// Plaintext when `tls` is not enabled; else TLS with `tls`'s certificate as the client's,
// verifying the server against its CA under `server_name` (set on `args`; empty: the name in
// the channel's target). The request plane's peers all carry kPlaneTlsName.
std::shared_ptr<grpc::ChannelCredentials> PlaneChannelCredentials(
    const PlaneTls& tls, grpc::ChannelArguments* args,
    const std::string& server_name = kPlaneTlsName);

// TLS handshakes on the request plane that failed in this process, as gRPC's TLS layer reports
// them: a plaintext or foreign caller refused by a worker here, or a worker that refused this
// process. Counted (and logged as a warning) from the first TLS credentials made on; gRPC's other
// log lines go to Mint's log from then on too.
uint64_t PlaneTlsHandshakeFailures();

grpc::Status ToGrpc(const Status& status);
Status FromGrpc(const grpc::Status& status);

// A channel to a worker (internal plane) with keep-alive pings, so a worker that vanishes without
// closing its sockets (host lost, network cut) is noticed within ~`keepalive_ms` * 2. Mutual TLS
// when `tls` is enabled (plane_tls.h), else plaintext.
std::shared_ptr<grpc::Channel> MakeWorkerChannel(const std::string& address, int keepalive_ms = 5000,
                                                 const PlaneTls& tls = {});

}  // namespace mint::runtime
