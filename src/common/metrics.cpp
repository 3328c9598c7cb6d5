#include "joulie/common/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "joulie/common/log.hpp"
#include "process_stats.hpp"

namespace joulie::metrics {
namespace {

bool valid_metric_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Go's strconv.FormatFloat(v, 'g', -1, 64) spelling is not required; any float the Prometheus
// parser accepts is. fmt's shortest round-trip form is exact and accepted.
std::string format_value(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  return fmt::format("{}", v);
}

// Label values come from the outside world (node names, zones); the exposition must stay
// parseable whatever they hold, so invalid UTF-8 becomes U+FFFD instead of leaking through.
void append_utf8_sanitized(std::string& out, unsigned char lead, std::string_view rest,
                           size_t& consumed) {
  size_t len = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    len = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    len = 3;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    len = 4;
  }
  bool valid = len > 0 && rest.size() >= len - 1;
  for (size_t k = 0; valid && k + 1 < len; ++k) {
    valid = (static_cast<unsigned char>(rest[k]) & 0xc0) == 0x80;
  }
  if (valid && len == 3) {
    unsigned char second = static_cast<unsigned char>(rest[0]);
    valid = !(lead == 0xe0 && second < 0xa0) && !(lead == 0xed && second >= 0xa0);
  }
  if (valid && len == 4) {
    unsigned char second = static_cast<unsigned char>(rest[0]);
    valid = !(lead == 0xf0 && second < 0x90) && !(lead == 0xf4 && second >= 0x90);
  }
  if (!valid) {
    out += "\xef\xbf\xbd";
    consumed = 1;
    return;
  }
  out.push_back(static_cast<char>(lead));
  out.append(rest.substr(0, len - 1));
  consumed = len;
}

void append_label_value(std::string& out, std::string_view value) {
  size_t i = 0;
  while (i < value.size()) {
    auto c = static_cast<unsigned char>(value[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c >= 0x80) {
      size_t consumed = 1;
      append_utf8_sanitized(out, c, value.substr(i + 1), consumed);
      i += consumed;
      continue;
    } else {
      out.push_back(static_cast<char>(c));
    }
    ++i;
  }
}

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// {a="x",b="y"} plus an optional trailing le="…"; empty when there are no labels at all.
std::string label_block(const std::vector<std::string>& names, const LabelValues& values,
                        const char* le = nullptr) {
  if (names.empty() && le == nullptr) {
    return {};
  }
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    out += names[i];
    out += "=\"";
    append_label_value(out, i < values.size() ? values[i] : std::string());
    out.push_back('"');
  }
  if (le != nullptr) {
    if (!names.empty()) {
      out.push_back(',');
    }
    out += "le=\"";
    out += le;
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

const char* type_name(Type t) {
  switch (t) {
    case Type::counter:
      return "counter";
    case Type::gauge:
      return "gauge";
    case Type::histogram:
      return "histogram";
  }
  return "untyped";
}

void check_names(const std::string& name, const std::vector<std::string>& label_names, Type type) {
  if (!valid_metric_name(name)) {
    throw std::invalid_argument(fmt::format("invalid metric name \"{}\"", name));
  }
  bool is_total = ends_with(name, "_total");
  if (type == Type::counter && !is_total) {
    throw std::invalid_argument(fmt::format("counter \"{}\" must end in _total", name));
  }
  if (type != Type::counter && is_total) {
    throw std::invalid_argument(
        fmt::format("{} \"{}\" must not end in _total", type_name(type), name));
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    const auto& label = label_names[i];
    if (!valid_label_name(label)) {
      throw std::invalid_argument(fmt::format("metric {}: invalid label name \"{}\"", name, label));
    }
    if (type == Type::histogram && label == "le") {
      throw std::invalid_argument(fmt::format("histogram {} must not have an le label", name));
    }
    if (std::find(label_names.begin(), label_names.begin() + static_cast<long>(i), label) !=
        label_names.begin() + static_cast<long>(i)) {
      throw std::invalid_argument(fmt::format("metric {}: duplicate label \"{}\"", name, label));
    }
  }
}

}  // namespace

// --- Counter / Gauge / Histogram ---------------------------------------------------------------

void Counter::inc(double by) {
  if (!(by >= 0.0)) {  // also rejects NaN, which would poison the counter forever
    return;
  }
  value_.fetch_add(by, std::memory_order_relaxed);
}
double Counter::value() const { return value_.load(std::memory_order_relaxed); }

void Gauge::set(double v) { value_.store(v, std::memory_order_relaxed); }
void Gauge::add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
double Gauge::value() const { return value_.load(std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  // +Inf is implicit; NaN bounds are meaningless; duplicates would make an invalid exposition.
  std::erase_if(bounds_, [](double b) { return !std::isfinite(b); });
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double v) {
  if (std::isnan(v)) {  // ignored: a NaN sum would make the whole series useless
    return;
  }
  auto bucket =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += v;
  ++count_;
}

std::vector<uint64_t> Histogram::cumulative_counts() const { return snapshot().cumulative_counts; }

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard lock(mutex_);
  Snapshot out;
  out.cumulative_counts.resize(counts_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    out.cumulative_counts[i] = running;
  }
  out.sum = sum_;
  out.count = count_;
  return out;
}

double Histogram::sum() const {
  std::lock_guard lock(mutex_);
  return sum_;
}

uint64_t Histogram::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

// --- Family ------------------------------------------------------------------------------------

template <typename M>
Family<M>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::function<std::unique_ptr<M>()> make)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      make_(std::move(make)) {}

template <typename M>
M& Family<M>::with(const LabelValues& label_values) {
  if (label_values.size() != label_names_.size()) {
    // A caller bug; keep serving metrics rather than crash the controller over it.
    log::error(
        "metrics", "label value count does not match label names",
        {{"metric", name_}, {"expected", label_names_.size()}, {"got", label_values.size()}});
    LabelValues fixed = label_values;
    fixed.resize(label_names_.size());
    return with(fixed);
  }
  std::lock_guard lock(mutex_);
  auto& slot = children_[label_values];
  if (!slot) {
    slot = std::shared_ptr<M>(make_());
  }
  return *slot;
}

template <typename M>
void Family<M>::remove(const LabelValues& label_values) {
  std::lock_guard lock(mutex_);
  children_.erase(label_values);
}

template <typename M>
void Family<M>::remove_matching(const std::string& label_name, const std::string& value) {
  auto it = std::find(label_names_.begin(), label_names_.end(), label_name);
  if (it == label_names_.end()) {
    return;
  }
  auto index = static_cast<size_t>(it - label_names_.begin());
  std::lock_guard lock(mutex_);
  std::erase_if(children_, [&](const auto& entry) { return entry.first[index] == value; });
}

template <typename M>
void Family<M>::clear() {
  std::lock_guard lock(mutex_);
  children_.clear();
}

template <typename M>
std::vector<std::pair<LabelValues, std::shared_ptr<const M>>> Family<M>::series() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<LabelValues, std::shared_ptr<const M>>> out;
  out.reserve(children_.size());
  for (const auto& [labels, metric] : children_) {
    out.emplace_back(labels, metric);
  }
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- Registry ----------------------------------------------------------------------------------

struct Registry::Impl {
  struct Entry {
    Type type;
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
    const std::vector<std::string>& label_names() const {
      switch (type) {
        case Type::counter:
          return counter->label_names();
        case Type::gauge:
          return gauge->label_names();
        case Type::histogram:
          break;
      }
      return histogram->label_names();
    }
  };

