#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

#include "joulie/policy/policies.hpp"

using namespace joulie::policy;
using joulie::Errc;
using joulie::api::Profile;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> nodes(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back("node-" + std::to_string(i));
  }
  return out;
}

// "PPE" style summary of a plan.
std::string profiles(const PolicyPlan& plan) {
  std::string out;
  for (const auto& n : plan.nodes) {
    out += n.profile == Profile::performance ? 'P' : 'E';
  }
  return out;
}

joulie::SystemTime at_unix(std::int64_t seconds) {
  return joulie::SystemTime{} + std::chrono::seconds(seconds);
}

// A Context of `names` with `pods` performance-sensitive pods (nullopt: pods unknown) at `now`.
Context context_of(const std::vector<std::string>& names, std::optional<std::int64_t> pods,
                   joulie::SystemTime now = {}) {
  Context c;
  for (const auto& name : names) {
    c.nodes.push_back(NodeContext{});
    c.nodes.back().name = name;
  }
  c.pods_known = pods.has_value();
  c.workloads.cluster.unknown = pods.value_or(0);
  c.now = now;
  return c;
}

}  // namespace

TEST_CASE("round half away from zero") {
  CHECK(round_half_away(0.5) == 1);
  CHECK(round_half_away(1.5) == 2);
  CHECK(round_half_away(2.5) == 3);  // not banker's rounding
  CHECK(round_half_away(1.49) == 1);
  CHECK(round_half_away(-0.5) == -1);
  CHECK(round_half_away(0.0) == 0);
  CHECK(round_half_away(std::numeric_limits<double>::quiet_NaN()) == 0);
  CHECK(round_half_away(1e300) > 0);  // saturates, no UB
}

TEST_CASE("static_partition vectors") {
  struct Case {
    int n;
    double frac;
    std::int64_t hp;
  };
  const Case cases[] =
      {
          {5, 0.6, 3},  {3, 0.5, 2},   {1, 0.5, 1}, {0, 0.5, 0}, {4, 0.5, 2},
          {4, 0.0, 0},  {4, 1.0, 4},   {5, 0.5, 3}, {7, 0.3, 2}, {5, 0.3, 2},
          {2, 0.25, 1}, {10, 0.05, 1}, {4, 1.7, 4},  // clamped to N
          {4, -0.3, 0},                              // clamped to 0
      };
  for (const auto& c : cases) {
    INFO("N=" << c.n << " frac=" << c.frac);
    CHECK(static_partition_count(c.n, c.frac) == c.hp);
  }
}

TEST_CASE("static_partition: the first hp nodes of the sorted list are performance") {
  PolicyConfig config;
  config.kind = PolicyKind::static_partition;
  config.base_fraction = 0.6;
  const auto managed = nodes(5);
  auto plan_result = plan(config, {context_of(managed, std::nullopt)});
  REQUIRE(plan_result.ok());
  CHECK(plan_result->policy_name == "static-partition-v1");
  CHECK(plan_result->performance_nodes == 3);
  CHECK(profiles(*plan_result) == "PPPEE");
  CHECK(plan_result->nodes[0].node == "node-0");
  CHECK(plan_result->nodes[4].node == "node-4");
}

