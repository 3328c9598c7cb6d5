// The policy file with yaml-cpp. yaml-cpp throws; every exception, and every validation failure
// (raised as a local Invalid), is caught in parse_policy_file and becomes one Error naming the
// file, the line and the key.
#include "joulie/config/policy_file.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "flag_set.hpp"
#include "joulie/api/types.hpp"

namespace joulie::config {

namespace {

struct Invalid {
  int line = 0;  // 1-based; 0 when unknown
  std::string key;
  std::string why;
};

int line_of(const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  return m.is_null() ? 0 : m.line + 1;
}

[[noreturn]] void fail(const YAML::Node& node, const std::string& key, std::string why) {
  throw Invalid{line_of(node), key, std::move(why)};
}

std::string join_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// The map's entries after checking that every key is a known, unique scalar.
std::vector<std::pair<std::string, YAML::Node>> entries(
    const YAML::Node& map, const std::string& path,
    std::initializer_list<std::string_view> allowed) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  if (!map || map.IsNull()) {
    return out;
  }
  if (!map.IsMap()) {
    fail(map, path, "must be a mapping");
  }
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      fail(it->first, path, "keys must be plain strings");
    }
    const std::string key = it->first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (auto a : allowed) {
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      fail(it->first, join_key(path, key), fmt::format("unknown key (known: {})", list));
    }
    if (!seen.insert(key).second) {
      fail(it->first, join_key(path, key), "repeated key");
    }
    out.emplace_back(key, it->second);
  }
  return out;
}

std::string scalar(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) {
    fail(node, key, node.IsNull() ? "a value is required" : "must be a single value");
  }
  return node.Scalar();
}

std::string text(const YAML::Node& node, const std::string& key) {
  if (node.IsNull()) {
    return {};  // `caFile: ""` and `caFile:` both mean "not set"
  }
  return scalar(node, key);
}

double number(const YAML::Node& node, const std::string& key) {
  const std::string s = scalar(node, key);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) {
    fail(node, key, fmt::format("\"{}\" is not a number", s));
  }
  return v;
}

std::int64_t integer(const YAML::Node& node, const std::string& key, std::int64_t min) {
  const std::string s = scalar(node, key);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    fail(node, key, fmt::format("\"{}\" is not a whole number", s));
  }
  if (v < min) {
    fail(node, key, fmt::format("must be at least {}, got {}", min, v));
  }
  return v;
}

double fraction(const YAML::Node& node, const std::string& key) {
  const double v = number(node, key);
  if (v < 0 || v > 1) {
    fail(node, key, fmt::format("must be a fraction between 0 and 1, got {}", v));
  }
  return v;
}

double watts(const YAML::Node& node, const std::string& key) {
  const double v = number(node, key);
  if (!(v >= api::kMinPackageCapWatts && v <= api::kMaxPackageCapWatts)) {
    fail(node, key,
         fmt::format("must be between {} and {} W (the NodePowerProfile's range), got {}",
                     api::kMinPackageCapWatts, api::kMaxPackageCapWatts, v));
  }
  return v;
}

Duration duration(const YAML::Node& node, const std::string& key, bool allow_zero) {
  const std::string s = scalar(node, key);
  auto d = parse_duration(s);
  if (!d.ok()) {
    fail(node, key, d.error().message);
  }
  if (*d < Duration::zero() || (!allow_zero && *d == Duration::zero())) {
    fail(node, key,
         fmt::format("must be {} duration, got \"{}\"",
                     allow_zero ? "a non-negative" : "a positive", s));
  }
  return *d;
}

std::string label(const YAML::Node& node, const std::string& key) {
  const std::string s = scalar(node, key);
  if (auto why = detail::label_key(s)) {
    fail(node, key, *why);
  }
  return s;
}

std::string url(const YAML::Node& node, const std::string& key) {
  const std::string s = scalar(node, key);
  if (!(s.starts_with("http://") || s.starts_with("https://")) ||
      s.find_first_of(" \t\r\n") != std::string::npos ||
      s.size() <= (s.starts_with("https://") ? 8U : 7U)) {
    fail(node, key, fmt::format("\"{}\" is not an http:// or https:// URL", s));
  }
  return s;
}