  mutable std::mutex mutex_;
  std::map<std::string, Entry> families;  // sorted by name: stable exposition order
  bool process_metrics = false;
  Family<Gauge>* process_rss = nullptr;
  Family<Counter>* process_cpu = nullptr;
  Family<Gauge>* process_start = nullptr;

  Entry* existing(const std::string& name, Type type, const std::vector<std::string>& labels) {
    auto it = families.find(name);
    if (it == families.end()) {
      return nullptr;
    }
    if (it->second.type != type) {
      throw std::invalid_argument(
          fmt::format("metric {} already registered as a {}", name, type_name(it->second.type)));
    }
    if (it->second.label_names() != labels) {
      throw std::invalid_argument(
          fmt::format("metric {} already registered with other label names", name));
    }
    return &it->second;
  }
};

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  check_names(name, label_names, Type::counter);
  std::lock_guard lock(impl_->mutex_);
  if (auto* entry = impl_->existing(name, Type::counter, label_names)) {
    return *entry->counter;
  }
  auto& entry = impl_->families[name];
  entry.type = Type::counter;
  entry.counter = std::make_unique<Family<Counter>>(name, help, std::move(label_names),
                                                    [] { return std::make_unique<Counter>(); });
  return *entry.counter;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  check_names(name, label_names, Type::gauge);
  std::lock_guard lock(impl_->mutex_);
  if (auto* entry = impl_->existing(name, Type::gauge, label_names)) {
    return *entry->gauge;
  }
  auto& entry = impl_->families[name];
  entry.type = Type::gauge;
  entry.gauge = std::make_unique<Family<Gauge>>(name, help, std::move(label_names),
                                                [] { return std::make_unique<Gauge>(); });
  return *entry.gauge;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> buckets) {
  check_names(name, label_names, Type::histogram);
  std::lock_guard lock(impl_->mutex_);
  if (auto* entry = impl_->existing(name, Type::histogram, label_names)) {
    return *entry->histogram;
  }
  auto& entry = impl_->families[name];
  entry.type = Type::histogram;
  entry.histogram = std::make_unique<Family<Histogram>>(
      name, help, std::move(label_names),
      [buckets = std::move(buckets)] { return std::make_unique<Histogram>(buckets); });
  return *entry.histogram;
}

