#include "frontend/api_error.h"

#include <nlohmann/json.hpp>

namespace mint::frontend {
namespace {

ApiError Make(int status, const char* type, std::string message, std::string param = "",
              std::string code = "") {
  return ApiError{.status = status,
                  .type = type,
                  .message = std::move(message),
                  .param = std::move(param),
                  .code = std::move(code)};
}

}  // namespace

ApiError ApiError::InvalidRequest(std::string param, std::string message) {
  return Make(400, "invalid_request_error", std::move(message), std::move(param));
}
ApiError ApiError::Unauthorized(std::string message) {
  return Make(401, "authentication_error", std::move(message), "", "invalid_api_key");
}
ApiError ApiError::ModelNotFound(const std::string& model) {
  return Make(404, "invalid_request_error", "The model '" + model + "' does not exist", "model",
              "model_not_found");
}
ApiError ApiError::NotFound(std::string message) {
  return Make(404, "invalid_request_error", std::move(message));
}
ApiError ApiError::MethodNotAllowed(std::string message) {
  return Make(405, "invalid_request_error", std::move(message));
}
ApiError ApiError::PayloadTooLarge(size_t size, size_t limit) {
  return Make(413, "invalid_request_error",
              "request body is " + std::to_string(size) + " bytes; the limit is " +
                  std::to_string(limit) + " bytes",
              "", "request_too_large");
}
ApiError ApiError::Internal(std::string message) {
  return Make(500, "server_error", std::move(message));
}
ApiError ApiError::Overloaded(std::string message) {
  return Make(503, "overloaded_error", std::move(message));
}
ApiError ApiError::Http(int status, std::string message) {
  return Make(status, status == 403 ? "permission_error" : "invalid_request_error",
              std::move(message));
}

ApiError ApiError::FromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kUnsupported:
      return InvalidRequest("", status.message());
    case StatusCode::kNotFound:
      return NotFound(status.message());
    case StatusCode::kResourceExhausted:
      return Overloaded(status.message());
    case StatusCode::kUnavailable:
    case StatusCode::kCancelled:
      return Make(503, "service_unavailable_error", status.message());
    default:
      return Internal(status.ok() ? "unknown error" : status.message());
  }
}

std::string ErrorBody(const ApiError& error) {
  nlohmann::ordered_json e;
  e["message"] = error.message;
  e["type"] = error.type;
  e["param"] =
      error.param.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(error.param);
  e["code"] =
      error.code.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(error.code);
  nlohmann::ordered_json body;
  body["error"] = std::move(e);
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace mint::frontend
