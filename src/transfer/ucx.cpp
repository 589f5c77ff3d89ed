// The UCX data path of a pull (see ucx.h).

#include "transfer/ucx.h"

#include <mutex>
#include <vector>

#if MINT_HAVE_UCX

#include <dlfcn.h>
#include <poll.h>
#include <ucp/api/ucp.h>
#include <cstdlib>

#include <atomic>
#include <list>
#include <thread>

#include "core/log.h"

namespace mint::transfer::ucx {
namespace {

using Clock = std::chrono::steady_clock;

// UCX is loaded on first use (dlopen), not linked: a process that never pulls over UCX does not
// carry UCX's signal handlers and memory hooks (they also break ThreadSanitizer binaries).
struct UcxApi {
  Status status = Status::Ok();
  decltype(&::ucp_init_version) init_version = nullptr;
  decltype(&::ucs_status_string) status_string = nullptr;
  decltype(&::ucp_config_read) config_read = nullptr;
  decltype(&::ucp_config_release) config_release = nullptr;
  decltype(&::ucp_ep_close_nbx) ep_close_nbx = nullptr;
  decltype(&::ucp_ep_create) ep_create = nullptr;
  decltype(&::ucp_request_cancel) request_cancel = nullptr;
  decltype(&::ucp_request_check_status) request_check_status = nullptr;
  decltype(&::ucp_request_free) request_free = nullptr;
  decltype(&::ucp_tag_recv_nbx) tag_recv_nbx = nullptr;
  decltype(&::ucp_tag_send_nbx) tag_send_nbx = nullptr;
  decltype(&::ucp_worker_arm) worker_arm = nullptr;
  decltype(&::ucp_worker_create) worker_create = nullptr;
  decltype(&::ucp_worker_destroy) worker_destroy = nullptr;
  decltype(&::ucp_worker_get_address) worker_get_address = nullptr;
  decltype(&::ucp_worker_get_efd) worker_get_efd = nullptr;
  decltype(&::ucp_worker_progress) worker_progress = nullptr;
  decltype(&::ucp_worker_release_address) worker_release_address = nullptr;
};

// Binds `*fn` to `name` in `lib`; false if it is missing.
template <class F>
bool Bind(void* lib, const char* name, F* fn) {
  *fn = reinterpret_cast<F>(dlsym(lib, name));
  return *fn != nullptr;
}

const UcxApi& Api() {
  static const UcxApi api = [] {
    UcxApi a;
    // UCX's memory hooks patch mmap/munmap/brk and malloc across the whole process, to keep its
    // registration cache right. Loaded late into a running process they break sanitizer runtimes
    // (LeakSanitizer's tracer, ThreadSanitizer) and touch memory calls Mint never hands to UCX;
    // the KV regions UCX sends from and receives into live as long as their server or engine.
    // Off unless the environment says otherwise.
    setenv("UCX_MEM_MALLOC_HOOKS", "no", /*overwrite=*/0);
    setenv("UCX_MEM_MMAP_HOOK_MODE", "none", /*overwrite=*/0);
    void* ucs = dlopen("libucs.so.0", RTLD_NOW | RTLD_GLOBAL);
    void* ucp = ucs != nullptr ? dlopen("libucp.so.0", RTLD_NOW | RTLD_GLOBAL) : nullptr;
    if (ucp == nullptr) {
      const char* err = dlerror();
      a.status =
          Status::Unsupported(std::string("UCX is not installed here (") +
                              (err != nullptr ? err : "dlopen failed") + "): apt install libucx0");
      return a;
    }
    bool ok = Bind(ucp, "ucp_init_version", &a.init_version) &&
              Bind(ucs, "ucs_status_string", &a.status_string);
    ok = ok && Bind(ucp, "ucp_config_read", &a.config_read);
    ok = ok && Bind(ucp, "ucp_config_release", &a.config_release);
    ok = ok && Bind(ucp, "ucp_ep_close_nbx", &a.ep_close_nbx);
    ok = ok && Bind(ucp, "ucp_ep_create", &a.ep_create);
    ok = ok && Bind(ucp, "ucp_request_cancel", &a.request_cancel);
    ok = ok && Bind(ucp, "ucp_request_check_status", &a.request_check_status);
    ok = ok && Bind(ucp, "ucp_request_free", &a.request_free);
    ok = ok && Bind(ucp, "ucp_tag_recv_nbx", &a.tag_recv_nbx);
    ok = ok && Bind(ucp, "ucp_tag_send_nbx", &a.tag_send_nbx);
    ok = ok && Bind(ucp, "ucp_worker_arm", &a.worker_arm);
    ok = ok && Bind(ucp, "ucp_worker_create", &a.worker_create);
    ok = ok && Bind(ucp, "ucp_worker_destroy", &a.worker_destroy);
    ok = ok && Bind(ucp, "ucp_worker_get_address", &a.worker_get_address);
    ok = ok && Bind(ucp, "ucp_worker_get_efd", &a.worker_get_efd);
    ok = ok && Bind(ucp, "ucp_worker_progress", &a.worker_progress);
    ok = ok && Bind(ucp, "ucp_worker_release_address", &a.worker_release_address);
    if (!ok)
      a.status = Status::Unsupported("UCX's libucp lacks a function Mint uses (UCX >= 1.13)");
    return a;
  }();
  return api;
}

Status UcxError(const std::string& what, ucs_status_t s) {
  return Status::Unavailable("UCX " + what + ": " + Api().status_string(s));
}

// One UCP context per process (UCX reads its configuration, UCX_TLS and the like, once).
struct Context {
  ucp_context_h h = nullptr;
  Status status = Status::Ok();
};
const Context& GetContext() {
  static const Context c = [] {
    Context c;
    if (!Api().status.ok()) {
      c.status = Api().status;
      return c;
    }
    ucp_config_t* config = nullptr;
    if (ucs_status_t s = Api().config_read(nullptr, nullptr, &config); s != UCS_OK) {
      c.status = UcxError("configuration", s);
      return c;
    }
    ucp_params_t p{};
    p.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
    p.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
    p.mt_workers_shared = 1;
    const ucs_status_t s = Api().init_version(UCP_API_MAJOR, UCP_API_MINOR, &p, config, &c.h);
    Api().config_release(config);
    if (s != UCS_OK) c.status = UcxError("init", s);
    return c;
  }();
  return c;
}

}  // namespace

class Worker::Impl {
 public:
  Impl(ucp_worker_h w, std::string address, int efd)
      : worker_(w), address_(std::move(address)), efd_(efd) {}

