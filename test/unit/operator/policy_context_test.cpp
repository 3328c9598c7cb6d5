// The snapshot policies receive (docs/design.md#the-policy-snapshot): node metadata, pod counts by
// class, and the signals from the collector, all without I/O in the pass.
#include <catch2/catch.hpp>

#include "fixture.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/operator/context.hpp"

using joulie::kube::StringInterner;
using joulie::kube::testing::parse_json;
using joulie::operator_mode::fill_policy_context;
using joulie::operator_mode::ManagedNode;
using joulie::operator_mode::NodeProjectionConfig;
using joulie::operator_mode::parse_cpu_quantity;
using joulie::operator_mode::PodCounts;
using joulie::operator_mode::PodInfo;
using joulie::operator_mode::project_node;
using joulie::operator_mode::Snapshot;
using joulie::policy::NodeState;
using joulie::policy::PodClass;

namespace {

NodeProjectionConfig config() {
  NodeProjectionConfig c;
  c.selector = *joulie::policy::parse_selector("joulie.io/managed=true");
  c.reserved_label = "joulie.io/reserved";
  c.profile_label = "joulie.io/power-profile";
  c.rack_label = "joulie.io/rack";
  return c;
}

PodInfo pod(StringInterner& interner, const std::string& node, PodClass cls, bool counted = true) {
  PodInfo p;
  if (!node.empty()) {
    p.node = interner.intern(node);
  }
  p.pod_class = cls;
  p.counted = counted;
  return p;
}

}  // namespace

TEST_CASE("policy context: CPU quantities in cores") {
  CHECK(parse_cpu_quantity("4") == 4.0);
  CHECK(parse_cpu_quantity("3500m") == Approx(3.5));
  CHECK(parse_cpu_quantity("1.5") == 1.5);
  CHECK(parse_cpu_quantity("2k") == 2000.0);
  CHECK(parse_cpu_quantity("1e2") == 100.0);
  for (const char* bad : {"", "m", "abc", "-1", "4 cores", "1Ki"}) {
    INFO(bad);
    CHECK_FALSE(parse_cpu_quantity(bad).has_value());
  }
}

TEST_CASE("policy context: zone, rack and allocatable CPU of managed nodes") {
  auto c = config();
  std::string json = R"({"metadata":{"name":"n1","uid":"u","labels":{"joulie.io/managed":"true",
      "topology.kubernetes.io/zone":"eu-1a","joulie.io/rack":"r7"}},
      "status":{"allocatable":{"cpu":"15500m","memory":"64Gi"}}})";
  auto info = project_node(parse_json(json), c);
  REQUIRE(info);
  CHECK(info->zone == "eu-1a");
  CHECK(info->rack == "r7");
  CHECK(info->allocatable_cpu == Approx(15.5));
  c.zone_label = "example.com/zone";
  CHECK(project_node(parse_json(json), c)->zone.empty());
  // Garbage allocatable: unknown (0), never a crash.
  auto bad =
      project_node(parse_json(R"({"metadata":{"name":"n","labels":{"joulie.io/managed":"true"}},
      "status":{"allocatable":{"cpu":7}}})"),
                   config());
  CHECK(bad->allocatable_cpu == 0);
  auto odd =
      project_node(parse_json(R"({"metadata":{"name":"n","labels":{"joulie.io/managed":"true"}},
      "status":"x"})"),
                   config());
  CHECK(odd->allocatable_cpu == 0);
}

TEST_CASE("policy context: pod counts by class, per node, cluster-wide and pending") {
  StringInterner interner;
  PodCounts counts;
  counts.add(pod(interner, "n1", PodClass::performance_only));
  counts.add(pod(interner, "n1", PodClass::general));
  counts.add(pod(interner, "n2", PodClass::eco_only));
  counts.add(pod(interner, "", PodClass::unknown));           // pending
  counts.add(pod(interner, "n2", PodClass::general, false));  // finished: not counted
  auto by = counts.by_class();
  CHECK(by.cluster.performance_only == 1);
  CHECK(by.cluster.general == 1);
  CHECK(by.cluster.eco_only == 1);
  CHECK(by.cluster.unknown == 1);
  CHECK(by.cluster.perf_sensitive() == 2);
  CHECK(by.pending_perf_sensitive == 1);
  CHECK(by.per_node.at("n1").performance_only == 1);
  CHECK(by.per_node.at("n1").general == 1);
  CHECK(by.per_node.at("n2").eco_only == 1);
  // A pending pod scheduled onto n2 moves.
  counts.update(pod(interner, "", PodClass::unknown), pod(interner, "n2", PodClass::unknown));
  by = counts.by_class();
  CHECK(by.pending_perf_sensitive == 0);
  CHECK(by.per_node.at("n2").unknown == 1);
  counts.remove(pod(interner, "n2", PodClass::unknown));
  counts.remove(pod(interner, "n2", PodClass::eco_only));
  CHECK_FALSE(counts.by_class().per_node.contains("n2"));
  CHECK(counts.cluster() == 1);  // the performance-sensitive count is unchanged in meaning
}

TEST_CASE("policy context: the snapshot carries nodes, states, counts and last transitions") {
  Snapshot s;
  s.now = joulie::parse_rfc3339("2026-12-03T10:00:00Z").value();
  s.pods_known = true;
  ManagedNode a;
  a.name = "a";
  a.label = "draining-performance";
  a.draining_since = "2026-12-03T09:55:00Z";
  a.perf_pods = 2;
  a.zone = "z1";
  a.allocatable_cpu = 8;
  ManagedNode b;
  b.name = "b";
  b.label = "eco";
  s.managed = {a, b};
  PodCounts::ByClass classes;
  classes.cluster.performance_only = 2;
  classes.pending_perf_sensitive = 1;
  classes.per_node["a"].performance_only = 2;
  fill_policy_context(s, classes);
  const auto& c = s.context;
  CHECK(c.now == s.now);
  CHECK(c.pods_known);
  REQUIRE(c.nodes.size() == 2);
  CHECK(c.nodes[0].name == "a");
  CHECK(c.nodes[0].state == NodeState::draining_performance);
  CHECK(c.nodes[0].zone == "z1");
  CHECK(c.nodes[0].allocatable_cpu == 8);
  CHECK(c.nodes[0].perf_pods == 2);
  CHECK(c.nodes[0].pods.performance_only == 2);
  CHECK(c.nodes[0].last_transition == joulie::parse_rfc3339("2026-12-03T09:55:00Z").value());
  CHECK(c.nodes[1].state == NodeState::active_eco);
  CHECK_FALSE(c.nodes[1].last_transition.has_value());
  CHECK(c.workloads.cluster.performance_only == 2);
  CHECK(c.workloads.pending_perf_sensitive == 1);
  // No collector: every signal is missing, never zero.
  CHECK_FALSE(c.nodes[0].power_watts.get().has_value());
  CHECK_FALSE(c.demand_forecast.get().has_value());
  CHECK(c.local.time_zone == "UTC");
}