// "HH:MM" → minutes; 24:00 only where `allow_24`.
int clock_time(const YAML::Node& node, const std::string& key, bool allow_24) {
  const std::string s = scalar(node, key);
  static const std::regex kTime("^([0-9]{1,2}):([0-9]{2})$");
  std::smatch m;
  if (std::regex_match(s, m, kTime)) {
    const int h = std::stoi(m[1].str());
    const int min = std::stoi(m[2].str());
    if ((h < 24 && min < 60) || (allow_24 && h == 24 && min == 0)) {
      return h * 60 + min;
    }
  }
  fail(node, key,
       fmt::format("\"{}\" is not a time of day HH:MM (00:00–23:59{})", s,
                   allow_24 ? ", or 24:00 as an end" : ""));
}

int weekday(const YAML::Node& node, const std::string& key) {
  const std::string s = scalar(node, key);
  static constexpr std::pair<std::string_view, std::string_view> kDays[] = {
      {"Mon", "Monday"}, {"Tue", "Tuesday"},  {"Wed", "Wednesday"}, {"Thu", "Thursday"},
      {"Fri", "Friday"}, {"Sat", "Saturday"}, {"Sun", "Sunday"}};
  for (int i = 0; i < 7; ++i) {
    if (s == kDays[i].first || s == kDays[i].second) {
      return i;
    }
  }
  fail(node, key,
       fmt::format("unknown weekday \"{}\" (want Mon, Tue, Wed, Thu, Fri, Sat, Sun)", s));
}

// ---- hardware classes -------------------------------------------------------------------------

// `<prefix>CapWatts` or `<prefix>CapFraction`: at most one of the two.
void cap_key(std::optional<policy::CapValue>& into, const std::string& k, const YAML::Node& v,
             const std::string& key, std::string_view prefix) {
  if (into) {
    fail(v, key, fmt::format("set one of {0}CapWatts and {0}CapFraction, not both", prefix));
  }
  if (k.ends_with("Watts")) {
    into = policy::CapValue{watts(v, key), false};
  } else {
    const double f = number(v, key);
    if (!(f > 0 && f <= 1)) {
      fail(v, key, fmt::format("must be a fraction of the package maximum in (0, 1], got {}", f));
    }
    into = policy::CapValue{f, true};
  }
}

std::vector<std::pair<std::string, policy::CapValue>> window_class_caps(const YAML::Node& node,
                                                                        const std::string& path) {
  std::vector<std::pair<std::string, policy::CapValue>> out;
  if (!node.IsSequence()) {
    fail(node, path, "must be a list of {name, ecoCapWatts | ecoCapFraction}");
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string item_path = fmt::format("{}[{}]", path, i);
    std::string name;
    std::optional<policy::CapValue> eco;
    for (const auto& [k, v] :
         entries(node[i], item_path, {"name", "ecoCapWatts", "ecoCapFraction"})) {
      const std::string key = item_path + "." + k;
      if (k == "name") {
        name = scalar(v, key);
      } else {
        cap_key(eco, k, v, key, "eco");
      }
    }
    if (name.empty() || !eco) {
      fail(node[i], item_path + (name.empty() ? ".name" : ".ecoCapWatts"), "required key missing");
    }
    for (const auto& [other, cap] : out) {
      if (other == name) {
        fail(node[i], item_path + ".name", fmt::format("class \"{}\" is listed twice", name));
      }
    }
    out.emplace_back(name, *eco);
  }
  return out;
}

