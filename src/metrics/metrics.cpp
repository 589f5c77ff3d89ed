#include "metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/status.h"

namespace mint::metrics {

double HistogramSnapshot::Quantile(double q) const {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return 0;
  const double target = q * static_cast<double>(total);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (static_cast<double>(seen) >= target && counts[i] != 0) {
      return i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity();
    }
  }
  return std::numeric_limits<double>::infinity();
}

HistogramSnapshot FromCumulative(std::span<const double> bounds, std::span<const uint64_t> le,
                                 uint64_t count, double sum) {
  MINT_CHECK(bounds.size() == le.size());
  HistogramSnapshot s;
  s.bounds.assign(bounds.begin(), bounds.end());
  uint64_t below = 0;
  for (uint64_t c : le) {
    s.counts.push_back(c >= below ? c - below : 0);
    below = std::max(below, c);
  }
  s.counts.push_back(count >= below ? count - below : 0);
  s.count = count;
  s.sum = sum;
  return s;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 1; i < bounds_.size(); ++i) MINT_CHECK(bounds_[i - 1] < bounds_[i]);
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot s;
  s.bounds = bounds_;
  s.counts.reserve(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    s.counts.push_back(counts_[i].load(std::memory_order_relaxed));
  }
  s.count = count_.load(std::memory_order_relaxed);
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> LatencyBoundsSeconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,  0.15, 0.2,
          0.3,   0.5,    0.75,  1.0,  2.5,   5.0,  10.0,  20.0, 40.0, 80.0};
}

const char* TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest text that reads back as v
  return std::string(buf, r.ptr);
}

struct Registry::Series {
  Labels labels;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<double()> read;  // callback series
  std::function<HistogramSnapshot()> read_histogram;

  HistogramSnapshot Histo() const {
    return read_histogram ? read_histogram() : histogram->Snapshot();
  }

  double Value() const {
    if (read) return read();
    return counter ? counter->value() : gauge ? gauge->value() : 0;
  }
};

struct Registry::Family {
  std::string name, help;
  Type type;
  std::vector<double> bounds;  // histograms
  std::vector<std::unique_ptr<Series>> series;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Series& Registry::Find(const std::string& name, const std::string& help, Type type,
                                 const Labels& labels, const std::vector<double>* bounds) {
  Family* f;
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    families_.push_back(std::make_unique<Family>());
    f = families_.back().get();
    f->name = name;
    f->help = help;
    f->type = type;
    if (bounds != nullptr) f->bounds = *bounds;
    by_name_[name] = f;
  } else {
    f = it->second;
    // One type and one set of bounds per name (Prometheus's rule for a family).
    MINT_CHECK(f->type == type);
    MINT_CHECK(bounds == nullptr || f->bounds == *bounds);
  }
  for (auto& s : f->series) {
    if (s->labels == labels) return *s;
  }
  f->series.push_back(std::make_unique<Series>());
  Series& s = *f->series.back();
  s.labels = labels;
  if (type == Type::kCounter) s.counter = std::make_unique<Counter>();
  if (type == Type::kGauge) s.gauge = std::make_unique<Gauge>();
  if (type == Type::kHistogram) s.histogram = std::make_unique<Histogram>(f->bounds);
  return s;
}

Counter& Registry::AddCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  std::lock_guard<std::mutex> lk(mu_);
  Series& s = Find(name, help, Type::kCounter, labels, nullptr);
  MINT_CHECK(s.counter != nullptr);  // not a callback series
  return *s.counter;
}

Gauge& Registry::AddGauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lk(mu_);
  Series& s = Find(name, help, Type::kGauge, labels, nullptr);
  MINT_CHECK(s.gauge != nullptr);
  return *s.gauge;
}

Histogram& Registry::AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds, const Labels& labels) {
  std::lock_guard<std::mutex> lk(mu_);
  Series& s = Find(name, help, Type::kHistogram, labels, &bounds);
  MINT_CHECK(s.histogram != nullptr);  // not a callback series
  return *s.histogram;
}

