// Time sources. Code that measures or schedules by time takes a Clock so tests can inject a fake.
//
// Thread-safety: SystemClock is stateless; FakeClock is safe from any thread (atomic).
// SleepUntilNanos lets code that paces itself (the mocker's steps) run in virtual time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace mint {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic nanoseconds since an arbitrary epoch.
  virtual int64_t NowNanos() const = 0;
  double NowSeconds() const { return static_cast<double>(NowNanos()) * 1e-9; }
  // Returns once NowNanos() >= deadline: a real clock sleeps, a virtual one jumps there.
  virtual void SleepUntilNanos(int64_t deadline) const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void SleepUntilNanos(int64_t deadline) const override {
    std::this_thread::sleep_until(std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::nanoseconds(deadline))));
  }
  static const SystemClock& Get() {
    static const SystemClock clock;
    return clock;
  }
};

class FakeClock final : public Clock {
 public:
  int64_t NowNanos() const override { return now_.load(std::memory_order_acquire); }
  void AdvanceNanos(int64_t d) { now_.fetch_add(d, std::memory_order_acq_rel); }
  // Virtual time: a sleep is a jump to the deadline (never backwards).
  void SleepUntilNanos(int64_t deadline) const override {
    int64_t now = now_.load(std::memory_order_acquire);
    while (now < deadline &&
           !now_.compare_exchange_weak(now, deadline, std::memory_order_acq_rel)) {
    }
  }

 private:
  mutable std::atomic<int64_t> now_{0};
};

}  // namespace mint