TEST_CASE("queue_aware_v1 vectors") {
  struct Case {
    const char* what;
    int n;
    double base_frac;
    std::int64_t min, max, per_hp, pods;
    std::int64_t hp;
  };
  const Case cases[] = {
      {"spec: P=0 → base", 5, 0.6, 1, 5, 10, 0, 3},
      {"spec: P=40 → ceil(40/10)", 5, 0.6, 1, 5, 10, 40, 4},
      {"spec: N=3 0.34 P=2", 3, 0.34, 1, 3, 2, 2, 1},
      {"need rounds up", 5, 0.0, 0, 5, 10, 11, 2},
      {"need beyond N clamps to N", 5, 0.6, 1, 1000000, 10, 1000, 5},
      {"max caps the count", 5, 0.6, 1, 2, 10, 40, 2},
      {"min lifts the count", 5, 0.0, 4, 5, 10, 0, 4},
      {"min beyond N clamps to N", 3, 0.0, 10, 20, 10, 0, 3},
      {"min < 0 reads as 0", 5, 0.0, -3, 5, 10, 0, 0},
      {"max ≤ 0 reads as N", 5, 0.0, 0, 0, 1, 4, 4},
      {"max -1 reads as N", 5, 0.0, 0, -1, 1, 100, 5},
      {"max < min → max = min", 5, 0.0, 3, 2, 10, 0, 3},
      {"perPerHP 0 reads as 1", 5, 0.0, 0, 5, 0, 2, 2},
      {"perPerHP negative reads as 1", 5, 0.0, 0, 5, -4, 3, 3},
      {"negative pod count is no demand", 5, 0.2, 0, 5, 10, -7, 1},
      {"no nodes", 0, 0.6, 1, 5, 10, 40, 0},
      {"huge pod counts do not overflow", 5, 0.0, 0, 5, 3, std::numeric_limits<std::int64_t>::max(),
       5},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    PolicyConfig config;
    config.kind = PolicyKind::queue_aware_v1;
    config.base_fraction = c.base_frac;
    config.min = c.min;
    config.max = c.max;
    config.perf_pods_per_node = c.per_hp;
    CHECK(queue_aware_count(c.n, c.pods, config) == c.hp);
  }
}

TEST_CASE("queue_aware_v1 plan, and unknown pods plan the base count") {
  PolicyConfig config;
  config.kind = PolicyKind::queue_aware_v1;
  config.base_fraction = 0.6;
  config.min = 1;
  config.max = 5;
  config.perf_pods_per_node = 10;
  const auto managed = nodes(5);

  auto busy = plan(config, {context_of(managed, 40)});
  REQUIRE(busy.ok());
  CHECK(busy->policy_name == "queue-aware-v1");
  CHECK(profiles(*busy) == "PPPPE");

  auto unknown = plan(config, {context_of(managed, std::nullopt)});
  REQUIRE(unknown.ok());
  CHECK(profiles(*unknown) == "PPPEE");
}

TEST_CASE("rule_swap_v1: phase = floor(unix / interval) mod 2") {
  CHECK(rule_swap_phase(at_unix(0), 60s) == 0);
  CHECK(rule_swap_phase(at_unix(59), 60s) == 0);
  CHECK(rule_swap_phase(at_unix(60), 60s) == 1);
  CHECK(rule_swap_phase(at_unix(119), 60s) == 1);
  CHECK(rule_swap_phase(at_unix(120), 60s) == 0);
  CHECK(rule_swap_phase(at_unix(1764410400), 1s) == 0);
  CHECK(rule_swap_phase(at_unix(1764410401), 1s) == 1);
  CHECK(rule_swap_phase(at_unix(3), 1500ms) == 0);  // 3 / 1.5 = 2
  CHECK(rule_swap_phase(at_unix(2), 1500ms) == 1);
  CHECK(rule_swap_phase(at_unix(-1), 60s) == 1);  // floor, not truncation
  // Sub-second parts of now do not move the phase early.
  CHECK(rule_swap_phase(at_unix(59) + 999ms, 60s) == 0);
}

TEST_CASE("rule_swap_v1 plans") {
  PolicyConfig config;
  config.kind = PolicyKind::rule_swap_v1;
  config.interval = 60s;
  struct Case {
    int n;
    std::int64_t unix_seconds;
    const char* expected;
    std::int64_t hp;
  };
  const Case cases[] = {
      {4, 0, "EPPP", 3}, {4, 60, "PEPP", 3}, {4, 120, "EPPP", 3}, {2, 61, "PE", 1},
      {1, 0, "E", 0},    {1, 60, "P", 1},    {0, 0, "", 0},
  };
  for (const auto& c : cases) {
    INFO("N=" << c.n << " t=" << c.unix_seconds);
    const auto managed = nodes(c.n);
    auto p = plan(config, {context_of(managed, std::nullopt, at_unix(c.unix_seconds))});
    REQUIRE(p.ok());
    CHECK(p->policy_name == "rule-swap-v1");
    CHECK(profiles(*p) == c.expected);
    CHECK(p->performance_nodes == c.hp);
  }
}