  ~Impl() {
    CancelReceives();
    std::lock_guard lk(mu_);
    for (Endpoint& ep : eps_) {
      if (!ep.closed) CloseEndpoint(ep.h);
    }
    Api().worker_destroy(worker_);
  }

  const std::string& address() const { return address_; }

  Status PostReceives(uint64_t nonce, std::span<const Buffer> bufs) {
    std::lock_guard lk(mu_);
    if (recvs_.pending > 0) return Status::Internal("UCX worker: receives already posted");
    recvs_.Reset(bufs.size());
    for (size_t i = 0; i < bufs.size(); ++i) {
      Op* op = &recvs_.ops[i];
      op->size = bufs[i].size;
      ucp_tag_recv_info_t info{};
      ucp_request_param_t param{};
      param.op_attr_mask =
          UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_RECV_INFO;
      param.cb.recv = &Impl::OnReceive;
      param.user_data = op;
      param.recv_info.tag_info = &info;
      void* r = Api().tag_recv_nbx(worker_, bufs[i].data, bufs[i].size,
                                   Tag(nonce, static_cast<uint32_t>(i)), ~uint64_t{0}, &param);
      if (UCS_PTR_IS_ERR(r)) {
        recvs_.Abandon(i, UCS_PTR_STATUS(r));
        CancelLocked();
        return UcxError("receive", UCS_PTR_STATUS(r));
      }
      if (r == nullptr) {
        Complete(op, UCS_OK, info.length);
      } else {
        op->request = r;
      }
    }
    return Status::Ok();
  }

