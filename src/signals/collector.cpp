#include "joulie/signals/collector.hpp"

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <regex>
#include <set>

#include "joulie/common/duration.hpp"
#include "joulie/common/log.hpp"
#include "joulie/common/metrics.hpp"
#include "joulie/signals/oip.hpp"

namespace joulie::signals {

namespace {

using policy::SignalHealth;

constexpr const char* kPrometheus = "prometheus";
constexpr const char* kKServe = "kserve";

SignalReading reading_of(const PromSample& sample) {
  SignalReading r;
  r.sampled_at = sample.timestamp;
  if (!std::isfinite(sample.value)) {
    r.problem = SignalHealth::missing;
    r.message = fmt::format("value is {}", std::isnan(sample.value) ? "NaN" : "infinite");
  } else {
    r.value = sample.value;
  }
  return r;
}

// Keys seen more than once become error readings naming the count.
void add_keyed(std::map<std::string, SignalReading>& out, std::map<std::string, int>& counts,
               const std::string& key, const PromSample& sample) {
  int n = ++counts[key];
  if (n == 1) {
    out[key] = reading_of(sample);
    return;
  }
  SignalReading& r = out[key];
  r.problem = SignalHealth::error;
  r.message = key.empty() ? fmt::format("query returned {} series, expected exactly one", n)
                          : fmt::format("{} series for {:?}, expected exactly one", n, key);
}

std::string label_or_empty(const PromSample& sample, const std::string& label) {
  auto it = sample.labels.find(label);
  return it == sample.labels.end() ? std::string() : it->second;
}

// Identity of a signal's configuration: samples survive a reload only when it is unchanged.
std::string identity(const policy::SignalsConfig& c, const std::string& name) {
  std::string prom = c.prometheus
                         ? fmt::format("{}|{}|{}", c.prometheus->endpoint, c.prometheus->ca_file,
                                       c.prometheus->bearer_token_file)
                         : std::string();
  if (name == kNodeTemperature || name == kNodePower) {
    const auto& s = name == kNodePower ? c.node_power : c.node_temperature;
    return s ? fmt::format("{}|{}|{}|{}|{}", prom, s->query, s->node_label, s->instance_label,
                           s->instance_regex)
             : std::string();
  }
  if (name == kPue || name == kAmbient) {
    const auto& s = name == kPue ? c.pue : c.ambient;
    return s ? fmt::format("{}|{}|{}", prom, s->query, s->zone_label) : std::string();
  }
  const auto& f = c.demand_forecast;
  if (!f) {
    return {};
  }
  if (f->kserve) {
    return fmt::format("kserve|{}|{}", f->kserve->endpoint, f->kserve->model);
  }
  return fmt::format("{}|{}", prom, f->query);
}

const std::vector<std::string>& signal_names() {
  static const std::vector<std::string> names = {kNodeTemperature, kNodePower, kPue, kAmbient,
                                                 kDemandForecast};
  return names;
}

std::optional<std::chrono::nanoseconds> max_age_of(const policy::SignalsConfig& c,
                                                   const std::string& name) {
  if (name == kNodeTemperature && c.node_temperature) {
    return c.node_temperature->max_age;
  }
  if (name == kNodePower && c.node_power) {
    return c.node_power->max_age;
  }
  if (name == kPue && c.pue) {
    return c.pue->max_age;
  }
  if (name == kAmbient && c.ambient) {
    return c.ambient->max_age;
  }
  if (name == kDemandForecast && c.demand_forecast) {
    return c.demand_forecast->max_age;
  }
  return std::nullopt;
}

// The source answered: a reply that is not a transport failure or a 5xx (a status: error for a
// bad query still proves the server is there).
bool source_answered(const Error& error) {
  if (error.http_status != 0) {
    return error.http_status < 500;
  }
  return error.code == Errc::parse || error.code == Errc::unsupported ||
         error.code == Errc::invalid_argument;
}

std::string age_text(std::chrono::nanoseconds age) {
  return format_duration(std::chrono::duration_cast<std::chrono::seconds>(age));
}

}  // namespace

Result<std::map<std::string, SignalReading>> readings_by_node(
    const std::vector<PromSample>& samples, const policy::NodeSignalConfig& config) {
  std::optional<std::regex> pattern;
  if (!config.instance_regex.empty()) {
    try {
      pattern.emplace(config.instance_regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Error(Errc::invalid_argument,
                   fmt::format("instanceRegex {:?} is not a valid regular expression: {}",
                               config.instance_regex, e.what()));
    }
  }
  const std::string& label =
      config.instance_label.empty() ? config.node_label : config.instance_label;
  std::map<std::string, SignalReading> out;
  std::map<std::string, int> counts;
  for (const auto& sample : samples) {
    std::string key = label_or_empty(sample, label);
    if (key.empty()) {
      continue;
    }
    if (pattern) {
      std::smatch match;
      if (!std::regex_match(key, match, *pattern)) {
        continue;
      }
      key = match.size() > 1 ? match[1].str() : match[0].str();
      if (key.empty()) {
        continue;
      }
    }
    add_keyed(out, counts, key, sample);
  }
  return out;
}

std::map<std::string, SignalReading> readings_by_zone(const std::vector<PromSample>& samples,
                                                      const std::string& zone_label) {
  std::map<std::string, SignalReading> out;
  std::map<std::string, int> counts;
  for (const auto& sample : samples) {
    if (zone_label.empty()) {
      add_keyed(out, counts, "", sample);
      continue;
    }
    std::string zone = label_or_empty(sample, zone_label);
    if (!zone.empty()) {
      add_keyed(out, counts, zone, sample);
    }
  }
  return out;
}

SignalCollector::SignalCollector(policy::SignalsConfig config, CollectorOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock::instance()) {
  if (options_.metrics != nullptr) {
    source_up_ = &options_.metrics->gauge(
        "joulie_context_source_up",
        "1 when the context source answered its last queries, 0 when it did not", {"source"});
    signal_age_ = &options_.metrics->gauge(
        "joulie_context_signal_age_seconds",
        "Age of the freshest usable sample of a context signal (absent when there is none)",
        {"signal"});
    query_duration_ = &options_.metrics->histogram(
        "joulie_context_query_duration_seconds",
        "Duration of one context query (Prometheus or model), retry included", {"signal"});
  }
  reconfigure(std::move(config));
}

SignalCollector::~SignalCollector() { stop(); }

void SignalCollector::reconfigure(policy::SignalsConfig config) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& name : signal_names()) {
      std::string before = identity(config_, name);
      std::string after = identity(config, name);
      auto max_age = max_age_of(config, name);
      if (!max_age) {
        states_.erase(name);
        if (signal_age_ != nullptr) {
          signal_age_->remove({name});
        }
        continue;
      }
      if (before != after) {
        states_.erase(name);
      }
      SignalState& state = states_[name];
      state.max_age = *max_age;
      bool kserve = name == kDemandForecast && config.demand_forecast->kserve;
      state.source = kserve ? kKServe : kPrometheus;
    }
    bool prom_changed = !config_.prometheus != !config.prometheus;
    if (config.prometheus && config_.prometheus) {
      const auto& a = *config.prometheus;
      const auto& b = *config_.prometheus;
      prom_changed = a.endpoint != b.endpoint || a.ca_file != b.ca_file ||
                     a.bearer_token_file != b.bearer_token_file || a.timeout != b.timeout;
    }
    if (prom_changed || !prometheus_) {
      if (config.prometheus) {
        PromClientOptions prom_options;
        prom_options.config = *config.prometheus;
        prom_options.retry_delay = options_.prometheus_retry_delay;
        prometheus_ = std::make_shared<PromClient>(pool_, prom_options, clock_);
      } else {
        prometheus_.reset();
      }
    }
    config_ = std::move(config);
    ++config_generation_;
  }
  std::lock_guard lock(wake_mutex_);
  wake_now_ = true;
  wake_.notify_all();
}

