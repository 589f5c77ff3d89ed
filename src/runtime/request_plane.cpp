#include "runtime/request_plane.h"

#include <atomic>
#include <mutex>
#include <string_view>

#include <grpc/support/log.h>

#include "core/log.h"

namespace mint::runtime {

namespace {

std::atomic<uint64_t> g_tls_handshake_failures{0};

// gRPC core's log lines, in Mint's log; a failed TLS handshake (gRPC's "Handshake failed ...",
// logged by its TLS layer for a refused peer on either side) is counted too.
void GrpcLog(gpr_log_func_args* args) {
  std::string_view msg = args->message != nullptr ? args->message : "";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.remove_suffix(1);
  if (msg.find("Handshake failed") != std::string_view::npos) {
    g_tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
    log::Warn("request plane: TLS handshake refused: {}", msg);
    return;
  }
  switch (args->severity) {
    case GPR_LOG_SEVERITY_ERROR: log::Error("grpc: {}", msg); break;
    case GPR_LOG_SEVERITY_INFO: log::Info("grpc: {}", msg); break;
    default: log::Debug("grpc: {}", msg); break;
  }
}

void RouteGrpcLog() {
  static std::once_flag once;
  std::call_once(once, [] { gpr_set_log_function(GrpcLog); });
}

}  // namespace

uint64_t PlaneTlsHandshakeFailures() {
  return g_tls_handshake_failures.load(std::memory_order_relaxed);
}

pb::GenerateRequest ToProto(const protocol::GenerateRequest& r) {
  pb::GenerateRequest p;
  p.mutable_prompt()->Add(r.prompt.begin(), r.prompt.end());
  auto* s = p.mutable_sampling();
  s->set_temperature(r.sampling.temperature);
  s->set_top_k(r.sampling.top_k);
  s->set_top_p(r.sampling.top_p);
  s->set_min_p(r.sampling.min_p);
  s->set_repetition_penalty(r.sampling.repetition_penalty);
  s->set_frequency_penalty(r.sampling.frequency_penalty);
  s->set_presence_penalty(r.sampling.presence_penalty);
  s->set_seed(r.sampling.seed);
  s->set_has_seed(r.sampling.has_seed);
  p.set_max_tokens(r.max_tokens);
  p.mutable_stop_token_ids()->Add(r.stop_token_ids.begin(), r.stop_token_ids.end());
  p.set_logprobs(r.logprobs);
  p.set_priority(r.priority);
  p.set_kv_export(r.kv_export);
  p.set_kv_import(r.kv_import);
  p.set_kv_import_tokens(r.kv_import_tokens);
  p.set_grammar(r.grammar);
  p.set_grammar_generated(r.grammar_generated);
  p.set_grammar_trigger(r.grammar_trigger);
  return p;
}

protocol::GenerateRequest FromProto(const pb::GenerateRequest& p) {
  protocol::GenerateRequest r;
  r.prompt.assign(p.prompt().begin(), p.prompt().end());
  const auto& s = p.sampling();
  r.sampling.temperature = s.temperature();
  r.sampling.top_k = s.top_k();
  r.sampling.top_p = s.top_p();
  r.sampling.min_p = s.min_p();
  r.sampling.repetition_penalty = s.repetition_penalty();
  r.sampling.frequency_penalty = s.frequency_penalty();
  r.sampling.presence_penalty = s.presence_penalty();
  r.sampling.seed = s.seed();
  r.sampling.has_seed = s.has_seed();
  r.max_tokens = p.max_tokens();
  r.stop_token_ids.assign(p.stop_token_ids().begin(), p.stop_token_ids().end());
  r.logprobs = p.logprobs();
  r.priority = p.priority();
  r.kv_export = p.kv_export();
  r.kv_import = p.kv_import();
  r.kv_import_tokens = p.kv_import_tokens();
  r.grammar = p.grammar();
  r.grammar_generated = p.grammar_generated();
  r.grammar_trigger = p.grammar_trigger();
  return r;
}

namespace {

pb::FinishReason ToProto(protocol::FinishReason f) {
  switch (f) {
    case protocol::FinishReason::kNone:
      return pb::FINISH_NONE;
    case protocol::FinishReason::kStop:
      return pb::FINISH_STOP;
    case protocol::FinishReason::kLength:
      return pb::FINISH_LENGTH;
    case protocol::FinishReason::kAbort:
      return pb::FINISH_ABORT;
    case protocol::FinishReason::kError:
      return pb::FINISH_ERROR;
  }
  return pb::FINISH_ERROR;
}

protocol::FinishReason FromProto(pb::FinishReason f) {
  switch (f) {
    case pb::FINISH_NONE:
      return protocol::FinishReason::kNone;
    case pb::FINISH_STOP:
      return protocol::FinishReason::kStop;
    case pb::FINISH_LENGTH:
      return protocol::FinishReason::kLength;
    case pb::FINISH_ABORT:
      return protocol::FinishReason::kAbort;
    default:
      return protocol::FinishReason::kError;
  }
}

}  // namespace

pb::GenerateResponse ToProto(const protocol::GenerateOutput& o) {
  pb::GenerateResponse p;
  p.mutable_tokens()->Add(o.tokens.begin(), o.tokens.end());
  for (const auto& lp : o.logprobs) {
    auto* l = p.add_logprobs();
    l->set_token(lp.token);
    l->set_logprob(lp.logprob);
    for (const auto& [t, v] : lp.top) {
      auto* top = l->add_top();
      top->set_token(t);
      top->set_logprob(v);
    }
  }
  p.set_finish(ToProto(o.finish));
  if (!o.error.ok()) {
    p.set_error(o.error.message());
    p.set_error_code(static_cast<int32_t>(o.error.code()));
  }
  p.set_prompt_tokens(o.prompt_tokens);
  p.set_cached_prompt_tokens(o.cached_prompt_tokens);
  p.set_generated_tokens(o.generated_tokens);
  p.set_kv_export_handle(o.kv_export_handle);
  p.set_kv_import_failed(o.kv_import_failed);
  return p;
}

protocol::GenerateOutput FromProto(const pb::GenerateResponse& p) {
  protocol::GenerateOutput o;
  o.tokens.assign(p.tokens().begin(), p.tokens().end());
  for (const auto& l : p.logprobs()) {
    protocol::TokenLogprob lp{.token = l.token(), .logprob = l.logprob(), .top = {}};
    for (const auto& t : l.top()) lp.top.emplace_back(t.token(), t.logprob());
    o.logprobs.push_back(std::move(lp));
  }
  o.finish = FromProto(p.finish());
  if (o.finish == protocol::FinishReason::kError) {
    int code = p.error_code();
    if (code <= 0 || code > static_cast<int>(StatusCode::kInternal)) code = static_cast<int>(StatusCode::kInternal);
    o.error = Status(static_cast<StatusCode>(code), p.error().empty() ? "worker error" : p.error());
  }
  o.prompt_tokens = p.prompt_tokens();
  o.cached_prompt_tokens = p.cached_prompt_tokens();
  o.generated_tokens = p.generated_tokens();
  o.kv_export_handle = p.kv_export_handle();
  o.kv_import_failed = p.kv_import_failed();
  return o;
}

grpc::Status ToGrpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  grpc::StatusCode c = grpc::StatusCode::INTERNAL;
  switch (s.code()) {
    case StatusCode::kInvalidArgument: c = grpc::StatusCode::INVALID_ARGUMENT; break;
    case StatusCode::kNotFound: c = grpc::StatusCode::NOT_FOUND; break;
    case StatusCode::kOutOfRange: c = grpc::StatusCode::OUT_OF_RANGE; break;
    case StatusCode::kUnsupported: c = grpc::StatusCode::UNIMPLEMENTED; break;
    case StatusCode::kResourceExhausted: c = grpc::StatusCode::RESOURCE_EXHAUSTED; break;
    case StatusCode::kUnavailable: c = grpc::StatusCode::UNAVAILABLE; break;
    case StatusCode::kCancelled: c = grpc::StatusCode::CANCELLED; break;
    default: c = grpc::StatusCode::INTERNAL; break;
  }
  return grpc::Status(c, s.message());
}

Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  const std::string& m = s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT: return Status::InvalidArgument(m);
    case grpc::StatusCode::NOT_FOUND: return Status::NotFound(m);
    case grpc::StatusCode::OUT_OF_RANGE: return Status::OutOfRange(m);
    case grpc::StatusCode::UNIMPLEMENTED: return Status::Unsupported(m);
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return Status::ResourceExhausted(m);
    case grpc::StatusCode::UNAVAILABLE: return Status::Unavailable(m);
    case grpc::StatusCode::CANCELLED: return Status::Cancelled(m);
    case grpc::StatusCode::DEADLINE_EXCEEDED: return Status::Unavailable("deadline exceeded: " + m);
    default: return Status::Internal(m);
  }
}

std::shared_ptr<grpc::ServerCredentials> PlaneServerCredentials(const PlaneTls& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  RouteGrpcLog();
  grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  o.pem_root_certs = tls.ca_pem;
  o.pem_key_cert_pairs.push_back({tls.key_pem, tls.cert_pem});
  return grpc::SslServerCredentials(o);
}

std::shared_ptr<grpc::ChannelCredentials> PlaneChannelCredentials(const PlaneTls& tls,
                                                                  grpc::ChannelArguments* args,
                                                                  const std::string& server_name) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  RouteGrpcLog();
  if (!server_name.empty()) args->SetSslTargetNameOverride(server_name);
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = tls.ca_pem;
  o.pem_private_key = tls.key_pem;
  o.pem_cert_chain = tls.cert_pem;
  return grpc::SslCredentials(o);
}

std::shared_ptr<grpc::Channel> MakeWorkerChannel(const std::string& address, int keepalive_ms,
                                                 const PlaneTls& tls) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnect quickly after a worker restarts on the same address.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  auto creds = PlaneChannelCredentials(tls, &args);
  return grpc::CreateCustomChannel(address, creds, args);
}

}  // namespace mint::runtime
