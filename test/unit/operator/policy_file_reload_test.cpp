// The policy file in the operator: reconciler planning with context_aware_v1 and windows,
// explain output, stability across passes, hot reload (last good kept).
#include <catch2/catch.hpp>

#include <time.h>

#include <filesystem>
#include <random>

#include "fixture.hpp"
#include "joulie/operator/pass_report.hpp"
#include "joulie/operator/policy_reload.hpp"
#include "joulie/policy/policy_file.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using joulie::operator_mode::format_pass_json;
using joulie::operator_mode::PassKind;
using joulie::operator_mode::PolicyFileWatcher;
using joulie::operator_mode::testing::Fixture;
using joulie::policy::NodeState;
using joulie::policy::PolicyKind;

namespace {

void context_aware(Fixture& f, double base, std::int64_t min) {
  f.options.policy.kind = PolicyKind::context_aware_v1;
  f.options.policy.base_fraction = base;
  f.options.policy.min = min;
  f.restart();
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += s + "; ";
  }
  return out;
}

}  // namespace

TEST_CASE("operator: context_aware_v1 keeps the node hosting performance pods in performance") {
  Fixture f;
  for (auto n : {"n1", "n2", "n3", "n4"}) {
    f.add_node(n);
  }
  f.perf_pods["n4"] = 3;
  context_aware(f, 0.25, 1);  // one performance node
  auto r = f.pass();
  CHECK(r.policy == "context_aware_v1");
  CHECK(r.performance == 1);
  CHECK(f.label("n4") == "performance");
  for (auto n : {"n1", "n2", "n3"}) {
    CHECK(f.label(n) == "eco");
  }
  CHECK(f.profile("n4")->policy_name == "context-aware-v1");
  CHECK_THAT(joined(r.nodes[3].reasons), Catch::Contains("hosts 3 performance-sensitive pod(s)"));
  const std::string json = format_pass_json(r);
  CHECK(json.find(R"json("reasons":["hosts 3 performance-sensitive pod(s)")json") !=
        std::string::npos);
  CHECK(json.find(R"("context":{"timeZone":"UTC")") != std::string::npos);
  CHECK(json.find(R"json("demand: 3 performance-sensitive pod(s) at 10 per node; count 1")json") !=
        std::string::npos);
}

TEST_CASE("operator: a window's eco cap is written while it is in force, and only then") {
  Fixture f;
  f.add_node("n1");
  f.add_node("n2");
  f.options.policy.base_fraction = 0.5;
  joulie::policy::TimeWindow w;
  w.name = "quiet";
  w.days.fill(true);
  // The fixture's clock: local (UTC) minute of day now, the window covers the next 30 minutes.
  const auto local = joulie::policy::TimeZone::utc().local(f.clock.now());
  w.start_minute = local.minute_of_day;
  w.end_minute = std::min(local.minute_of_day + 30, 1440);
  w.eco_cap_watts = 80;
  f.options.policy.windows = {w};
  f.restart();
  auto r = f.pass();
  CHECK(r.context.window == "quiet");
  CHECK(f.profile("n2")->cap_watts == 80);
  CHECK(f.pass().write_requests == 0);  // in force and unchanged: no writes
  f.clock.advance(31min);
  r = f.pass();
  CHECK(r.context.window.empty());
  CHECK(f.profile("n2")->cap_watts == 120);
  CHECK(f.pass().write_requests == 0);
}