  Status WaitReceives(std::chrono::milliseconds idle_timeout) {
    Status st = Wait(&recvs_, idle_timeout, "receive");
    if (!st.ok()) CancelReceives();
    return st;
  }

  void CancelReceives() {
    std::lock_guard lk(mu_);
    CancelLocked();
  }

  Status Send(const std::string& peer, uint64_t nonce, std::span<const Buffer> bufs,
              std::chrono::milliseconds idle_timeout) {
    Batch sends;
    std::list<Endpoint>::iterator ep;
    {
      std::lock_guard lk(mu_);
      auto got = GetEndpoint(peer);
      if (!got.ok()) return got.status();
      ep = *got;
      ++ep->users;
      sends.Reset(bufs.size());
      for (size_t i = 0; i < bufs.size(); ++i) {
        Op* op = &sends.ops[i];
        op->size = bufs[i].size;
        ucp_request_param_t param{};
        param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
        param.cb.send = &Impl::OnSend;
        param.user_data = op;
        void* r = Api().tag_send_nbx(ep->h, bufs[i].data, bufs[i].size,
                                     Tag(nonce, static_cast<uint32_t>(i)), &param);
        if (UCS_PTR_IS_ERR(r)) {
          sends.Abandon(i, UCS_PTR_STATUS(r));
          break;
        }
        if (r == nullptr) {
          Complete(op, UCS_OK, op->size);
        } else {
          op->request = r;
        }
      }
    }
    Status st = Wait(&sends, idle_timeout, "send");
    std::lock_guard lk(mu_);
    --ep->users;
    if (!st.ok() || ep->failed->load()) {
      // Closing the endpoint by force completes (with an error) whatever it still had queued,
      // ours and other threads' alike; the entry goes when its last user has left.
      ep->failed->store(true);
      if (!ep->closed) {
        CloseEndpoint(ep->h);
        ep->closed = true;
      }
      while (sends.pending > 0) Api().worker_progress(worker_);
      if (ep->users == 0) eps_.erase(ep);
      if (st.ok()) st = Status::Unavailable("UCX send: the peer's endpoint failed");
    }
    return st;
  }

 private:
  struct Batch;
  // One send or receive of a batch.
  struct Op {
    Batch* batch = nullptr;
    void* request = nullptr;  // until it completes
    size_t size = 0;
  };
  // One pull's sends or receives. Completion callbacks run inside ucp_worker_progress (under
  // mu_, on whichever thread progresses) and count them down: waiting costs no scan of the ops.
  struct Batch {
    std::vector<Op> ops;  // sized before posting: callbacks hold pointers into it
    size_t pending = 0;
    ucs_status_t error = UCS_OK;  // the first failure
    size_t bad_length = 0, bad_size = 0;

    void Reset(size_t n) {
      ops.assign(n, Op{this});
      pending = n;
      error = UCS_OK;
      bad_length = bad_size = 0;
    }
    // Ops [i, n) were never posted (posting op i failed with `s`).
    void Abandon(size_t i, ucs_status_t s) {
      pending -= ops.size() - i;
      if (error == UCS_OK) error = s;
    }
  };
  struct Endpoint {
    std::string peer;
    ucp_ep_h h = nullptr;
    std::shared_ptr<std::atomic<bool>> failed;  // set by UCX's error callback, or by us
    bool closed = false;
    int users = 0;  // threads sending on it now
  };
  static constexpr size_t kMaxEndpoints = 64;

  static void Complete(Op* op, ucs_status_t s, size_t length) {
    Batch* b = op->batch;
    op->request = nullptr;
    --b->pending;
    if (s != UCS_OK) {
      if (b->error == UCS_OK) b->error = s;
    } else if (length != op->size && b->bad_size == 0) {
      b->bad_length = length;
      b->bad_size = op->size;
    }
  }
  static void OnSend(void* request, ucs_status_t s, void* user) {
    Api().request_free(request);
    auto* op = static_cast<Op*>(user);
    Complete(op, s, op->size);
  }
  static void OnReceive(void* request, ucs_status_t s, const ucp_tag_recv_info_t* info,
                        void* user) {
    Api().request_free(request);
    Complete(static_cast<Op*>(user), s, s == UCS_OK ? info->length : 0);
  }
  static void OnEndpointError(void* arg, ucp_ep_h, ucs_status_t) {
    static_cast<std::atomic<bool>*>(arg)->store(true);
  }