TEST_CASE("rule_swap_v1 refuses sub-second intervals instead of crashing") {
  PolicyConfig config;
  config.kind = PolicyKind::rule_swap_v1;
  const auto managed = nodes(3);
  for (auto interval : {joulie::Duration(0), joulie::Duration(999ms), joulie::Duration(-5s)}) {
    config.interval = interval;
    auto p = plan(config, {context_of(managed, std::nullopt, at_unix(100))});
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().code == Errc::invalid_argument);
    CHECK_THAT(p.error().message, Catch::Contains("at least 1s"));
    CHECK_FALSE(validate(config).ok());
  }
  config.interval = 1s;
  CHECK(validate(config).ok());
}

TEST_CASE("policy names") {
  CHECK(parse_policy_kind("static_partition").value() == PolicyKind::static_partition);
  CHECK(parse_policy_kind("queue_aware_v1").value() == PolicyKind::queue_aware_v1);
  CHECK(parse_policy_kind("rule_swap_v1").value() == PolicyKind::rule_swap_v1);
  for (const char* bad : {"", "static-partition-v1", "Static_Partition", "queue_aware"}) {
    INFO(bad);
    auto r = parse_policy_kind(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK_THAT(r.error().message, Catch::Contains(std::string("\"") + bad + "\""));
  }
  CHECK(spec_name(PolicyKind::queue_aware_v1) == "queue-aware-v1");
  CHECK(config_name(PolicyKind::rule_swap_v1) == "rule_swap_v1");
}

TEST_CASE("configuration validation names the bad field") {
  struct Case {
    const char* what;
    void (*mutate)(PolicyConfig&);
    const char* needle;
  };
  const Case cases[] = {
      {"frac > 1", [](PolicyConfig& c) { c.base_fraction = 1.5; }, "baseFraction"},
      {"frac < 0", [](PolicyConfig& c) { c.base_fraction = -0.1; }, "baseFraction"},
      {"frac NaN",
       [](PolicyConfig& c) { c.base_fraction = std::numeric_limits<double>::quiet_NaN(); },
       "baseFraction"},
      {"queue frac",
       [](PolicyConfig& c) {
         c.kind = PolicyKind::queue_aware_v1;
         c.base_fraction = 2;
       },
       "baseFraction"},
      {"negative performance cap", [](PolicyConfig& c) { c.performance_cap_watts = -1; },
       "performance cap"},
      {"eco cap 0", [](PolicyConfig& c) { c.eco_cap_watts = 0; }, "eco cap"},
      {"eco cap inf",
       [](PolicyConfig& c) { c.eco_cap_watts = std::numeric_limits<double>::infinity(); },
       "eco cap"},
  };
  CHECK(validate(PolicyConfig{}).ok());
  for (const auto& c : cases) {
    INFO(c.what);
    PolicyConfig config;
    c.mutate(config);
    auto s = validate(config);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Errc::invalid_argument);
    CHECK_THAT(s.error().message, Catch::Contains(c.needle));
  }
  // Queue bounds are read per docs/design.md#policies, never rejected.
  PolicyConfig odd;
  odd.min = -5;
  odd.max = 0;
  odd.perf_pods_per_node = 0;
  CHECK(validate(odd).ok());
}

TEST_CASE("caps come from the cap flags") {
  PolicyConfig config;
  config.performance_cap_watts = 4000;
  config.eco_cap_watts = 150;
  CHECK(cap_watts(config, Profile::performance) == 4000);
  CHECK(cap_watts(config, Profile::eco) == 150);
}

TEST_CASE("a NaN fraction that skipped validation plans all performance") {
  CHECK(static_partition_count(4, std::numeric_limits<double>::quiet_NaN()) == 4);
}