TEST_CASE("operator: minDwell counts from the transition the operator made") {
  Fixture f;
  for (auto n : {"n1", "n2"}) {
    f.add_node(n);
  }
  context_aware(f, 0.0, 0);
  f.options.policy.stability.min_dwell = 10min;
  f.perf_pods["pending"] = 20;  // 2 performance nodes needed (pending pods are cluster-wide)
  f.restart();
  f.pass();
  CHECK(f.label("n1") == "performance");
  CHECK(f.label("n2") == "performance");
  // Demand drops to nothing: nodes whose state is older than the process are not held...
  f.perf_pods.clear();
  f.pass();
  CHECK(f.label("n1") == "eco");
  CHECK(f.label("n2") == "eco");
  // ...but a node the operator just upgraded is held for minDwell before it goes back.
  f.perf_pods["pending"] = 5;
  f.clock.advance(1min);
  f.pass();
  CHECK(f.label("n1") == "performance");
  f.perf_pods.clear();
  f.clock.advance(5min);
  auto r = f.pass();
  CHECK(f.label("n1") == "performance");
  CHECK_THAT(joined(r.nodes[0].reasons), Catch::Contains("minDwell 10m0s: 5m0s left"));
  f.clock.advance(5min);
  f.pass();
  CHECK(f.label("n1") == "eco");
}

TEST_CASE("operator: a restarted (or new) leader imposes the same minDwell") {
  Fixture f;
  for (auto n : {"n1", "n2"}) {
    f.add_node(n);
  }
  context_aware(f, 0.0, 0);
  f.options.policy.stability.min_dwell = 10min;
  f.restart();
  f.pass();  // both eco: no demand
  REQUIRE(f.label("n1") == "eco");
  f.perf_pods["pending"] = 5;
  f.clock.advance(1min);
  f.pass();
  REQUIRE(f.label("n1") == "performance");  // upgraded now: held for minDwell from here
  f.perf_pods.clear();
  f.clock.advance(5min);
  f.restart();  // the process that made the transition is gone
  auto r = f.pass();
  CHECK(f.label("n1") == "performance");
  CHECK_THAT(joined(r.nodes[0].reasons), Catch::Contains("minDwell 10m0s: 5m0s left"));
  f.clock.advance(5min);
  f.pass();
  CHECK(f.label("n1") == "eco");
}

TEST_CASE("operator: a reloaded policy re-plans at the next pass") {
  Fixture f;
  for (auto n : {"n1", "n2", "n3", "n4"}) {
    f.add_node(n);
  }
  f.pass();
  CHECK(f.label("n3") == "eco");
  joulie::policy::PolicyConfig all = f.options.policy;
  all.base_fraction = 1.0;
  all.eco_cap_watts = 99;
  f.reconciler->set_policy(all, joulie::policy::TimeZone::utc(), {});
  f.pass(PassKind::reguard);  // even a re-guard pass uses the new policy
  CHECK(f.label("n3") == "performance");
  CHECK(f.reconciler->policy().eco_cap_watts == 99);
}

TEST_CASE("operator: the same snapshot twice gives byte-identical plan JSON") {
  std::mt19937_64 rng(11);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  for (int round = 0; round < 40; ++round) {
    Fixture f;
    f.options.dry_run = true;
    f.options.policy.kind = static_cast<PolicyKind>(pick(4));
    f.options.policy.base_fraction = pick(11) / 10.0;
    f.options.policy.stability.change_budget = joulie::policy::ChangeBudget{1 + pick(3), false};
    const int n = 1 + pick(30);
    for (int i = 0; i < n; ++i) {
      const std::string name = "node-" + std::to_string(pick(100)) + "-" + std::to_string(i);
      const char* labels[] = {"", R"("joulie.io/power-profile":"eco")",
                              R"("joulie.io/power-profile":"performance")",
                              R"("joulie.io/power-profile":"draining-performance")"};
      f.add_node(name, labels[pick(4)]);
      if (pick(3) == 0) {
        f.perf_pods[name] = pick(4);
      }
    }
    f.restart();
    const auto snapshot = f.snapshot();
    const std::string first = format_pass_json(f.reconciler->run_pass(snapshot, PassKind::replan));
    const std::string second = format_pass_json(f.reconciler->run_pass(snapshot, PassKind::replan));
    CHECK(first == second);
    f.restart();  // and a fresh process plans the same
    CHECK(format_pass_json(f.reconciler->run_pass(snapshot, PassKind::replan)) == first);
  }
}

