// Internal to src/transfer: blocking TCP sockets with a timeout on every read and write.
//
// Thread-safety: a Socket is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace mint::transfer {

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { Close(); }

  // Connects with `timeout` for the connection and for every later read and write.
  static Result<Socket> Connect(const std::string& host, uint16_t port,
                                std::chrono::milliseconds timeout);
  // A listening socket on host:port (0: any free port).
  static Result<Socket> Listen(const std::string& host, uint16_t port, int backlog);

  // Sets the timeout of every later read and write (SO_RCVTIMEO / SO_SNDTIMEO).
  Status SetTimeout(std::chrono::milliseconds timeout);
  // Disables Nagle's algorithm: the protocol's small request/reply turns must not wait for a
  // delayed ACK (40 ms per turn otherwise).
  Status SetNoDelay();
  // Sends / receives exactly n bytes, or fails (peer closed, timeout, error).
  Status SendAll(const void* data, size_t n);
  Status RecvAll(void* data, size_t n);
  template <class T>
  Status SendValue(const T& v) {
    return SendAll(&v, sizeof(T));
  }
  template <class T>
  Status RecvValue(T* v) {
    return RecvAll(v, sizeof(T));
  }

  Result<uint16_t> LocalPort() const;
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Shuts both directions down (wakes a thread blocked on this socket) without closing.
  void Shutdown();
  void Close();

 private:
  int fd_ = -1;
};

}  // namespace mint::transfer
