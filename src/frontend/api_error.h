// ApiError: an error in the shape OpenAI's API returns, and ApiResult<T>, the value-or-error type
// of the frontend's protocol layer (STYLE.md habit 3: no exceptions leave this layer).
//
// Wire shape (ErrorBody):
//   {"error":{"message":"...","type":"...","param":"..."|null,"code":"..."|null}}
// `param` and `code` are JSON null when empty.
//
// HTTP status -> `type` (what the factories below produce; OpenAI's own names where it has one):
//   400 invalid_request_error       malformed JSON or HTTP, a bad field (param = the field), an
//                                   unsupported feature
//   401 authentication_error        missing or wrong bearer key
//   403 permission_error            a Host or Origin this server does not answer for
//   404 invalid_request_error       unknown model (code "model_not_found") or route
//   405 invalid_request_error       wrong method for the route
//   413 invalid_request_error       body larger than the limit (code "request_too_large")
//   414, 431 invalid_request_error  request line or header larger than the limit
//   500 server_error                a bug or an engine error
//   503 overloaded_error            queue full (engine kResourceExhausted), retry later
//   503 service_unavailable_error   no worker reachable / shutting down (kUnavailable)
//
// Thread-safety: value types; distinct objects may be used from different threads freely.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

#include "core/status.h"

namespace mint::frontend {

struct ApiError {
  int status = 500;       // HTTP status code
  std::string type{};     // e.g. "invalid_request_error"
  std::string message{};  // for humans; names the field and the allowed values when one is wrong
  std::string param{};    // the offending request field ("temperature", "messages[2].role"), or ""
  std::string code{};     // machine-readable detail ("model_not_found"), or ""

  // 400 invalid_request_error with param.
  static ApiError InvalidRequest(std::string param, std::string message);
  static ApiError Unauthorized(std::string message);           // 401
  static ApiError ModelNotFound(const std::string& model);     // 404
  static ApiError NotFound(std::string message);               // 404
  static ApiError MethodNotAllowed(std::string message);       // 405
  static ApiError PayloadTooLarge(size_t size, size_t limit);  // 413
  static ApiError Internal(std::string message);               // 500
  static ApiError Overloaded(std::string message);             // 503
  // A malformed or refused HTTP request (400, 403, 414, 431), before any JSON is read.
  static ApiError Http(int status, std::string message);
  // Maps an engine/runtime Status (not ok) onto the table above: kInvalidArgument/kOutOfRange/
  // kUnsupported -> 400, kNotFound -> 404, kResourceExhausted -> 503 overloaded_error,
  // kUnavailable/kCancelled -> 503 service_unavailable_error, anything else -> 500 server_error.
  static ApiError FromStatus(const Status& status);
};

// The JSON body for `error` (compact, one line, no trailing newline).
std::string ErrorBody(const ApiError& error);

// Either a T or an ApiError. value() on an error aborts (a caller bug), as mint::Result does.
template <class T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  ApiResult(ApiError error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const ApiError& error() const {
    if (ok()) Die("ApiResult::error() on a value");
    return std::get<ApiError>(v_);
  }
  T& value() & {
    Check();
    return std::get<T>(v_);
  }
  const T& value() const& {
    Check();
    return std::get<T>(v_);
  }
  T&& value() && {
    Check();
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void Check() const {
    if (!ok()) Die(("ApiResult::value() on error: " + std::get<ApiError>(v_).message).c_str());
  }
  [[noreturn]] static void Die(const char* what) {
    std::fprintf(stderr, "%s\n", what);
    std::abort();
  }
  std::variant<T, ApiError> v_;
};

}  // namespace mint::frontend
