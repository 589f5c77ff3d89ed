// ParsePrometheus (metrics.h): the text exposition format read back into samples.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "metrics/metrics.h"

namespace mint::metrics {
namespace {

bool NameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }

Status LineError(size_t line, const std::string& what) {
  return Status::InvalidArgument("metrics text line " + std::to_string(line) + ": " + what);
}

// A metric or label name at the start of `s`; empty if none.
std::string_view TakeName(std::string_view& s) {
  size_t n = 0;
  if (s.empty() || !NameStart(s[0])) return {};
  while (n < s.size() && NameChar(s[n])) ++n;
  std::string_view name = s.substr(0, n);
  s.remove_prefix(n);
  return name;
}

void SkipSpaces(std::string_view& s) {
  while (!s.empty() && (s[0] == ' ' || s[0] == '\t')) s.remove_prefix(1);
}

std::optional<double> ParseNumber(std::string_view s) {
  if (s == "+Inf" || s == "Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// {a="x",b="y"} at the start of `s` (already past the metric name).
Status TakeLabels(std::string_view& s, Labels* labels, size_t line) {
  s.remove_prefix(1);  // '{'
  while (true) {
    SkipSpaces(s);
    if (!s.empty() && s[0] == '}') {
      s.remove_prefix(1);
      return Status::Ok();
    }
    std::string_view name = TakeName(s);
    if (name.empty()) return LineError(line, "bad label name");
    SkipSpaces(s);
    if (s.size() < 2 || s[0] != '=' || s[1] != '"') {
      return LineError(line, "label " + std::string(name) + " has no quoted value");
    }
    s.remove_prefix(2);
    std::string value;
    bool closed = false;
    while (!s.empty()) {
      const char c = s[0];
      s.remove_prefix(1);
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\') {
        if (s.empty()) break;
        const char e = s[0];
        s.remove_prefix(1);
        if (e == 'n') {
          value += '\n';
        } else if (e == '\\' || e == '"') {
          value += e;
        } else {
          return LineError(line, "bad escape in label " + std::string(name));
        }
        continue;
      }
      value += c;
    }
    if (!closed) return LineError(line, "unterminated value of label " + std::string(name));
    for (const auto& l : *labels) {
      if (l.first == name) return LineError(line, "label " + std::string(name) + " repeated");
    }
    labels->emplace_back(std::string(name), std::move(value));
    SkipSpaces(s);
    if (!s.empty() && s[0] == ',') {
      s.remove_prefix(1);
      continue;
    }
    if (!s.empty() && s[0] == '}') continue;
    return LineError(line, "expected ',' or '}' after label " + std::string(name));
  }
}

struct HistogramParts {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative)
  std::optional<double> sum, count;
  size_t line = 0;
  size_t order = 0;  // position among the samples
};

// The reader's state across lines.
struct Reader {
  std::map<std::string, Type> types;  // from # TYPE lines
  std::vector<Sample> out;
  // Histogram parts by (family, labels without le), in first-seen order.
  std::map<std::pair<std::string, Labels>, HistogramParts> hists;

  // A comment line (`line` past its '#'): records a TYPE.
  Status Comment(std::string_view rest, size_t line_no) {
    SkipSpaces(rest);
    if (rest.substr(0, 5) != "TYPE ") return Status::Ok();
    rest.remove_prefix(5);
    SkipSpaces(rest);
    std::string_view name = TakeName(rest);
    SkipSpaces(rest);
    if (name.empty()) return LineError(line_no, "TYPE without a metric name");
    Type t = Type::kGauge;
    if (rest == "counter") t = Type::kCounter;
    if (rest == "histogram") t = Type::kHistogram;
    types[std::string(name)] = t;
    return Status::Ok();
  }

