#include "bench_lib/runner.h"

#include <cmath>

#include <boost/asio.hpp>

#include <memory>

namespace mint::bench {

namespace asio = boost::asio;

namespace {

class Driver {
 public:
  Driver(const RunOptions& opt, asio::ip::tcp::endpoint ep)
      : opt_(opt), ep_(ep), timer_(io_), origin_(RunClock::now()), rng_(opt.seed ^ 0x5eedULL) {}

  RunResult Run() {
    if (opt_.mode == RunOptions::Mode::kConcurrency) {
      for (int i = 0; i < opt_.concurrency; ++i) {
        if (!LaunchNext(Elapsed())) break;
      }
    } else {
      ScheduleArrival();
    }
    io_.run();
    RunResult r;
    r.records = std::move(records_);
    r.wall_s = Elapsed();
    r.origin = origin_;
    return r;
  }

 private:
  double Elapsed() const { return std::chrono::duration<double>(RunClock::now() - origin_).count(); }

  bool LimitsReached(double start_s) const {
    if (opt_.num_requests > 0 && measured_ >= opt_.num_requests) return true;
    if (opt_.duration_s > 0 && start_s >= opt_.warmup_s + opt_.duration_s) return true;
    return false;
  }

  // Starts request next_index_ at `start_s` if the limits allow; false when finished.
  bool LaunchNext(double start_s) {
    if (exhausted_ || LimitsReached(start_s)) return false;
    std::optional<BenchRequest> req = pending_ ? std::move(pending_) : opt_.source(next_index_);
    pending_.reset();
    if (!req) {
      exhausted_ = true;
      return false;
    }
    ++next_index_;
    Launch(*req, start_s);
    return true;
  }

  void Launch(const BenchRequest& req, double start_s) {
    bool warmup = start_s < opt_.warmup_s;
    if (!warmup) ++measured_;
    ++in_flight_;
    StartStreamingRequest(io_, ep_, opt_.client, req, warmup, origin_,
                          [this, req](RequestRecord rec) { OnDone(req, std::move(rec)); });
  }

  void OnDone(const BenchRequest& req, RequestRecord rec) {
    --in_flight_;
    const bool ok = rec.error.empty();
    records_.push_back(std::move(rec));
    if (opt_.progress) opt_.progress(static_cast<int64_t>(records_.size()), in_flight_);
    if (opt_.mode == RunOptions::Mode::kConcurrency) LaunchNext(Elapsed());
    if (opt_.mode == RunOptions::Mode::kConversations && ok) FollowUp(req);
  }

  // The conversation's next turn, think_s after this answer.
  void FollowUp(const BenchRequest& done) {
    std::optional<BenchRequest> next = opt_.next_turn(done);
    if (!next) return;
    auto timer = std::make_shared<asio::steady_timer>(io_);
    timer->expires_after(std::chrono::duration_cast<RunClock::duration>(
        std::chrono::duration<double>(opt_.think_s)));
    timer->async_wait([this, timer, req = std::move(*next)](boost::system::error_code ec) {
      if (!ec) Launch(req, Elapsed());
    });
  }

  // Open loop: find the next arrival time, wait for it, launch everything due.
  void ScheduleArrival() {
    if (exhausted_) return;
    if (!pending_) {
      pending_ = opt_.source(next_index_);
      if (!pending_) {
        exhausted_ = true;
        return;
      }
      if (opt_.mode == RunOptions::Mode::kRate && opt_.schedule) {
        // Time rescaling: a unit-rate stream in expected requests, mapped back to seconds.
        const double at = opt_.schedule->Cumulative(next_arrival_s_);
        const bool first_constant = next_index_ == 0 && opt_.arrival == Arrival::kConstant;
        next_arrival_s_ =
            opt_.schedule->TimeAt(first_constant ? 0.0 : NextArrival(opt_.arrival, 1.0, at, &rng_));
      } else if (opt_.mode == RunOptions::Mode::kRate ||
                 opt_.mode == RunOptions::Mode::kConversations) {
        next_arrival_s_ = NextArrival(opt_.arrival, opt_.rate, next_arrival_s_, &rng_);
        if (next_index_ == 0 && opt_.arrival == Arrival::kConstant) next_arrival_s_ = 0;
      } else {
        next_arrival_s_ = pending_->arrival_s;
      }
    }
    if (!std::isfinite(next_arrival_s_) || LimitsReached(next_arrival_s_)) {
      exhausted_ = true;
      return;
    }
    timer_.expires_at(origin_ + std::chrono::duration_cast<RunClock::duration>(
                                    std::chrono::duration<double>(next_arrival_s_)));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      BenchRequest req = std::move(*pending_);
      pending_.reset();
      ++next_index_;
      Launch(req, next_arrival_s_);
      ScheduleArrival();
    });
  }

  const RunOptions& opt_;
  asio::ip::tcp::endpoint ep_;
  asio::io_context io_{1};
  asio::steady_timer timer_;
  RunClock::time_point origin_;
  uint64_t rng_;
  std::vector<RequestRecord> records_;
  std::optional<BenchRequest> pending_;
  int64_t next_index_ = 0;
  int64_t measured_ = 0;
  int64_t in_flight_ = 0;
  bool exhausted_ = false;
  double next_arrival_s_ = 0;
};

}  // namespace

Result<RunResult> RunBench(const RunOptions& options) {
  if (!options.source) return Status::InvalidArgument("RunBench: no request source");
  if (options.mode == RunOptions::Mode::kConcurrency && options.concurrency < 1) {
    return Status::InvalidArgument("concurrency must be >= 1");
  }
  if (options.mode == RunOptions::Mode::kConversations && !options.next_turn) {
    return Status::InvalidArgument("RunBench: conversations need next_turn");
  }
  if ((options.mode == RunOptions::Mode::kRate ||
       options.mode == RunOptions::Mode::kConversations) &&
      !(options.rate > 0) && !options.schedule) {
    return Status::InvalidArgument("rate must be > 0");
  }
  if (options.num_requests <= 0 && options.duration_s <= 0 && !options.schedule &&
      options.mode != RunOptions::Mode::kTrace &&
      options.mode != RunOptions::Mode::kConversations) {
    return Status::InvalidArgument("set a number of requests or a duration");
  }
  auto ep = Resolve(options.client.target);
  if (!ep.ok()) return ep.status();
  Driver d(options, *ep);
  return d.Run();
}

}  // namespace mint::bench