TEST_CASE("policy file watcher: a valid change applies, an invalid one is refused once") {
  joulie::test::TempDir dir;
  const auto file = dir.path() / "policy.yaml";
  const std::string v1 = "policy: static_partition\nperformance: {baseFraction: 0.5}\n";
  joulie::test::write_file(file, v1);
  std::vector<std::string> applied;
  std::vector<std::string> rejected;
  PolicyFileWatcher w(
      file.string(), "/usr/share/zoneinfo", v1,
      [&](const joulie::config::LoadedPolicyFile& f) -> joulie::Status {
        if (f.file.performance.base_fraction == 0.9) {
          return joulie::Error(joulie::Errc::invalid_argument, "0.9 is refused by apply");
        }
        applied.push_back(f.content);
        return joulie::Status::success();
      },
      [&](const std::string& message) { rejected.push_back(message); });

  w.check();  // unchanged
  CHECK(applied.empty());
  CHECK(rejected.empty());

  const std::string bad = "policy: static_partition\nperformance: {baseFracton: 0.2}\n";
  joulie::test::write_file(file, bad);
  w.check();
  w.check();  // the same bad version is reported once
  REQUIRE(rejected.size() == 1);
  CHECK_THAT(rejected[0], Catch::Contains("policy.yaml:2: performance.baseFracton: unknown key"));
  CHECK(applied.empty());

  const std::string v2 = "policy: queue_aware_v1\ntimeZone: Europe/Rome\n";
  joulie::test::write_file(file, v2);
  w.check();
  REQUIRE(applied.size() == 1);
  CHECK(applied[0] == v2);

  joulie::test::write_file(file, "performance: {baseFraction: 0.9}\n");
  w.check();
  REQUIRE(rejected.size() == 2);
  CHECK_THAT(rejected[1], Catch::Contains("0.9 is refused by apply"));

  // A ConfigMap volume: the file is a symlink through ..data, swapped atomically.
  const auto data1 = dir.path() / "..2026_12_03_1";
  const auto data2 = dir.path() / "..2026_12_03_2";
  joulie::test::write_file(data1 / "policy.yaml", v2);
  joulie::test::write_file(data2 / "policy.yaml", "policy: rule_swap_v1\n");
  std::filesystem::create_directory_symlink(data1.filename(), dir.path() / "..data");
  std::filesystem::remove(file);
  std::filesystem::create_symlink("..data/policy.yaml", file);
  w.check();
  CHECK(applied.size() == 2);  // v2 again after the refused version: applied
  std::filesystem::create_directory_symlink(data2.filename(), dir.path() / "..data_tmp");
  std::filesystem::rename(dir.path() / "..data_tmp", dir.path() / "..data");
  w.check();
  REQUIRE(applied.size() == 3);
  CHECK(applied[2] == "policy: rule_swap_v1\n");

  std::filesystem::remove(file);
  w.check();
  w.check();
  REQUIRE(rejected.size() == 3);
  CHECK_THAT(rejected[2], Catch::Contains("cannot read the policy file"));
}

