#include <catch2/catch.hpp>
#include <cstdio>
#include <ctime>

#include "joulie/common/metrics.hpp"
#include "joulie/signals/collector.hpp"
#include "scripted_server.hpp"

using namespace joulie;
using namespace joulie::signals;
using joulie::policy::SignalHealth;
using joulie::test::prom_vector;
using joulie::test::ScriptedServer;
using namespace std::chrono_literals;

namespace {

constexpr double kSampleTs = 1764756000.0;
SystemTime sample_time() { return SystemTime(std::chrono::seconds(1764756000)); }

policy::Context context_with_nodes(std::vector<std::pair<std::string, std::string>> nodes,
                                   SystemTime now) {
  policy::Context c;
  c.now = now;
  for (auto& [name, zone] : nodes) {
    policy::NodeContext n;
    n.name = name;
    n.zone = zone;
    c.nodes.push_back(n);
  }
  return c;
}

struct Bench {
  ScriptedServer prometheus;
  ManualClock clock{sample_time() + 10s};
  metrics::Registry registry;
  std::vector<std::pair<std::string, bool>> changes;

  CollectorOptions options() {
    CollectorOptions o;
    o.clock = &clock;
    o.metrics = &registry;
    o.prometheus_retry_delay = 1ms;
    o.on_source_change = [this](const std::string& source, bool up, const std::string&) {
      changes.emplace_back(source, up);
    };
    return o;
  }
  policy::SignalsConfig power_config() {
    policy::SignalsConfig c;
    c.prometheus = policy::PrometheusConfig{prometheus.url(), "", "", 1s};
    c.node_power = policy::NodeSignalConfig{"node_power", "node", "", "", 2min};
    return c;
  }
  double gauge(const std::string& name, const std::string& label) {
    std::string text = registry.expose();
    std::string key = name + "{" + label + "} ";
    auto pos = text.find(key);
    if (pos == std::string::npos) {
      return -1;
    }
    return std::stod(text.substr(pos + key.size()));
  }
};

}  // namespace

TEST_CASE("per-node signals: value and sample time, NaN missing, duplicates an error") {
  Bench b;
  b.prometheus.script("/api/v1/query", {{200, prom_vector({{{{"node", "n1"}}, "150"},
                                                           {{{"node", "n2"}}, "NaN"},
                                                           {{{"node", "n3"}}, "1"},
                                                           {{{"node", "n3"}, {"x", "y"}}, "2"},
                                                           {{{"other", "n4"}}, "5"}},
                                                          kSampleTs)}});
  SignalCollector collector(b.power_config(), b.options());
  collector.collect_once();
  auto c = context_with_nodes({{"n1", ""}, {"n2", ""}, {"n3", ""}, {"n4", ""}}, b.clock.now());
  collector.fill(c);
  CHECK(c.nodes[0].power_watts.health == SignalHealth::ok);
  CHECK(c.nodes[0].power_watts.get() == 150.0);
  CHECK(c.nodes[0].power_watts.sampled_at == sample_time());
  CHECK(c.nodes[0].power_watts.source == "prometheus");
  CHECK(policy::age_seconds(c.nodes[0].power_watts, c.now) == Approx(10));
  CHECK(c.nodes[1].power_watts.health == SignalHealth::missing);
  CHECK(c.nodes[1].power_watts.message == "value is NaN");
  CHECK(c.nodes[2].power_watts.health == SignalHealth::error);
  CHECK_THAT(c.nodes[2].power_watts.message, Catch::Contains("2 series"));
  CHECK(c.nodes[3].power_watts.health == SignalHealth::missing);
  CHECK_FALSE(c.nodes[3].power_watts.get().has_value());
  // Temperature is not configured: left missing, no source.
  CHECK(c.nodes[0].temperature_celsius.health == SignalHealth::missing);
  CHECK(c.nodes[0].temperature_celsius.source.empty());
  CHECK(b.gauge("joulie_context_signal_age_seconds", "signal=\"nodePower\"") == Approx(10));
  CHECK(b.gauge("joulie_context_source_up", "source=\"prometheus\"") == 1);
}

TEST_CASE("a failed query keeps the freshest sample until maxAge, then the signal is stale") {
  Bench b;
  b.prometheus.script("/api/v1/query",
                      {{200, prom_vector({{{{"node", "n1"}}, "150"}}, kSampleTs)}, {500, "down"}});
  SignalCollector collector(b.power_config(), b.options());
  collector.collect_once();
  collector.collect_once();  // fails (500 twice: one retry)
  auto c = context_with_nodes({{"n1", ""}, {"n2", ""}}, b.clock.now());
  collector.fill(c);
  CHECK(c.nodes[0].power_watts.get() == 150.0);
  CHECK(c.nodes[1].power_watts.health == SignalHealth::error);
  CHECK_THAT(c.nodes[1].power_watts.message, Catch::Contains("HTTP 500"));

  b.clock.advance(3min);
  c.now = b.clock.now();
  collector.fill(c);
  CHECK(c.nodes[0].power_watts.health == SignalHealth::stale);
  CHECK_FALSE(c.nodes[0].power_watts.get().has_value());
  CHECK_THAT(c.nodes[0].power_watts.message, Catch::Contains("maxAge 2m0s"));
}

