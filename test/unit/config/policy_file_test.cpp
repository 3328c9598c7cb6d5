#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "joulie/config/cli.hpp"
#include "joulie/config/policy_file.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using joulie::config::load_policy_file;
using joulie::config::load_zone;
using joulie::config::parse_policy_file;
using joulie::policy::PolicyKind;

namespace {

const std::string kZoneinfo = "/usr/share/zoneinfo";  // Debian's tzdata (scripts/deps.sh)

joulie::Result<joulie::config::LoadedPolicyFile> parse(const std::string& text) {
  return parse_policy_file(text, "policy.yaml",
                           [](const std::string& name) { return load_zone(name, kZoneinfo); });
}

// The error message of a file that must be refused.
std::string refused(const std::string& text) {
  auto r = parse(text);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

}  // namespace

TEST_CASE("policy file: the documented example parses into every block") {
  // JOULIE_TEST_DATA_DIR is <source>/test/data (which need not exist): the example is at
  // <source>/examples/policy/.
  const std::string data = JOULIE_TEST_DATA_DIR;
  const std::string source = data.substr(0, data.size() - std::string("test/data").size());
  auto r = load_policy_file(source + "examples/policy/context-aware.yaml", kZoneinfo);
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  const auto& f = r->file;
  CHECK(f.policy == PolicyKind::context_aware_v1);
  CHECK(f.time_zone == "Europe/Rome");
  CHECK(r->zone.name() == "Europe/Rome");
  CHECK(f.performance.base_fraction == 0.3);
  CHECK(f.performance.min == 1);
  CHECK(f.performance.max == 100);
  CHECK(f.performance.perf_pods_per_node == 10);
  CHECK(f.performance.performance_cap_watts == 5000);
  CHECK(f.performance.eco_cap_watts == 120);
  REQUIRE(f.windows.size() == 2);
  const auto& night = f.windows[0];
  CHECK(night.name == "night");
  CHECK(night.start_minute == 22 * 60);
  CHECK(night.end_minute == 6 * 60);
  CHECK(night.crosses_midnight());
  for (bool d : night.days) {
    CHECK(d);
  }
  CHECK(night.base_fraction == 0.1);
  CHECK(night.min == 0);
  CHECK(night.max == 20);
  CHECK(night.eco_cap_watts == 100);
  CHECK(f.windows[1].days[0]);
  CHECK_FALSE(f.windows[1].days[1]);
  REQUIRE(f.topology);
  CHECK(f.topology->zone_label == "topology.kubernetes.io/zone");
  CHECK(f.topology->min_performance_per_zone == 1);
  REQUIRE(f.stability);
  CHECK(f.stability->min_dwell == 10min);
  REQUIRE(f.stability->change_budget);
  CHECK(f.stability->change_budget->percent);
  CHECK(f.stability->change_budget->value == 10);
  REQUIRE(f.signals.prometheus);
  CHECK(f.signals.prometheus->endpoint == "http://prometheus.monitoring:9090");
  CHECK(f.signals.prometheus->timeout == 5s);
  REQUIRE(f.signals.node_temperature);
  CHECK(f.signals.node_temperature->node_label == "node");
  CHECK(f.signals.node_temperature->max_age == 2min);
  REQUIRE(f.signals.pue);
  CHECK(f.signals.pue->zone_label == "zone");
  CHECK(f.signals.pue->max_age == 5min);
  REQUIRE(f.signals.demand_forecast);
  CHECK(f.signals.demand_forecast->headroom == 1.2);
  CHECK_FALSE(f.signals.demand_forecast->kserve);
}

TEST_CASE("policy file: the documented shape, kserve forecast and ambient") {
  auto r = parse(R"yaml(apiVersion: joulie.io/v1alpha1
kind: PolicyConfig
policy: queue_aware_v1
signals:
  prometheus: {endpoint: "https://prometheus.monitoring:9090", caFile: /etc/ca.pem, bearerTokenFile: ""}
  ambient: {query: "avg(ambient_celsius)", maxAge: 1m}
  demandForecast: {kserve: {endpoint: "http://forecast.models:8080", model: demand, timeout: 3s}, maxAge: 5m}
)yaml");
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  CHECK(r->file.policy == PolicyKind::queue_aware_v1);
  CHECK(r->file.time_zone == "UTC");
  REQUIRE(r->file.signals.demand_forecast);
  REQUIRE(r->file.signals.demand_forecast->kserve);
  CHECK(r->file.signals.demand_forecast->kserve->endpoint == "http://forecast.models:8080");
  CHECK(r->file.signals.demand_forecast->kserve->model == "demand");
  CHECK(r->file.signals.demand_forecast->kserve->timeout == 3s);
  CHECK(r->file.signals.demand_forecast->headroom == 1.0);
  REQUIRE(r->file.signals.ambient);
  CHECK(r->file.signals.ambient->zone_label.empty());
  CHECK(r->file.signals.ambient->max_age == 1min);
  CHECK(r->file.signals.prometheus->ca_file == "/etc/ca.pem");
  CHECK(r->file.signals.prometheus->bearer_token_file.empty());
}

TEST_CASE("policy file: an empty file or only some blocks leave the rest unset") {
  auto empty = parse("");
  REQUIRE(empty.ok());
  CHECK_FALSE(empty->file.policy);
  CHECK(empty->file.windows.empty());
  CHECK_FALSE(empty->file.signals.any());
  auto some = parse("stability: {changeBudget: 3}\n");
  REQUIRE(some.ok());
  CHECK_FALSE(some->file.stability->change_budget->percent);
  CHECK(some->file.stability->change_budget->value == 3);
  CHECK(some->file.stability->min_dwell == 0s);
}

TEST_CASE("policy file: errors name the file, the line and the key") {
  struct Case {
    const char* text;
    const char* message;  // expected substring
  };
  const Case cases[] = {
      {"policy: static_partition\nperfomance: {min: 1}\n",
       "policy.yaml:2: perfomance: unknown key"},
      {"performance:\n  baseFraction: 0.3\n  mni: 1\n",
       "policy.yaml:3: performance.mni: unknown key"},
      {"stability: {minDwell: 10 minutes}\n", "policy.yaml:1: stability.minDwell:"},
      {"stability: {minDwell: -1m}\n", "stability.minDwell: must be a non-negative duration"},
      {"stability: {changeBudget: \"0\"}\n", "stability.changeBudget:"},
      {"stability: {changeBudget: 150%}\n", "stability.changeBudget:"},
      {"timeZone: Europe/Atlantis\n",
       "policy.yaml:1: timeZone: unknown time zone \"Europe/Atlantis\""},
      {"timeZone: ../etc/passwd\n", "policy.yaml:1: timeZone: \"../etc/passwd\" is not an IANA"},
      {"windows:\n  - {name: a, days: [Mon, Funday], start: \"01:00\", end: \"02:00\"}\n",
       "policy.yaml:2: windows[0].days[1]: unknown weekday \"Funday\""},
      {"windows:\n  - {name: a, days: [Mon], start: \"25:00\", end: \"02:00\"}\n",
       "windows[0].start: \"25:00\" is not a time of day"},
      {"windows:\n  - {name: a, days: [Mon], start: \"01:00\"}\n",
       "windows[0].end: required key missing"},
      {"windows:\n"
       "  - {name: night, days: [Mon], start: \"22:00\", end: \"06:00\"}\n"
       "  - {name: early, days: [Tue], start: \"05:00\", end: \"07:00\"}\n",
       "policy.yaml:3: windows[1]: window \"early\" overlaps window \"night\" (windows[0], line "
       "2)"},
      {"windows:\n"
       "  - {name: sunday-night, days: [Sun], start: \"23:00\", end: \"01:00\"}\n"
       "  - {name: monday, days: [Mon], start: \"00:30\", end: \"02:00\"}\n",
       "overlaps window \"sunday-night\""},
      {"windows:\n"
       "  - {name: a, days: [Mon], start: \"01:00\", end: \"02:00\"}\n"
       "  - {name: a, days: [Tue], start: \"01:00\", end: \"02:00\"}\n",
       "windows[1].name: repeats the name"},
      {"windows:\n  - {name: a, days: [Mon], start: \"01:00\", end: \"01:00\"}\n",
       "cannot start and end at the same time"},
      {"performance: {baseFraction: 1.5}\n", "performance.baseFraction: must be a fraction"},
      {"performance: {min: 5, max: 2}\n", "performance.max: must not be below min"},
      {"performance: {perfPodsPerNode: 0}\n", "performance.perfPodsPerNode: must be at least 1"},
      {"performance: {ecoCapWatts: 5}\n",
       "performance.ecoCapWatts: must be between 10 and 100000 W"},
      {"performance: {ecoCapWatts: abc}\n", "performance.ecoCapWatts: \"abc\" is not a number"},
      {"policy: fastest\n", "policy.yaml:1: policy: unknown policy \"fastest\""},
      {"kind: Deployment\n", "kind: \"Deployment\" is not supported"},
      {"topology: {minPerformancePerZone: -1}\n",
       "topology.minPerformancePerZone: must be at least 0"},
      {"topology: {zoneLabel: \"bad key!\"}\n", "topology.zoneLabel: invalid label key"},
      {"signals:\n  nodeTemperature: {query: \"up\"}\n",
       "signals.prometheus: PromQL signals need signals.prometheus.endpoint"},
      {"signals:\n  prometheus: {endpoint: \"prometheus:9090\"}\n",
       "signals.prometheus.endpoint: \"prometheus:9090\" is not an http"},
      {"signals:\n  prometheus: {endpoint: \"http://p:9090\"}\n"
       "  demandForecast: {query: up, kserve: {endpoint: \"http://m\", model: x}}\n",
       "policy.yaml:3: signals.demandForecast: set exactly one of query"},
      {"signals:\n  demandForecast: {kserve: {endpoint: \"http://m\"}}\n",
       "signals.demandForecast.kserve.model: required key missing"},
      {"signals:\n  prometheus: {endpoint: \"http://p:9090\"}\n"
       "  nodePower: {query: up, instanceLabel: instance, instanceRegex: \"([a-z\"}\n",
       "signals.nodePower.instanceRegex: invalid regular expression"},
      {"signals:\n  prometheus: {endpoint: \"http://p:9090\", timeout: 0s}\n",
       "signals.prometheus.timeout: must be a positive duration"},
      {"policy: [a, b]\n", "policy.yaml:1: policy: must be a single value"},
      {"windows: {name: a}\n", "windows: must be a list of windows"},
      {"a: [unclosed\n", "policy.yaml:2: invalid YAML"},
      {"performance: {min: 1, min: 2}\n", "performance.min: repeated key"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK_THAT(refused(c.text), Catch::Contains(c.message));
  }
}

TEST_CASE("policy file: a Sunday-night window and a Monday window that do not overlap") {
  auto r = parse(
      "windows:\n"
      "  - {name: sunday-night, days: [Sun], start: \"22:00\", end: \"06:00\"}\n"
      "  - {name: monday, days: [Monday], start: \"06:00\", end: \"24:00\"}\n");
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  CHECK(r->file.windows[1].end_minute == 1440);
  CHECK_FALSE(r->file.windows[1].crosses_midnight());
}

TEST_CASE("time zones: UTC without tzdata, a missing root fails by name") {
  joulie::test::TempDir empty;
  auto utc = load_zone("UTC", empty.path().string());
  REQUIRE(utc.ok());
  CHECK(utc->local(joulie::SystemTime{}).abbreviation == "UTC");
  auto rome = load_zone("Europe/Rome", empty.path().string());
  REQUIRE_FALSE(rome.ok());
  CHECK_THAT(rome.error().message, Catch::Contains("Europe/Rome"));
  // A file that is not TZif is refused, not misread.
  joulie::test::write_file(empty.path() / "Bogus/Zone", "not a zone");
  auto bogus = load_zone("Bogus/Zone", empty.path().string());
  REQUIRE_FALSE(bogus.ok());
  CHECK_THAT(bogus.error().message, Catch::Contains("not a TZif file"));
}

TEST_CASE("operator flags: --policy-config reads the file; a bad one is a usage error") {
  joulie::test::TempDir dir;
  const auto good = dir.path() / "good.yaml";
  const auto bad = dir.path() / "bad.yaml";
  joulie::test::write_file(good, "policy: context_aware_v1\nperformance: {ecoCapWatts: 90}\n");
  joulie::test::write_file(bad, "policy: context_aware_v1\nstability: {minDwel: 1m}\n");
  auto env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };

  auto ok = joulie::config::parse_command_line({"operator", "--policy-config", good.string()}, env);
  REQUIRE(ok.ok());
  const auto& config = ok->operator_config;
  REQUIRE(config.policy_file);
  CHECK(config.policy_file->file.policy == PolicyKind::context_aware_v1);
  CHECK(config.policy_file->file.performance.eco_cap_watts == 90);

  auto from_env = [&](std::string_view name) -> std::optional<std::string> {
    if (name == "POLICY_CONFIG") {
      return bad.string();
    }
    return std::nullopt;
  };
  auto refused_file = joulie::config::parse_command_line({"operator"}, from_env);
  REQUIRE_FALSE(refused_file.ok());
  CHECK(refused_file.error().code == joulie::Errc::invalid_argument);
  CHECK_THAT(refused_file.error().message, Catch::Contains("POLICY_CONFIG") &&
                                               Catch::Contains(bad.string() + ":2:") &&
                                               Catch::Contains("stability.minDwel: unknown key"));
}

TEST_CASE("policy file and TZif: mangled input is an error value, never a crash") {
  const std::string data = JOULIE_TEST_DATA_DIR;
  const std::string source = data.substr(0, data.size() - std::string("test/data").size());
  std::ifstream in(source + "examples/policy/context-aware.yaml", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  std::ifstream tz(kZoneinfo + "/Europe/Rome", std::ios::binary);
  std::ostringstream tzif;
  tzif << tz.rdbuf();
  REQUIRE(text.str().size() > 100);
  REQUIRE(tzif.str().size() > 100);

  std::mt19937 rng(7);
  const char alphabet[] = "{}[]:,-\"'#&*!|>%@` \n\t\\0aZ9";
  std::size_t refused = 0;
  for (int round = 0; round < 1500; ++round) {
    std::string yaml = text.str();
    std::string bytes = tzif.str();
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % yaml.size();
      switch (rng() % 3) {
        case 0:
          yaml[at] = alphabet[rng() % (sizeof alphabet - 1)];
          break;
        case 1:
          yaml.erase(at, 1 + rng() % 8);
          break;
        default:
          yaml.resize(at);
          break;
      }
      if (yaml.empty()) {
        yaml.push_back('x');  // (assigning a literal trips GCC 12's -Wrestrict false positive)
      }
      const std::size_t b = rng() % bytes.size();
      if (rng() % 2 == 0) {
        bytes[b] = static_cast<char>(rng() % 256);
      } else {
        bytes.resize(b);
      }
      if (bytes.empty()) {
        bytes.push_back('T');
      }
    }
    auto r = parse(yaml);
    refused += r.ok() ? 0 : 1;
    if (!r.ok()) {
      CHECK_THAT(r.error().message, Catch::StartsWith("policy.yaml"));
    }
    auto zone = joulie::policy::TimeZone::from_tzif("x", bytes);
    if (zone.ok()) {
      (void)zone->local(joulie::SystemTime{} + std::chrono::hours(24 * 365 * 57));
    }
  }
  CHECK(refused > 0);
}

TEST_CASE("operator flags: a set flag or variable the policy file overrides is named, once") {
  joulie::test::TempDir dir;
  const auto file = dir.path() / "policy.yaml";
  joulie::test::write_file(file,
                           "policy: context_aware_v1\n"
                           "performance: {baseFraction: 0.3, ecoCapWatts: 90}\n");
  auto env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "POLICY_TYPE") {
      return "queue_aware_v1";
    }
    return std::nullopt;
  };
  // POLICY_TYPE and --eco-cap-watts lose to the file; --performance-cap-watts and --queue-hp-max
  // are set but the file has no such key, so they hold and are not named.
  auto parsed = joulie::config::parse_command_line(
      {"operator", "--policy-config", file.string(), "--eco-cap-watts", "120",
       "--performance-cap-watts", "400", "--queue-hp-max", "3"},
      env);
  REQUIRE(parsed.ok());
  const auto& named = parsed->operator_config.overridden_by_file;
  REQUIRE(named.size() == 2);
  CHECK_THAT(named[0], Catch::Contains("POLICY_TYPE") && Catch::Contains("policy file key policy"));
  CHECK_THAT(named[1],
             Catch::Contains("--eco-cap-watts") && Catch::Contains("performance.ecoCapWatts"));

  // Nothing set by the user: nothing to name, whatever the file holds.
  auto quiet = joulie::config::parse_command_line(
      {"operator", "--policy-config", file.string()},
      [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
  REQUIRE(quiet.ok());
  CHECK(quiet->operator_config.overridden_by_file.empty());
}