  // The cached endpoint to `peer`, or a new one. Holds mu_.
  Result<std::list<Endpoint>::iterator> GetEndpoint(const std::string& peer) {
    for (auto it = eps_.begin(); it != eps_.end(); ++it) {
      if (it->peer != peer || it->failed->load()) continue;
      eps_.splice(eps_.begin(), eps_, it);
      return eps_.begin();
    }
    Endpoint e;
    e.peer = peer;
    e.failed = std::make_shared<std::atomic<bool>>(false);
    ucp_ep_params_t p{};
    p.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                   UCP_EP_PARAM_FIELD_ERR_HANDLER;
    p.address = reinterpret_cast<const ucp_address_t*>(peer.data());
    p.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    p.err_handler.cb = &Impl::OnEndpointError;
    p.err_handler.arg = e.failed.get();
    if (ucs_status_t s = Api().ep_create(worker_, &p, &e.h); s != UCS_OK) {
      return UcxError("endpoint to the puller", s);
    }
    eps_.push_front(std::move(e));
    // Past the cap, idle endpoints go, least recently used first; failed ones always.
    for (auto it = std::next(eps_.begin()); it != eps_.end();) {
      const bool drop = it->users == 0 && (it->failed->load() || eps_.size() > kMaxEndpoints);
      if (!drop) {
        ++it;
        continue;
      }
      if (!it->closed) CloseEndpoint(it->h);
      it = eps_.erase(it);
    }
    return eps_.begin();
  }

  // Closes an endpoint by force and waits for the close to finish. Holds mu_.
  void CloseEndpoint(ucp_ep_h h) {
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = UCP_EP_CLOSE_FLAG_FORCE;
    void* r = Api().ep_close_nbx(h, &p);
    if (r == nullptr || UCS_PTR_IS_ERR(r)) return;
    while (Api().request_check_status(r) == UCS_INPROGRESS) Api().worker_progress(worker_);
    Api().request_free(r);
  }

  // Cancels the posted receives and waits until UCX has let go of their buffers. Holds mu_.
  void CancelLocked() {
    for (Op& op : recvs_.ops) {
      if (op.request != nullptr) Api().request_cancel(worker_, op.request);
    }
    while (recvs_.pending > 0) Api().worker_progress(worker_);
    recvs_.ops.clear();
  }

