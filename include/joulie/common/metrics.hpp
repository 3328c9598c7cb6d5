#pragma once
// A small Prometheus registry: counters, gauges and histograms in labelled families, with series
// removal (nodes that leave management disappear from /metrics). Exposition is text format 0.0.4
// and must pass `promtool check metrics`. Thread-safe: families may be updated from any thread.
//
// Naming mistakes are programming errors found by the first unit test that registers the
// family, so registration throws std::invalid_argument for them: a metric or label name that is
// not a valid Prometheus name, a counter whose name does not end in "_total", a non-counter
// whose name does, a histogram with an "le" label, or re-registering a name with another type
// or other label names. Nothing that comes from outside the process can trigger these.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace joulie::metrics {

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void inc(double by = 1.0);  // by < 0 is ignored (counters never go down)
  double value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v);
  void add(double by);
  double value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // Cumulative counts per bucket (same order as bounds), plus +Inf as the last element.
  std::vector<uint64_t> cumulative_counts() const;
  // Buckets, sum and count read together, so an exposition never shows them disagreeing.
  struct Snapshot {
    std::vector<uint64_t> cumulative_counts;  // last = +Inf = count
    double sum = 0.0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;
  double sum() const;
  uint64_t count() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, non-cumulative, last = +Inf
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

enum class Type { counter, gauge, histogram };

// A metric family: one name, help text, fixed label names, one child per label-value tuple.
template <typename M>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<M>()> make);

  // Creates the series on first use. label_values.size() must equal label_names().size()
  // (a mismatch is logged and the tuple is padded/truncated rather than crashing). The
  // reference stays valid until that series is removed.
  M& with(const LabelValues& label_values);
  void remove(const LabelValues& label_values);
  // Removes every series whose value for label `label_name` equals `value` (e.g. node="n3").
  void remove_matching(const std::string& label_name, const std::string& value);
  void clear();

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Snapshot for exposition, sorted by label values. The shared pointers keep each series
  // alive while it is being read even if another thread removes it meanwhile.
  std::vector<std::pair<LabelValues, std::shared_ptr<const M>>> series() const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<M>()> make_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::shared_ptr<M>> children_;
};

// Defined in metrics.cpp for the three metric kinds.
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

class Registry {
 public:
  Registry();  // registers nothing; call add_process_metrics() for process_* series
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering the same name twice returns the existing family (types must match).
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names = {},
                               std::vector<double> buckets = default_buckets());

  // process_resident_memory_bytes, process_cpu_seconds_total, process_start_time_seconds,
  // refreshed on every expose() from /proc/self.
  void add_process_metrics();

  // Prometheus text exposition format 0.0.4.
  std::string expose() const;

  static std::vector<double> default_buckets();  // .005 … 10 like the Go client

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The process-wide registry used by the binary (tests make their own).
Registry& default_registry();

}  // namespace joulie::metrics