void Registry::add_process_metrics() {
  auto& rss = gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  auto& cpu =
      counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
  auto& start =
      gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
  std::lock_guard lock(impl_->mutex_);
  impl_->process_rss = &rss;
  impl_->process_cpu = &cpu;
  impl_->process_start = &start;
  impl_->process_metrics = true;
}

std::string Registry::expose() const {
  bool refresh_process = false;
  {
    std::lock_guard lock(impl_->mutex_);
    refresh_process = impl_->process_metrics;
  }
  if (refresh_process) {
    // On a read failure the previous values stay: better a stale RSS than a missing series.
    if (auto stats = detail::read_process_stats()) {
      impl_->process_rss->with({}).set(stats->resident_memory_bytes);
      auto& cpu = impl_->process_cpu->with({});
      cpu.inc(stats->cpu_seconds - cpu.value());
      impl_->process_start->with({}).set(stats->start_time_seconds);
    }
  }

  std::lock_guard lock(impl_->mutex_);
  std::string out;
  for (const auto& [name, entry] : impl_->families) {
    const std::string* help = nullptr;
    switch (entry.type) {
      case Type::counter:
        help = &entry.counter->help();
        break;
      case Type::gauge:
        help = &entry.gauge->help();
        break;
      case Type::histogram:
        help = &entry.histogram->help();
        break;
    }
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(*help), name,
                       type_name(entry.type));
    const auto& labels = entry.label_names();
    switch (entry.type) {
      case Type::counter:
        for (const auto& [values, metric] : entry.counter->series()) {
          out += fmt::format("{}{} {}\n", name, label_block(labels, values),
                             format_value(metric->value()));
        }
        break;
      case Type::gauge:
        for (const auto& [values, metric] : entry.gauge->series()) {
          out += fmt::format("{}{} {}\n", name, label_block(labels, values),
                             format_value(metric->value()));
        }
        break;
      case Type::histogram:
        for (const auto& [values, metric] : entry.histogram->series()) {
          // Read once under the histogram's lock so buckets, sum and count agree.
          auto snap = metric->snapshot();
          const auto& counts = snap.cumulative_counts;
          const auto& bounds = metric->bounds();
          for (size_t i = 0; i < bounds.size(); ++i) {
            out += fmt::format("{}_bucket{} {}\n", name,
                               label_block(labels, values, format_value(bounds[i]).c_str()),
                               counts[i]);
          }
          out += fmt::format("{}_bucket{} {}\n", name, label_block(labels, values, "+Inf"),
                             counts.back());
          out += fmt::format("{}_sum{} {}\n", name, label_block(labels, values),
                             format_value(snap.sum));
          out += fmt::format("{}_count{} {}\n", name, label_block(labels, values), snap.count);
        }
        break;
    }
  }
  return out;
}

std::vector<double> Registry::default_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Registry& default_registry() {
  static Registry registry;
  return registry;
}

}  // namespace joulie::metrics