void Registry::AddCallback(const std::string& name, const std::string& help, Type type,
                           const Labels& labels, std::function<double()> read) {
  MINT_CHECK(type != Type::kHistogram);
  std::lock_guard<std::mutex> lk(mu_);
  Series& s = Find(name, help, type, labels, nullptr);
  s.counter.reset();
  s.gauge.reset();
  s.read = std::move(read);
}

void Registry::AddHistogramCallback(const std::string& name, const std::string& help,
                                    const Labels& labels, std::function<HistogramSnapshot()> read) {
  std::lock_guard<std::mutex> lk(mu_);
  Series& s = Find(name, help, Type::kHistogram, labels, nullptr);
  s.histogram.reset();
  s.read_histogram = std::move(read);
}

void Registry::SetConstantLabels(Labels labels) {
  std::lock_guard<std::mutex> lk(mu_);
  constant_labels_ = std::move(labels);
}

namespace {

Labels Joined(const Labels& constant, const Labels& own) {
  if (constant.empty()) return own;
  Labels all = constant;
  all.insert(all.end(), own.begin(), own.end());
  return all;
}

// {a="x",b="y"} plus an optional last pair (a histogram's le); empty for no labels.
std::string LabelText(const Labels& labels, const char* extra_name = nullptr,
                      const std::string& extra_value = {}) {
  if (labels.empty() && extra_name == nullptr) return {};
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ',';
    out += k + "=\"" + EscapeLabelValue(v) + "\"";
  }
  if (extra_name != nullptr) {
    if (out.size() > 1) out += ',';
    out += std::string(extra_name) + "=\"" + extra_value + "\"";
  }
  return out + "}";
}

std::string Bound(double b) {
  if (std::isinf(b)) return "+Inf";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", b);
  return buf;
}

}  // namespace

std::string Registry::Prometheus() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::string out;
  for (const auto& f : families_) {
    if (f->series.empty()) continue;
    out += "# HELP " + f->name + " " + f->help + "\n# TYPE " + f->name + " " + TypeName(f->type) +
           "\n";
    for (const auto& s : f->series) {
      const Labels labels = Joined(constant_labels_, s->labels);
      if (f->type != Type::kHistogram) {
        out += f->name + LabelText(labels) + " " + FormatValue(s->Value()) + "\n";
        continue;
      }
      const HistogramSnapshot h = s->Histo();
      uint64_t cumulative = 0;
      for (size_t i = 0; i < h.counts.size(); ++i) {
        cumulative += h.counts[i];
        const double le = i < h.bounds.size() ? h.bounds[i] : INFINITY;
        out += f->name + "_bucket" + LabelText(labels, "le", Bound(le)) + " " +
               FormatValue(static_cast<double>(cumulative)) + "\n";
      }
      out += f->name + "_sum" + LabelText(labels) + " " + FormatValue(h.sum) + "\n";
      out += f->name + "_count" + LabelText(labels) + " " +
             FormatValue(static_cast<double>(h.count)) + "\n";
    }
  }
  return out;
}

std::vector<Sample> Registry::Snapshot() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<Sample> out;
  for (const auto& f : families_) {
    for (const auto& s : f->series) {
      Sample x;
      x.name = f->name;
      x.labels = Joined(constant_labels_, s->labels);
      x.type = f->type;
      if (f->type == Type::kHistogram) {
        x.histogram = s->Histo();
      } else {
        x.value = s->Value();
      }
      out.push_back(std::move(x));
    }
  }
  return out;
}

bool Matches(const Sample& sample, const std::string& name, const Labels& labels) {
  if (sample.name != name) return false;
  return std::all_of(labels.begin(), labels.end(), [&](const auto& want) {
    return std::find(sample.labels.begin(), sample.labels.end(), want) != sample.labels.end();
  });
}

const Sample* FindSample(const std::vector<Sample>& samples, const std::string& name,
                         const Labels& labels) {
  for (const Sample& s : samples) {
    if (Matches(s, name, labels)) return &s;
  }
  return nullptr;
}

}  // namespace mint::metrics