namespace {

// Every signal present: zones, temperatures, power, per-zone PUE and the forecast.
void all_signals(Fixture& f, int zones) {
  f.options.enrich_context = [zones](joulie::policy::Context& c) {
    auto ok = [&c](double v) {
      joulie::policy::Signal s;
      s.value = v;
      s.health = joulie::policy::SignalHealth::ok;
      s.source = "prometheus";
      s.sampled_at = c.now - 15s;
      return s;
    };
    for (std::size_t i = 0; i < c.nodes.size(); ++i) {
      c.nodes[i].zone = "zone-" + std::to_string(i % static_cast<std::size_t>(zones));
      c.nodes[i].temperature_celsius = ok(40.0 + static_cast<double>((i * 7919) % 400) / 10.0);
      c.nodes[i].power_watts = ok(200.0 + static_cast<double>(i % 50));
    }
    for (int z = 0; z < zones; ++z) {
      c.zone_pue["zone-" + std::to_string(z)] = ok(1.2 + z * 0.01);
    }
    c.demand_forecast = ok(static_cast<double>(c.nodes.size()));
  };
}

joulie::operator_mode::PassResult converged_no_change_pass(
    Fixture& f, int nodes, PolicyKind kind = PolicyKind::context_aware_v1) {
  for (int i = 0; i < nodes; ++i) {
    f.add_node(fmt::format("node-{:05}", i));
  }
  f.options.policy.kind = kind;
  f.options.policy.base_fraction = 0.3;
  f.options.policy.topology.min_performance_per_zone = 2;
  f.options.policy.stability.min_dwell = 10min;
  f.options.policy.stability.change_budget = joulie::policy::ChangeBudget{100, true};
  all_signals(f, 10);
  f.restart();
  auto first = f.pass();
  REQUIRE(first.write_requests > 0);
  f.writes.clear();
  f.clock.advance(1min);
  return f.pass();
}

}  // namespace

TEST_CASE("operator: with every signal present a no-change pass makes zero writes") {
  Fixture f;
  auto r = converged_no_change_pass(f, 300);
  CHECK(r.write_requests == 0);
  CHECK(f.writes.empty());
  std::string names;
  for (const auto& s : r.context.signals) {
    names += s.name + "=" + s.health + " ";
  }
  CHECK(names ==
        "nodeTemperature=ok nodePower=ok pue{zone=zone-0}=ok pue{zone=zone-1}=ok "
        "pue{zone=zone-2}=ok pue{zone=zone-3}=ok pue{zone=zone-4}=ok pue{zone=zone-5}=ok "
        "pue{zone=zone-6}=ok pue{zone=zone-7}=ok pue{zone=zone-8}=ok pue{zone=zone-9}=ok "
        "demandForecast=ok ");
  const std::string json = format_pass_json(r);
  CHECK(json.find(R"("demandForecast":{"health":"ok","value":300,"ageSeconds":15,)"
                  R"("source":"prometheus"})") != std::string::npos);
  CHECK(json.find(R"("nodeTemperature":{"health":"ok","ageSeconds":15,"source":"prometheus",)"
                  R"("nodes":{"ok":300,"stale":0,"missing":0,"error":0},"byNode":{)") !=
        std::string::npos);
  // Each node's own reading is listed too.
  CHECK(json.find(R"("node-00000":{"health":"ok",)") != std::string::npos);
}

// A benchmark, not a test (hidden: run with `build/test/unit_operator "[.bench]"`): the
// plan+guard pass of docs/design.md#quality-bars at 5 000 nodes with every signal present
// (docs/benchmarks.md).
TEST_CASE("bench: context_aware_v1 no-change pass at 5000 nodes, all signals", "[.bench]") {
  const auto kind = GENERATE(PolicyKind::static_partition, PolicyKind::context_aware_v1);
  Fixture f;
  f.options.explain = false;  // as in the long-running loop
  auto r = converged_no_change_pass(f, 5000, kind);
  CHECK(r.write_requests == 0);
  std::vector<double> ms;
  for (int i = 0; i < 10; ++i) {
    f.clock.advance(1min);
    const auto snapshot = f.snapshot();  // the informer caches' work, not the pass's
    // Thread CPU time: the machine is shared, wall time would measure the neighbours.
    auto cpu_ms = [] {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
    };
    const double start = cpu_ms();
    auto again = f.reconciler->run_pass(snapshot, PassKind::replan);
    ms.push_back(cpu_ms() - start);
    CHECK(again.write_requests == 0);
  }
  std::sort(ms.begin(), ms.end());
  fmt::print(
      "{}, 5000 nodes, all signals, no-change pass: min {:.2f} ms, "
      "median {:.2f} ms, max {:.2f} ms CPU (10 passes)\n",
      joulie::policy::config_name(kind), ms.front(), ms[ms.size() / 2], ms.back());
}