TEST_CASE("a sample older than maxAge from the source is stale at once") {
  Bench b;
  b.prometheus.script("/api/v1/query",
                      {{200, prom_vector({{{{"node", "n1"}}, "150"}}, kSampleTs - 600)}});
  SignalCollector collector(b.power_config(), b.options());
  collector.collect_once();
  auto c = context_with_nodes({{"n1", ""}}, b.clock.now());
  collector.fill(c);
  CHECK(c.nodes[0].power_watts.health == SignalHealth::stale);
}

TEST_CASE("a source going down and coming back is one change each, not one per round") {
  Bench b;
  b.prometheus.script("/api/v1/query", {{200, prom_vector({}, kSampleTs)}});
  auto config = b.power_config();
  SignalCollector collector(config, b.options());
  collector.collect_once();
  CHECK(b.changes.empty());  // first contact that works is not news
  auto down = config;
  down.prometheus->endpoint = "http://127.0.0.1:1";
  collector.reconfigure(down);
  for (int i = 0; i < 3; ++i) {
    collector.collect_once();
  }
  CHECK(b.gauge("joulie_context_source_up", "source=\"prometheus\"") == 0);
  collector.reconfigure(config);
  collector.collect_once();
  collector.collect_once();
  using Change = std::pair<std::string, bool>;
  CHECK(b.changes == std::vector<Change>{{"prometheus", false}, {"prometheus", true}});
  CHECK(b.gauge("joulie_context_source_up", "source=\"prometheus\"") == 1);
}

TEST_CASE("a status: error answer makes the signal an error but the source stays up") {
  Bench b;
  b.prometheus.script(
      "/api/v1/query",
      {{400, R"({"status":"error","errorType":"bad_data","error":"parse error"})"}});
  SignalCollector collector(b.power_config(), b.options());
  collector.collect_once();
  auto c = context_with_nodes({{"n1", ""}}, b.clock.now());
  collector.fill(c);
  CHECK(c.nodes[0].power_watts.health == SignalHealth::error);
  CHECK_THAT(c.nodes[0].power_watts.message, Catch::Contains("bad_data"));
  CHECK(b.changes.empty());
  CHECK(b.gauge("joulie_context_source_up", "source=\"prometheus\"") == 1);
}

TEST_CASE("instance label and regex map series to nodes") {
  Bench b;
  auto config = b.power_config();
  config.node_power->instance_label = "instance";
  config.node_power->instance_regex = "([^:]+):9100";
  b.prometheus.script(
      "/api/v1/query",
      {{200, prom_vector({{{{"instance", "n1:9100"}}, "80"}, {{{"instance", "n2:9999"}}, "90"}},
                         kSampleTs)}});
  SignalCollector collector(config, b.options());
  collector.collect_once();
  auto c = context_with_nodes({{"n1", ""}, {"n2", ""}}, b.clock.now());
  collector.fill(c);
  CHECK(c.nodes[0].power_watts.get() == 80.0);
  CHECK(c.nodes[1].power_watts.health == SignalHealth::missing);

  config.node_power->instance_regex = "([";
  collector.reconfigure(config);
  collector.collect_once();
  collector.fill(c);
  CHECK(c.nodes[0].power_watts.health == SignalHealth::error);
  CHECK_THAT(c.nodes[0].power_watts.message, Catch::Contains("not a valid regular expression"));
}

TEST_CASE("pue per zone and cluster-wide; several series for a cluster value are an error") {
  Bench b;
  policy::SignalsConfig config;
  config.prometheus = policy::PrometheusConfig{b.prometheus.url(), "", "", 1s};
  config.pue = policy::ScopeSignalConfig{"pue", "zone", 5min};
  b.prometheus.script(
      "/api/v1/query",
      {{200, prom_vector({{{{"zone", "a"}}, "1.2"}, {{{"zone", "b"}}, "+Inf"}}, kSampleTs)}});
  SignalCollector collector(config, b.options());
  collector.collect_once();
  auto c = context_with_nodes({{"n1", "a"}, {"n2", "b"}, {"n3", "c"}}, b.clock.now());
  collector.fill(c);
  CHECK(c.zone_pue.at("a").get() == 1.2);
  CHECK(c.zone_pue.at("b").health == SignalHealth::missing);
  CHECK(c.zone_pue.at("c").health == SignalHealth::missing);
  CHECK(c.pue.health == SignalHealth::missing);

  config.pue->zone_label = "";
  collector.reconfigure(config);
  collector.collect_once();
  policy::Context cluster = context_with_nodes({}, b.clock.now());
  collector.fill(cluster);
  CHECK(cluster.pue.health == SignalHealth::error);
  CHECK_THAT(cluster.pue.message, Catch::Contains("2 series"));
  CHECK(cluster.zone_pue.empty());
}