void SignalCollector::start() {
  std::lock_guard lock(wake_mutex_);
  if (thread_.joinable()) {
    return;
  }
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void SignalCollector::stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stop_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void SignalCollector::run() {
  while (true) {
    collect_once();
    std::unique_lock lock(wake_mutex_);
    wake_.wait_for(lock, options_.interval, [this] { return stop_ || wake_now_; });
    if (stop_) {
      return;
    }
    wake_now_ = false;
  }
}

namespace {

// One signal's answer in a round.
struct Update {
  std::string name;
  std::string source;
  bool ok = false;
  bool source_up = false;
  std::string error;
  std::map<std::string, SignalReading> readings;
};

using Readings = std::map<std::string, SignalReading>;
using SampleMapper = std::function<Result<Readings>(const std::vector<PromSample>&)>;

// What one round works from, copied under the collector's lock.
struct Round {
  policy::SignalsConfig config;
  std::uint64_t generation = 0;
  std::shared_ptr<PromClient> prometheus;
  std::vector<double> history;
};

template <typename Fn>
auto timed(metrics::Family<metrics::Histogram>* durations, const std::string& name, Fn&& fn) {
  auto start = std::chrono::steady_clock::now();
  auto result = fn();
  if (durations != nullptr) {
    durations->with({name}).observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return result;
}

Update query_promql(const Round& round, metrics::Family<metrics::Histogram>* durations,
                    const std::string& name, const std::string& query, const SampleMapper& map) {
  Update u;
  u.name = name;
  u.source = kPrometheus;
  if (!round.prometheus) {
    u.error = "signals.prometheus is not configured";
    return u;
  }
  auto result = timed(durations, name, [&] { return round.prometheus->query(query); });
  if (!result.ok()) {
    u.error = result.error().message;
    u.source_up = source_answered(result.error());
    return u;
  }
  u.source_up = true;
  auto readings = map(result->samples);
  if (!readings.ok()) {
    u.error = readings.error().message;
  } else {
    u.ok = true;
    u.readings = std::move(readings.value());
  }
  return u;
}

Update query_model(const Round& round, metrics::Family<metrics::Histogram>* durations,
                   HttpClientPool& pool, const Clock& clock) {
  Update u;
  u.name = kDemandForecast;
  u.source = kKServe;
  OipClient model(pool, *round.config.demand_forecast->kserve);
  auto value = timed(durations, kDemandForecast, [&]() -> Result<double> {
    if (Status ready = model.ready(); !ready.ok()) {
      return ready.error();
    }
    return model.infer(forecast_inputs(round.history, clock.now()));
  });
  if (value.ok()) {
    u.ok = true;
    u.source_up = true;
    u.readings[""] = SignalReading{*value, clock.now(), SignalHealth::ok, {}};
  } else {
    u.error = value.error().message;
    // A model that is not ready or answers garbage is "down" as a source too: the forecast is
    // the only thing it serves.
    u.source_up = false;
  }
  return u;
}

// Every configured signal, queried in turn.
std::vector<Update> query_signals(const Round& round,
                                  metrics::Family<metrics::Histogram>* durations,
                                  HttpClientPool& pool, const Clock& clock) {
  const policy::SignalsConfig& config = round.config;
  std::vector<Update> updates;
  auto promql = [&](const std::string& name, const std::string& query, const SampleMapper& map) {
    updates.push_back(query_promql(round, durations, name, query, map));
  };
  if (config.node_temperature) {
    promql(kNodeTemperature, config.node_temperature->query, [&](const auto& samples) {
      return readings_by_node(samples, *config.node_temperature);
    });
  }
  if (config.node_power) {
    promql(kNodePower, config.node_power->query,
           [&](const auto& samples) { return readings_by_node(samples, *config.node_power); });
  }
  auto scope = [&](const char* name, const std::optional<policy::ScopeSignalConfig>& c) {
    if (c) {
      promql(name, c->query, [&](const auto& samples) {
        return Result<Readings>(readings_by_zone(samples, c->zone_label));
      });
    }
  };
  scope(kPue, config.pue);
  scope(kAmbient, config.ambient);
  if (config.demand_forecast && !config.demand_forecast->kserve) {
    promql(kDemandForecast, config.demand_forecast->query,
           [&](const auto& samples) { return Result<Readings>(readings_by_zone(samples, "")); });
  } else if (config.demand_forecast) {
    updates.push_back(query_model(round, durations, pool, clock));
  }
  return updates;
}

// Per source: up unless one of its signals found it down (then the first such error).
std::map<std::string, std::pair<bool, std::string>> source_states(
    const std::vector<Update>& updates) {
  std::map<std::string, std::pair<bool, std::string>> sources;
  for (const auto& u : updates) {
    auto [it, inserted] = sources.try_emplace(u.source, u.source_up, u.source_up ? "" : u.error);
    if (!inserted && it->second.first && !u.source_up) {
      it->second = {false, u.error};
    }
  }
  return sources;
}

}  // namespace

void SignalCollector::collect_once() {
  std::lock_guard round_lock(round_mutex_);
  Round round;
  {
    std::lock_guard lock(mutex_);
    round.config = config_;
    round.generation = config_generation_;
    round.prometheus = prometheus_;
    if (config_.demand_forecast && config_.demand_forecast->kserve && options_.demand) {
      history_.push_back(options_.demand());
      if (history_.size() > kForecastHistory) {
        history_.erase(history_.begin());
      }
    }
    round.history = history_;
  }

  std::vector<Update> updates = query_signals(round, query_duration_, pool_, clock_);

  {
    std::lock_guard lock(mutex_);
    // A reload during the round: its answers are for a configuration that is gone.
    if (round.generation == config_generation_) {
      for (auto& u : updates) {
        auto it = states_.find(u.name);
        if (it == states_.end()) {
          continue;
        }
        SignalState& state = it->second;
        if (u.ok) {
          state.by_key = std::move(u.readings);
          state.answered = true;
          state.last_error.reset();
        } else {
          if (!state.last_error || *state.last_error != u.error) {
            log::debug("context", "signal query failed", {{"signal", u.name}, {"error", u.error}});
          }
          state.last_error = u.error;
        }
      }
      update_ages(clock_.now());
    }
  }
  for (const auto& [source, state] : source_states(updates)) {
    note_source(source, state.first, state.second);
  }
  rounds_.fetch_add(1);
}

void SignalCollector::note_source(const std::string& source, bool up, const std::string& message) {
  std::optional<bool> before;
  {
    std::lock_guard lock(mutex_);
    if (auto it = source_state_.find(source); it != source_state_.end()) {
      before = it->second;
    }
    source_state_[source] = up;
  }
  if (source_up_ != nullptr) {
    source_up_->with({source}).set(up ? 1.0 : 0.0);
  }
  if (before && *before == up) {
    return;
  }
  if (!up) {
    log::warn("context", "context source is down; its signals are missing once older than maxAge",
              {{"source", source}, {"error", message}});
  } else {
    log::info("context", before ? "context source is back" : "context source is up",
              {{"source", source}});
  }
  // First contact that works is not news; going down, or coming back after that, is.
  if (options_.on_source_change && (before || !up)) {
    options_.on_source_change(source, up, message);
  }
}

policy::Signal SignalCollector::signal_for(const SignalState& state, const std::string& key,
                                           SystemTime now) const {
  policy::Signal s;
  s.source = state.source;
  auto it = state.by_key.find(key);
  if (it != state.by_key.end()) {
    const SignalReading& r = it->second;
    s.sampled_at = r.sampled_at;
    if (r.problem != SignalHealth::ok) {
      s.health = r.problem;
      s.message = r.message;
      return s;
    }
    auto age = now - r.sampled_at;
    if (age > state.max_age) {
      s.health = SignalHealth::stale;
      s.message = fmt::format("sample is {} old (maxAge {})", age_text(age),
                              format_duration(state.max_age));
      if (state.last_error) {
        s.message += "; last query failed: " + *state.last_error;
      }
      return s;
    }
    s.health = SignalHealth::ok;
    s.value = r.value;
    return s;
  }
  if (state.last_error) {
    s.health = SignalHealth::error;
    s.message = *state.last_error;
  } else if (!state.answered) {
    s.health = SignalHealth::missing;
    s.message = fmt::format("no answer from {} yet", state.source);
  } else {
    s.health = SignalHealth::missing;
    s.message = key.empty() ? std::string("no series") : fmt::format("no series for {:?}", key);
  }
  return s;
}

void SignalCollector::update_ages(SystemTime now) const {
  if (signal_age_ == nullptr) {
    return;
  }
  for (const auto& [name, state] : states_) {
    std::optional<SystemTime> freshest;
    for (const auto& [key, r] : state.by_key) {
      if (r.problem == SignalHealth::ok && (!freshest || r.sampled_at > *freshest)) {
        freshest = r.sampled_at;
      }
    }
    if (freshest) {
      double age = std::chrono::duration<double>(now - *freshest).count();
      signal_age_->with({name}).set(std::max(0.0, age));
    } else {
      signal_age_->remove({name});
    }
  }
}

void SignalCollector::fill(policy::Context& context) const {
  std::lock_guard lock(mutex_);
  auto state_of = [this](const char* name) -> const SignalState* {
    auto it = states_.find(name);
    return it == states_.end() ? nullptr : &it->second;
  };
  const SignalState* power = state_of(kNodePower);
  const SignalState* temperature = state_of(kNodeTemperature);
  std::set<std::string> zones;
  for (auto& node : context.nodes) {
    if (power != nullptr) {
      node.power_watts = signal_for(*power, node.name, context.now);
    }
    if (temperature != nullptr) {
      node.temperature_celsius = signal_for(*temperature, node.name, context.now);
    }
    if (!node.zone.empty()) {
      zones.insert(node.zone);
    }
  }
  auto scope = [&](const char* name, const std::optional<policy::ScopeSignalConfig>& config,
                   policy::Signal& cluster, std::map<std::string, policy::Signal>& by_zone) {
    const SignalState* state = state_of(name);
    if (state == nullptr || !config) {
      return;
    }
    if (config->zone_label.empty()) {
      cluster = signal_for(*state, "", context.now);
      return;
    }
    std::set<std::string> keys = zones;
    for (const auto& [zone, reading] : state->by_key) {
      keys.insert(zone);
    }
    for (const auto& zone : keys) {
      by_zone[zone] = signal_for(*state, zone, context.now);
    }
    cluster.source = state->source;
    cluster.health = SignalHealth::missing;
    cluster.message = fmt::format("per zone (zoneLabel {})", config->zone_label);
  };
  scope(kPue, config_.pue, context.pue, context.zone_pue);
  scope(kAmbient, config_.ambient, context.ambient_celsius, context.zone_ambient_celsius);
  if (const SignalState* forecast = state_of(kDemandForecast)) {
    context.demand_forecast = signal_for(*forecast, "", context.now);
  }
  update_ages(context.now);
}

}  // namespace joulie::signals