std::vector<policy::HardwareClass> hardware_classes(const YAML::Node& node) {
  std::vector<policy::HardwareClass> out;
  if (!node || node.IsNull()) {
    return out;
  }
  if (!node.IsSequence()) {
    fail(node, "hardwareClasses", "must be a list of classes");
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string path = fmt::format("hardwareClasses[{}]", i);
    policy::HardwareClass c;
    bool has_selector = false;
    for (const auto& [k, v] :
         entries(node[i], path,
                 {"name", "selector", "performanceCapWatts", "performanceCapFraction",
                  "ecoCapWatts", "ecoCapFraction", "min"})) {
      const std::string key = path + "." + k;
      if (k == "name") {
        c.name = scalar(v, key);
      } else if (k == "selector") {
        c.selector_text = scalar(v, key);
        auto parsed = policy::parse_selector(c.selector_text);
        if (!parsed.ok()) {
          fail(v, key, parsed.error().message);
        }
        if (parsed->empty()) {
          fail(v, key, "an empty selector would put every node in this class");
        }
        c.selector = std::move(*parsed);
        has_selector = true;
      } else if (k.starts_with("performance")) {
        cap_key(c.performance_cap, k, v, key, "performance");
      } else if (k.starts_with("eco")) {
        cap_key(c.eco_cap, k, v, key, "eco");
      } else {
        c.min = integer(v, key, 0);
      }
    }
    if (!node[i].IsMap()) {
      fail(node[i], path, "must be a mapping");
    }
    if (c.name.empty() || !has_selector) {
      fail(node[i], path + (c.name.empty() ? ".name" : ".selector"), "required key missing");
    }
    for (std::size_t j = 0; j < out.size(); ++j) {
      if (out[j].name == c.name) {
        fail(node[i]["name"], path + ".name",
             fmt::format("repeats the name of hardwareClasses[{}]", j));
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

// ---- blocks -----------------------------------------------------------------------------------

policy::PerformanceSettings performance(const YAML::Node& node) {
  policy::PerformanceSettings p;
  for (const auto& [k, v] : entries(node, "performance",
                                    {"baseFraction", "min", "max", "perfPodsPerNode",
                                     "performanceCapWatts", "ecoCapWatts"})) {
    const std::string key = "performance." + k;
    if (k == "baseFraction") {
      p.base_fraction = fraction(v, key);
    } else if (k == "min") {
      p.min = integer(v, key, 0);
    } else if (k == "max") {
      p.max = integer(v, key, 0);
    } else if (k == "perfPodsPerNode") {
      p.perf_pods_per_node = integer(v, key, 1);
    } else if (k == "performanceCapWatts") {
      p.performance_cap_watts = watts(v, key);
    } else {
      p.eco_cap_watts = watts(v, key);
    }
  }
  if (p.min && p.max && *p.max < *p.min) {
    fail(node["max"], "performance.max", fmt::format("must not be below min ({})", *p.min));
  }
  return p;
}

std::vector<policy::TimeWindow> windows(const YAML::Node& node) {
  std::vector<policy::TimeWindow> out;
  std::vector<int> lines;
  if (!node || node.IsNull()) {
    return out;
  }
  if (!node.IsSequence()) {
    fail(node, "windows", "must be a list of windows");
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string path = fmt::format("windows[{}]", i);
    policy::TimeWindow w;
    bool has_days = false;
    bool has_start = false;
    bool has_end = false;
    for (const auto& [k, v] : entries(item, path,
                                      {"name", "days", "start", "end", "baseFraction", "min", "max",
                                       "ecoCapWatts", "hardwareClasses"})) {
      const std::string key = path + "." + k;
      if (k == "name") {
        w.name = scalar(v, key);
      } else if (k == "days") {
        if (!v.IsSequence() || v.size() == 0) {
          fail(v, key, "must be a non-empty list of weekdays");
        }
        for (std::size_t d = 0; d < v.size(); ++d) {
          const int day = weekday(v[d], fmt::format("{}[{}]", key, d));
          if (w.days[static_cast<std::size_t>(day)]) {
            fail(v[d], fmt::format("{}[{}]", key, d), "repeated weekday");
          }
          w.days[static_cast<std::size_t>(day)] = true;
        }
        has_days = true;
      } else if (k == "start") {
        w.start_minute = clock_time(v, key, false);
        has_start = true;
      } else if (k == "end") {
        w.end_minute = clock_time(v, key, true);
        has_end = true;
      } else if (k == "baseFraction") {
        w.base_fraction = fraction(v, key);
      } else if (k == "min") {
        w.min = integer(v, key, 0);
      } else if (k == "max") {
        w.max = integer(v, key, 0);
      } else if (k == "hardwareClasses") {
        w.class_eco_caps = window_class_caps(v, key);
      } else {
        w.eco_cap_watts = watts(v, key);
      }
    }
    if (!item.IsMap()) {
      fail(item, path, "must be a mapping");
    }
    if (w.name.empty()) {
      fail(item, path + ".name", "every window needs a name");
    }
    if (!has_days || !has_start || !has_end) {
      fail(item,
           path + "." +
               (!has_days    ? "days"
                : !has_start ? "start"
                             : "end"),
           "required key missing");
    }
    if (w.start_minute == w.end_minute % 1440 && w.end_minute != 1440) {
      fail(item["end"], path + ".end", "a window cannot start and end at the same time");
    }
    if (w.min && w.max && *w.max < *w.min) {
      fail(item["max"], path + ".max", fmt::format("must not be below min ({})", *w.min));
    }
    for (std::size_t j = 0; j < out.size(); ++j) {
      if (out[j].name == w.name) {
        fail(item["name"], path + ".name",
             fmt::format("repeats the name of windows[{}] (line {})", j, lines[j]));
      }
    }
    if (w.end_minute == 1440 && w.start_minute == 0) {
      // 00:00–24:00: the whole day; crosses_midnight() must stay false.
    }
    out.push_back(std::move(w));
    lines.push_back(line_of(item));
    if (auto overlap = policy::overlapping_windows(out)) {
      fail(item, path,
           fmt::format("window \"{}\" overlaps window \"{}\" (windows[{}], line {})",
                       out[overlap->second].name, out[overlap->first].name, overlap->first,
                       lines[overlap->first]));
    }
  }
  return out;
}

policy::TopologySettings topology(const YAML::Node& node) {
  policy::TopologySettings t;
  for (const auto& [k, v] :
       entries(node, "topology", {"zoneLabel", "rackLabel", "minPerformancePerZone"})) {
    const std::string key = "topology." + k;
    if (k == "zoneLabel") {
      t.zone_label = label(v, key);
    } else if (k == "rackLabel") {
      t.rack_label = label(v, key);
    } else {
      t.min_performance_per_zone = integer(v, key, 0);
    }
  }
  return t;
}

policy::StabilitySettings stability(const YAML::Node& node) {
  policy::StabilitySettings s;
  for (const auto& [k, v] : entries(node, "stability", {"minDwell", "changeBudget"})) {
    const std::string key = "stability." + k;
    if (k == "minDwell") {
      s.min_dwell = duration(v, key, true);
    } else {
      const std::string t = scalar(v, key);
      policy::ChangeBudget b;
      std::string_view digits = t;
      if (digits.ends_with('%')) {
        b.percent = true;
        digits.remove_suffix(1);
      }
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), b.value);
      if (ec != std::errc() || end != digits.data() + digits.size() || b.value < 1 ||
          (b.percent && b.value > 100)) {
        fail(v, key,
             fmt::format("\"{}\" is not a node count (≥ 1) or a percent of the managed nodes "
                         "(1%–100%)",
                         t));
      }
      s.change_budget = b;
    }
  }
  return s;
}

policy::NodeSignalConfig node_signal(const YAML::Node& node, const std::string& path) {
  policy::NodeSignalConfig c;
  bool has_query = false;
  for (const auto& [k, v] :
       entries(node, path, {"query", "nodeLabel", "instanceLabel", "instanceRegex", "maxAge"})) {
    const std::string key = path + "." + k;
    if (k == "query") {
      c.query = scalar(v, key);
      has_query = !c.query.empty();
    } else if (k == "nodeLabel") {
      c.node_label = scalar(v, key);
    } else if (k == "instanceLabel") {
      c.instance_label = scalar(v, key);
    } else if (k == "instanceRegex") {
      c.instance_regex = scalar(v, key);
      try {
        std::regex re(c.instance_regex);
        if (re.mark_count() < 1) {
          fail(v, key, "needs a capture group: its first group is the node name");
        }
      } catch (const std::regex_error& e) {
        fail(v, key, fmt::format("invalid regular expression: {}", e.what()));
      }
    } else {
      c.max_age = duration(v, key, false);
    }
  }
  if (!has_query) {
    fail(node, path + ".query", "a PromQL query is required");
  }
  return c;
}

policy::ScopeSignalConfig scope_signal(const YAML::Node& node, const std::string& path) {
  policy::ScopeSignalConfig c;
  for (const auto& [k, v] : entries(node, path, {"query", "zoneLabel", "maxAge"})) {
    const std::string key = path + "." + k;
    if (k == "query") {
      c.query = scalar(v, key);
    } else if (k == "zoneLabel") {
      c.zone_label = text(v, key);
    } else {
      c.max_age = duration(v, key, false);
    }
  }
  if (c.query.empty()) {
    fail(node, path + ".query", "a PromQL query is required");
  }
  return c;
}

policy::ForecastConfig forecast(const YAML::Node& node) {
  const std::string path = "signals.demandForecast";
  policy::ForecastConfig c;
  for (const auto& [k, v] : entries(node, path, {"query", "kserve", "maxAge", "headroom"})) {
    const std::string key = path + "." + k;
    if (k == "query") {
      c.query = scalar(v, key);
    } else if (k == "kserve") {
      policy::KServeConfig ks;
      bool has_endpoint = false;
      for (const auto& [kk, vv] : entries(v, key, {"endpoint", "model", "timeout"})) {
        const std::string sub = key + "." + kk;
        if (kk == "endpoint") {
          ks.endpoint = url(vv, sub);
          has_endpoint = true;
        } else if (kk == "model") {
          ks.model = scalar(vv, sub);
        } else {
          ks.timeout = duration(vv, sub, false);
        }
      }
      if (!has_endpoint) {
        fail(v, key + ".endpoint", "required key missing");
      }
      if (ks.model.empty()) {
        fail(v, key + ".model", "required key missing");
      }
      c.kserve = std::move(ks);
    } else if (k == "maxAge") {
      c.max_age = duration(v, key, false);
    } else {
      c.headroom = number(v, key);
      if (c.headroom < 0) {
        fail(v, key, fmt::format("must not be negative, got {}", c.headroom));
      }
    }
  }
  if (c.query.empty() == !c.kserve.has_value()) {
    fail(node, path, "set exactly one of query (PromQL) and kserve (a model)");
  }
  return c;
}

policy::SignalsConfig signals(const YAML::Node& node) {
  policy::SignalsConfig s;
  YAML::Node prometheus_node;
  for (const auto& [k, v] : entries(
           node, "signals",
           {"prometheus", "nodeTemperature", "nodePower", "pue", "ambient", "demandForecast"})) {
    const std::string key = "signals." + k;
    if (k == "prometheus") {
      prometheus_node = v;
      policy::PrometheusConfig p;
      bool has_endpoint = false;
      for (const auto& [kk, vv] :
           entries(v, key, {"endpoint", "caFile", "bearerTokenFile", "timeout"})) {
        const std::string sub = key + "." + kk;
        if (kk == "endpoint") {
          p.endpoint = url(vv, sub);
          has_endpoint = true;
        } else if (kk == "caFile") {
          p.ca_file = text(vv, sub);
        } else if (kk == "bearerTokenFile") {
          p.bearer_token_file = text(vv, sub);
        } else {
          p.timeout = duration(vv, sub, false);
        }
      }
      if (!has_endpoint) {
        fail(v, key + ".endpoint", "required key missing");
      }
      s.prometheus = std::move(p);
    } else if (k == "nodeTemperature") {
      s.node_temperature = node_signal(v, key);
    } else if (k == "nodePower") {
      s.node_power = node_signal(v, key);
    } else if (k == "pue") {
      s.pue = scope_signal(v, key);
    } else if (k == "ambient") {
      s.ambient = scope_signal(v, key);
    } else {
      s.demand_forecast = forecast(v);
    }
  }
  const bool needs_prometheus = s.node_temperature || s.node_power || s.pue || s.ambient ||
                                (s.demand_forecast && !s.demand_forecast->query.empty());
  if (needs_prometheus && !s.prometheus) {
    fail(node, "signals.prometheus", "PromQL signals need signals.prometheus.endpoint");
  }
  return s;
}

// A window may only name classes the file defines (in either order in the file).
void check_window_classes(const YAML::Node& root, const policy::PolicyFile& f) {
  for (std::size_t i = 0; i < f.windows.size(); ++i) {
    const auto& caps = f.windows[i].class_eco_caps;
    for (std::size_t j = 0; j < caps.size(); ++j) {
      const bool known =
          std::any_of(f.hardware_classes.begin(), f.hardware_classes.end(),
                      [&](const policy::HardwareClass& c) { return c.name == caps[j].first; });
      if (!known) {
        fail(root["windows"][i]["hardwareClasses"][j],
             fmt::format("windows[{}].hardwareClasses[{}].name", i, j),
             fmt::format("no hardware class named \"{}\"", caps[j].first));
      }
    }
  }
}

policy::PolicyFile parse_root(const YAML::Node& root) {
  policy::PolicyFile f;
  if (!root || root.IsNull()) {
    return f;  // an empty file: the flags hold
  }
  for (const auto& [k, v] :
       entries(root, "",
               {"apiVersion", "kind", "policy", "timeZone", "performance", "windows", "topology",
                "stability", "signals", "hardwareClasses"})) {
    if (k == "apiVersion") {
      if (scalar(v, k) != "joulie.io/v1alpha1") {
        fail(v, k, fmt::format("\"{}\" is not supported (want joulie.io/v1alpha1)", v.Scalar()));
      }
    } else if (k == "kind") {
      if (scalar(v, k) != "PolicyConfig") {
        fail(v, k, fmt::format("\"{}\" is not supported (want PolicyConfig)", v.Scalar()));
      }
    } else if (k == "policy") {
      auto kind = policy::parse_policy_kind(scalar(v, k));
      if (!kind.ok()) {
        fail(v, k, kind.error().message);
      }
      f.policy = *kind;
    } else if (k == "timeZone") {
      f.time_zone = scalar(v, k);
      if (!policy::valid_zone_name(f.time_zone)) {
        fail(v, k, fmt::format("\"{}\" is not an IANA time zone name", f.time_zone));
      }
    } else if (k == "performance") {
      f.performance = performance(v);
    } else if (k == "windows") {
      f.windows = windows(v);
    } else if (k == "topology") {
      f.topology = topology(v);
    } else if (k == "stability") {
      f.stability = stability(v);
    } else if (k == "hardwareClasses") {
      f.hardware_classes = hardware_classes(v);
    } else {
      f.signals = signals(v);
    }
  }
  check_window_classes(root, f);
  return f;
}

}  // namespace

Result<LoadedPolicyFile> parse_policy_file(std::string_view text, const std::string& file_name,
                                           const ZoneLoader& zones) {
  auto error = [&](int line, const std::string& key, const std::string& why) {
    std::string where = line > 0 ? fmt::format("{}:{}", file_name, line) : file_name;
    return Error(Errc::invalid_argument, key.empty() ? fmt::format("{}: {}", where, why)
                                                     : fmt::format("{}: {}: {}", where, key, why));
  };
  LoadedPolicyFile out;
  out.content = std::string(text);
  YAML::Node root;
  try {
    root = YAML::Load(out.content);
    out.file = parse_root(root);
  } catch (const Invalid& e) {
    return error(e.line, e.key, e.why);
  } catch (const YAML::Exception& e) {
    return error(e.mark.is_null() ? 0 : e.mark.line + 1, "", "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return error(0, "", std::string("invalid policy file: ") + e.what());
  }
  if (zones) {
    auto zone = zones(out.file.time_zone);
    if (!zone.ok()) {
      int line = 0;
      try {
        line = line_of(root["timeZone"]);
      } catch (const std::exception&) {
      }
      return error(line, "timeZone", zone.error().message);
    }
    out.zone = std::move(*zone);
  }
  return out;
}

std::string zoneinfo_root(const EnvLookup& env) {
  if (env) {
    for (const char* name : {"ZONEINFO", "TZDIR"}) {
      if (auto v = env(name); v && !v->empty()) {
        return *v;
      }
    }
  }
  return "/usr/share/zoneinfo";
}

Result<policy::TimeZone> load_zone(const std::string& name, const std::string& root) {
  if (!policy::valid_zone_name(name)) {
    return Error(Errc::invalid_argument, fmt::format("\"{}\" is not an IANA time zone name", name));
  }
  const std::string path = root + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (name == "UTC" || name == "Etc/UTC") {
      return policy::TimeZone::utc();
    }
    return Error(Errc::invalid_argument,
                 fmt::format("unknown time zone \"{}\" (no {}; is tzdata installed?)", name, path));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  auto zone = policy::TimeZone::from_tzif(name, bytes.str());
  if (!zone.ok()) {
    return Error(Errc::invalid_argument,
                 fmt::format("unknown time zone \"{}\": {}", name, zone.error().message));
  }
  return zone;
}

Result<LoadedPolicyFile> load_policy_file(const std::string& path, const std::string& root) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(Errc::invalid_argument, fmt::format("{}: cannot read the policy file", path));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) {
    return Error(Errc::invalid_argument, fmt::format("{}: cannot read the policy file", path));
  }
  return parse_policy_file(bytes.str(), path,
                           [&root](const std::string& name) { return load_zone(name, root); });
}

}  // namespace joulie::config