TEST_CASE("demandForecast from an OIP v2 model: ready → value; not ready or NaN → not usable") {
  Bench b;
  ScriptedServer model;
  policy::SignalsConfig config;
  config.demand_forecast =
      policy::ForecastConfig{"", policy::KServeConfig{model.url(), "demand", 1s}, 5min, 1.0};
  int demand = 3;
  auto options = b.options();
  options.demand = [&demand] { return static_cast<double>(demand); };
  model.script("/v2/models/demand/ready", {{200, ""}});
  model.script("/v2/models/demand/infer", {{200, R"({"outputs":[{"data":[42]}]})"}});
  SignalCollector collector(config, options);
  collector.collect_once();
  policy::Context c = context_with_nodes({}, b.clock.now());
  collector.fill(c);
  CHECK(c.demand_forecast.get() == 42.0);
  CHECK(c.demand_forecast.source == "kserve");
  CHECK_THAT(model.seen().back().body, Catch::Contains("[3.0,3.0,3.0"));

  model.script("/v2/models/demand/infer", {{200, R"({"outputs":[{"data":["NaN"]}]})"}});
  b.clock.advance(6min);  // the good value ages out
  collector.collect_once();
  c.now = b.clock.now();
  collector.fill(c);
  CHECK_FALSE(c.demand_forecast.get().has_value());
  CHECK(c.demand_forecast.health == SignalHealth::stale);
  CHECK_THAT(c.demand_forecast.message, Catch::Contains("not a number"));

  model.script("/v2/models/demand/ready", {{503, ""}});
  config.demand_forecast->kserve->model = "demand";  // same identity: samples kept
  collector.collect_once();
  collector.fill(c);
  CHECK_THAT(c.demand_forecast.message, Catch::Contains("not ready"));
  using Change = std::pair<std::string, bool>;
  CHECK(b.changes == std::vector<Change>{{"kserve", false}});
}

TEST_CASE("fill never waits for a slow source: it reads what the rounds left") {
  Bench b;
  b.prometheus.script("/api/v1/query", {{200, prom_vector({}, kSampleTs), 2000ms}});
  auto config = b.power_config();
  config.prometheus->timeout = 5s;
  SignalCollector collector(config, b.options());
  collector.start();
  // Wait (bounded) until the round's query is in flight on the collector's thread.
  for (int i = 0; i < 500 && b.prometheus.count("/api/v1/query") == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(b.prometheus.count("/api/v1/query") == 1);
  auto c = context_with_nodes({{"n1", ""}}, b.clock.now());
  collector.fill(c);
  CHECK(collector.rounds() == 0);  // fill returned while the round is still waiting
  CHECK(c.nodes[0].power_watts.health == SignalHealth::missing);
  CHECK_THAT(c.nodes[0].power_watts.message, Catch::Contains("no answer from prometheus yet"));
  collector.stop();
}

// Figures for docs/benchmarks.md, not assertions: `unit_signals "[.benchmark]"`.
// CPU time of this process in ms (the machine is shared: wall time is noisy).
double cpu_now() { return 1000.0 * static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

TEST_CASE("benchmark: a 5 000-node reply decoded, and fill() for 5 000 nodes", "[.benchmark]") {
  Bench b;
  std::vector<std::pair<std::map<std::string, std::string>, std::string>> series;
  std::vector<std::pair<std::string, std::string>> nodes;
  for (int i = 0; i < 5000; ++i) {
    std::string name = "node-" + std::to_string(i);
    series.push_back({{{"node", name}, {"instance", name + ":9100"}}, "123.5"});
    nodes.emplace_back(name, "zone-" + std::to_string(i % 10));
  }
  std::string body = prom_vector(series, kSampleTs);
  auto start = cpu_now();
  constexpr int kDecodes = 20;
  for (int i = 0; i < kDecodes; ++i) {
    REQUIRE(decode_prom_reply(200, body).ok());
  }
  double decode_ms = (cpu_now() - start) / kDecodes;
  b.prometheus.script("/api/v1/query", {{200, body}});
  auto config = b.power_config();
  config.node_temperature = config.node_power;
  SignalCollector collector(config, b.options());
  start = cpu_now();
  collector.collect_once();
  double round_ms = (cpu_now() - start);
  auto c = context_with_nodes(nodes, b.clock.now());
  constexpr int kFills = 50;
  start = cpu_now();
  for (int i = 0; i < kFills; ++i) {
    collector.fill(c);
  }
  double fill_ms = (cpu_now() - start) / kFills;
  REQUIRE(c.nodes[4999].power_watts.get() == 123.5);
  std::printf(
      "reply %zu bytes, CPU time: decode %.2f ms; round (2 signals, HTTP) %.2f ms; fill %.3f ms\n",
      body.size(), decode_ms, round_ms, fill_ms);
}