  // The histogram family `name` is a _bucket/_sum/_count line of, and which part; "" if none.
  std::pair<std::string, std::string_view> HistogramPart(std::string_view name) const {
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
        std::string base(name.substr(0, name.size() - suffix.size()));
        auto t = types.find(base);
        if (t != types.end() && t->second == Type::kHistogram) return {std::move(base), suffix};
        break;
      }
    }
    return {};
  }

  // A sample line: a counter or gauge sample, or a part of a histogram.
  Status SampleLine(std::string_view s, size_t line_no) {
    std::string_view name = TakeName(s);
    if (name.empty()) return LineError(line_no, "bad metric name");
    Labels labels;
    if (!s.empty() && s[0] == '{') MINT_RETURN_IF_ERROR(TakeLabels(s, &labels, line_no));
    SkipSpaces(s);
    const size_t sp = s.find_first_of(" \t");
    const std::optional<double> value = ParseNumber(s.substr(0, sp));
    if (!value) return LineError(line_no, "bad value for " + std::string(name));
    if (sp != std::string_view::npos) {  // a timestamp may follow
      std::string_view ts = s.substr(sp);
      SkipSpaces(ts);
      if (!ts.empty() && !ParseNumber(ts)) return LineError(line_no, "bad timestamp");
    }
    auto [family, part] = HistogramPart(name);
    if (family.empty()) {
      auto t = types.find(std::string(name));
      Sample x;
      x.name = std::string(name);
      x.labels = std::move(labels);
      x.type = t != types.end() && t->second == Type::kCounter ? Type::kCounter : Type::kGauge;
      x.value = *value;
      out.push_back(std::move(x));
      return Status::Ok();
    }
    std::optional<double> le;
    if (part == "_bucket") {
      auto it =
          std::find_if(labels.begin(), labels.end(), [](const auto& l) { return l.first == "le"; });
      if (it == labels.end()) return LineError(line_no, family + "_bucket without le");
      le = ParseNumber(it->second);
      if (!le || std::isnan(*le)) return LineError(line_no, "bad le \"" + it->second + "\"");
      labels.erase(it);
    }
    auto [it, fresh] = hists.try_emplace({family, labels});
    HistogramParts& h = it->second;
    if (fresh) {
      h.line = line_no;
      h.order = out.size();
      Sample placeholder;
      placeholder.name = family;
      placeholder.labels = labels;
      placeholder.type = Type::kHistogram;
      out.push_back(std::move(placeholder));
    }
    if (le) h.buckets.emplace_back(*le, *value);
    if (part == "_sum") h.sum = *value;
    if (part == "_count") h.count = *value;
    return Status::Ok();
  }
};

// One histogram's parts as a snapshot: non-cumulative counts, the +Inf bucket as the count past
// the last bound.
Result<HistogramSnapshot> Assemble(const std::string& family, HistogramParts& h) {
  constexpr double kMaxCount = 9007199254740992.0;  // 2^53: every count up to it is exact
  std::sort(h.buckets.begin(), h.buckets.end());
  HistogramSnapshot snap;
  double below = 0;
  std::optional<double> inf_bucket;
  for (const auto& [le, cumulative] : h.buckets) {
    if (!(cumulative >= below) || cumulative > kMaxCount || std::floor(cumulative) != cumulative) {
      return LineError(h.line, family + " buckets are not cumulative counts");
    }
    if (std::isinf(le) && le > 0) {
      inf_bucket = cumulative;
      continue;
    }
    snap.bounds.push_back(le);
    snap.counts.push_back(static_cast<uint64_t>(cumulative - below));
    below = cumulative;
  }
  const double total = h.count.value_or(inf_bucket.value_or(below));
  if (!(total >= below) || total > kMaxCount || std::floor(total) != total) {
    return LineError(h.line, family + "_count is below its buckets");
  }
  snap.counts.push_back(static_cast<uint64_t>(total - below));
  snap.count = static_cast<uint64_t>(total);
  snap.sum = h.sum.value_or(0);
  return snap;
}

}  // namespace

Result<std::vector<Sample>> ParsePrometheus(std::string_view text) {
  Reader r;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    SkipSpaces(line);
    if (line.empty()) continue;
    MINT_RETURN_IF_ERROR(line[0] == '#' ? r.Comment(line.substr(1), line_no)
                                        : r.SampleLine(line, line_no));
  }
  for (auto& [key, h] : r.hists) {
    MINT_ASSIGN_OR_RETURN(r.out[h.order].histogram, Assemble(key.first, h));
  }
  return std::move(r.out);
}

}  // namespace mint::metrics
