#include "transfer/socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mint::transfer {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

Result<addrinfo*> Resolve(const std::string& host, uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    return Status::Unavailable("resolve " + host + ": " + gai_strerror(rc));
  }
  return res;
}

}  // namespace

Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    Close();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

void Socket::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Socket::Shutdown() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

Status Socket::SetTimeout(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
      setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
    return Status::IoError(Errno("setsockopt timeout"));
  }
  return Status::Ok();
}

Status Socket::SetNoDelay() {
  const int one = 1;
  if (setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return Status::IoError(Errno("setsockopt TCP_NODELAY"));
  }
  return Status::Ok();
}

Result<Socket> Socket::Connect(const std::string& host, uint16_t port,
                               std::chrono::milliseconds timeout) {
  auto res = Resolve(host, port, false);
  if (!res.ok()) return res.status();
  Status last = Status::Unavailable("no address for " + host);
  for (addrinfo* a = *res; a != nullptr; a = a->ai_next) {
    Socket s(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol));
    if (!s.valid()) continue;
    // Non-blocking connect bounded by `timeout`, then back to blocking with read/write timeouts.
    if (::connect(s.fd_, a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = Status::Unavailable(Errno("connect " + host + ":" + std::to_string(port)));
        continue;
      }
      pollfd p{s.fd_, POLLOUT, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      int err = 0;
      socklen_t len = sizeof(err);
      if (rc <= 0 || getsockopt(s.fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        if (rc == 0) errno = ETIMEDOUT;
        else if (err != 0) errno = err;
        last = Status::Unavailable(Errno("connect " + host + ":" + std::to_string(port)));
        continue;
      }
    }
    const int flags = 0;
    if (::fcntl(s.fd_, F_SETFL, flags) != 0) continue;
    if (Status st = s.SetNoDelay(); !st.ok()) return st;
    if (Status st = s.SetTimeout(timeout); !st.ok()) return st;
    freeaddrinfo(*res);
    return s;
  }
  freeaddrinfo(*res);
  return last;
}

Result<Socket> Socket::Listen(const std::string& host, uint16_t port, int backlog) {
  auto res = Resolve(host, port, true);
  if (!res.ok()) return res.status();
  Status last = Status::IoError("no address for " + host);
  for (addrinfo* a = *res; a != nullptr; a = a->ai_next) {
    Socket s(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!s.valid()) continue;
    const int one = 1;
    setsockopt(s.fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(s.fd_, a->ai_addr, a->ai_addrlen) != 0 || ::listen(s.fd_, backlog) != 0) {
      last = Status::IoError(Errno("listen on " + host + ":" + std::to_string(port)));
      continue;
    }
    freeaddrinfo(*res);
    return s;
  }
  freeaddrinfo(*res);
  return last;
}

Status Socket::SendAll(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t k = ::send(fd_, p, n, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Unavailable("send timed out");
      return Status::Unavailable(Errno("send"));
    }
    p += k;
    n -= static_cast<size_t>(k);
  }
  return Status::Ok();
}

Status Socket::RecvAll(void* data, size_t n) {
  auto* p = static_cast<uint8_t*>(data);
  while (n > 0) {
    const ssize_t k = ::recv(fd_, p, n, MSG_WAITALL);
    if (k == 0) return Status::Unavailable("peer closed the connection");
    if (k < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Unavailable("receive timed out");
      return Status::Unavailable(Errno("recv"));
    }
    p += k;
    n -= static_cast<size_t>(k);
  }
  return Status::Ok();
}

Result<uint16_t> Socket::LocalPort() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Status::IoError(Errno("getsockname"));
  }
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace mint::transfer
