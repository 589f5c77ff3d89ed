// Metrics: one registry of typed counters, gauges and histograms per process part, one Prometheus
// text writer (exposition format 0.0.4), and typed snapshots that code reads without parsing text
// (the planner, `mint bench`'s server scrape, tests).
//
// A series is a metric name plus its labels. Registering returns a reference that stays valid as
// long as the registry; registering the same name and labels again returns the same series. A
// name has one type, one help text and (histograms) one set of bounds: registering it otherwise
// is a programming error (MINT_CHECK). Values that already live elsewhere (an engine's counters,
// a queue's length) are read at render time through a callback series instead of being copied.
//
// Thread-safety: Counter, Gauge and Histogram updates are lock-free (relaxed atomics) and may run
// concurrently with each other and with rendering; a render or snapshot taken during updates may
// miss the updates in flight. Registry methods are thread-safe; callbacks run under the
// registry's lock and must not call back into it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace mint::metrics {

// (name, value) pairs, rendered in this order.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(double by = 1) { v_.fetch_add(by, std::memory_order_relaxed); }  // by >= 0
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double by) { v_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

struct HistogramSnapshot {
  std::vector<double> bounds;    // upper bounds, ascending; a last bucket above them is implied
  std::vector<uint64_t> counts;  // per bucket, not cumulative: bounds.size() + 1 entries
  uint64_t count = 0;
  double sum = 0;
  // The upper bound of the bucket holding the q-quantile (0 < q <= 1), +inf past the last bound;
  // 0 when empty.
  double Quantile(double q) const;
  double Mean() const { return count == 0 ? 0 : sum / static_cast<double>(count); }
};

// A snapshot from cumulative bucket counts kept elsewhere (le[i]: observations <= bounds[i],
// le.size() == bounds.size()) and the total `count` (the +Inf bucket).
HistogramSnapshot FromCumulative(std::span<const double> bounds, std::span<const uint64_t> le,
                                 uint64_t count, double sum);

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // ascending upper bounds
  void Observe(double v);
  HistogramSnapshot Snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Bounds for request latencies in seconds, 1 ms to 80 s.
std::vector<double> LatencyBoundsSeconds();

enum class Type { kCounter, kGauge, kHistogram };
const char* TypeName(Type type);  // "counter", "gauge", "histogram"

// One series' value as read now.
struct Sample {
  std::string name;
  Labels labels;
  Type type = Type::kGauge;
  double value = 0;             // counters and gauges
  HistogramSnapshot histogram;  // histograms
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& AddCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& AddGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds, const Labels& labels = {});
  // A counter or gauge whose value `read` returns when rendered or snapshot. Registering the
  // same series again replaces its callback.
  void AddCallback(const std::string& name, const std::string& help, Type type,
                   const Labels& labels, std::function<double()> read);
  // A histogram kept elsewhere (a router's overhead histograms), read the same way.
  void AddHistogramCallback(const std::string& name, const std::string& help, const Labels& labels,
                            std::function<HistogramSnapshot()> read);

  // Labels put first on every series when rendered or snapshot (a process's model name, known
  // only once loaded). Series are still told apart by their own labels.
  void SetConstantLabels(Labels labels);

  // Every series, families in registration order, series in registration order within each.
  std::string Prometheus() const;
  std::vector<Sample> Snapshot() const;

 private:
  struct Series;
  struct Family;
  Series& Find(const std::string& name, const std::string& help, Type type, const Labels& labels,
               const std::vector<double>* bounds);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;  // guarded by mu_
  std::map<std::string, Family*> by_name_;         // guarded by mu_
  Labels constant_labels_;                         // guarded by mu_
};

// True when `sample` is named `name` and its labels include every pair of `labels`.
bool Matches(const Sample& sample, const std::string& name, const Labels& labels = {});
// The first sample that Matches; null if none.
const Sample* FindSample(const std::vector<Sample>& samples, const std::string& name,
                         const Labels& labels = {});

// Reads Prometheus text (exposition format 0.0.4, what Prometheus() writes and what other
// servers such as vLLM expose) back into samples: counters and gauges by their `# TYPE` (untyped
// and summary lines read as gauges, one per line), and each histogram's _bucket/_sum/_count lines
// joined into one histogram sample per label set (non-cumulative counts; the +Inf bucket becomes
// the count past the last bound). Comments and timestamps are skipped. Errors (kInvalidArgument)
// name the line: a malformed name, label or value, a histogram bucket without `le`, or buckets
// that are not cumulative.
Result<std::vector<Sample>> ParsePrometheus(std::string_view text);

// Prometheus text helpers for writers outside a registry: a label value escaped (\\, \", \n),
// and a number as the registry writes it (the shortest text that reads back as the same double;
// +Inf, -Inf, NaN).
std::string EscapeLabelValue(const std::string& v);
std::string FormatValue(double v);

}  // namespace mint::metrics