  // Progresses until every op of the batch has completed: its first error, or Unavailable when
  // none completes for `idle_timeout`.
  Status Wait(Batch* b, std::chrono::milliseconds idle_timeout, const char* what) {
    auto last = Clock::now();
    int idle_spins = 0;
    size_t seen = SIZE_MAX;
    while (true) {
      size_t pending;
      {
        std::lock_guard lk(mu_);
        while (Api().worker_progress(worker_) != 0) {
        }
        pending = b->pending;
        if (b->error != UCS_OK) return UcxError(what, b->error);
        if (b->bad_size != 0) {
          return Status::Corruption("UCX: a KV block arrived with " +
                                    std::to_string(b->bad_length) + " bytes, not " +
                                    std::to_string(b->bad_size));
        }
      }
      if (pending == 0) return Status::Ok();
      const auto now = Clock::now();
      if (pending != seen) {
        seen = pending;
        last = now;
        idle_spins = 0;
        continue;
      }
      if (now - last > idle_timeout) {
        return Status::Unavailable("UCX transfer made no progress for " +
                                   std::to_string(idle_timeout.count()) + " ms");
      }
      if (++idle_spins < 64) {
        std::this_thread::yield();
        continue;
      }
      // Sleep until the worker has events (or 1 ms: another thread may progress them away).
      ucs_status_t armed;
      {
        std::lock_guard lk(mu_);
        armed = efd_ >= 0 ? Api().worker_arm(worker_) : UCS_ERR_UNSUPPORTED;
      }
      if (armed == UCS_OK) {
        pollfd pfd{efd_, POLLIN, 0};
        (void)poll(&pfd, 1, 1);
      } else if (armed != UCS_ERR_BUSY) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  }

  std::mutex mu_;
  ucp_worker_h worker_;
  const std::string address_;
  const int efd_;
  Batch recvs_;
  std::list<Endpoint> eps_;
};

Status Available() { return Api().status; }

Result<std::unique_ptr<Worker>> Worker::Create() {
  const Context& c = GetContext();
  if (!c.status.ok()) return c.status;
  ucp_worker_params_t p{};
  p.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  p.thread_mode = UCS_THREAD_MODE_SERIALIZED;
  ucp_worker_h w = nullptr;
  if (ucs_status_t s = Api().worker_create(c.h, &p, &w); s != UCS_OK) {
    return UcxError("worker", s);
  }
  ucp_address_t* addr = nullptr;
  size_t len = 0;
  if (ucs_status_t s = Api().worker_get_address(w, &addr, &len); s != UCS_OK) {
    Api().worker_destroy(w);
    return UcxError("worker address", s);
  }
  std::string address(reinterpret_cast<const char*>(addr), len);
  Api().worker_release_address(w, addr);
  int efd = -1;
  if (Api().worker_get_efd(w, &efd) != UCS_OK) efd = -1;
  return std::unique_ptr<Worker>(new Worker(std::make_unique<Impl>(w, std::move(address), efd)));
}

}  // namespace mint::transfer::ucx

#else  // !MINT_HAVE_UCX

namespace mint::transfer::ucx {

class Worker::Impl {
 public:
  std::string address;
};

namespace {
Status NotBuilt() {
  return Status::Unsupported(
      "this Mint was built without UCX (install Debian's libucx-dev and rebuild)");
}
}  // namespace

Status Available() { return NotBuilt(); }
Result<std::unique_ptr<Worker>> Worker::Create() { return NotBuilt(); }

}  // namespace mint::transfer::ucx

#endif  // MINT_HAVE_UCX

namespace mint::transfer::ucx {

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Worker::~Worker() = default;

#if MINT_HAVE_UCX
const std::string& Worker::address() const { return impl_->address(); }
Status Worker::PostReceives(uint64_t nonce, std::span<const Buffer> bufs) {
  return impl_->PostReceives(nonce, bufs);
}
Status Worker::WaitReceives(std::chrono::milliseconds idle_timeout) {
  return impl_->WaitReceives(idle_timeout);
}
Status Worker::Send(const std::string& peer, uint64_t nonce, std::span<const Buffer> bufs,
                    std::chrono::milliseconds idle_timeout) {
  return impl_->Send(peer, nonce, bufs, idle_timeout);
}
#else
const std::string& Worker::address() const { return impl_->address; }
Status Worker::PostReceives(uint64_t, std::span<const Buffer>) { return NotBuilt(); }
Status Worker::WaitReceives(std::chrono::milliseconds) { return NotBuilt(); }
Status Worker::Send(const std::string&, uint64_t, std::span<const Buffer>,
                    std::chrono::milliseconds) {
  return NotBuilt();
}
#endif

namespace {
struct Pool {
  std::mutex mu;
  std::vector<std::unique_ptr<Worker>> idle;
};
Pool& GetPool() {
  static Pool p;  // its idle workers are destroyed at exit (the UCP context is never)
  return p;
}
constexpr size_t kMaxIdleWorkers = 8;
}  // namespace

Result<std::unique_ptr<Worker>> TakeWorker() {
  {
    Pool& p = GetPool();
    std::lock_guard lk(p.mu);
    if (!p.idle.empty()) {
      auto w = std::move(p.idle.back());
      p.idle.pop_back();
      return w;
    }
  }
  return Worker::Create();
}

void GiveWorker(std::unique_ptr<Worker> w) {
  Pool& p = GetPool();
  std::lock_guard lk(p.mu);
  if (p.idle.size() < kMaxIdleWorkers) p.idle.push_back(std::move(w));
}

}  // namespace mint::transfer::ucx
