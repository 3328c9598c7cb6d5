#include "joulie/operator/context.hpp"

#include <catch2/catch.hpp>

#include "fixture.hpp"

using joulie::kube::StringInterner;
using joulie::kube::testing::parse_json;
using joulie::operator_mode::NodeProjectionConfig;
using joulie::operator_mode::PodCounts;
using joulie::operator_mode::PodInfo;
using joulie::operator_mode::project_node;
using joulie::operator_mode::project_npp;
using joulie::operator_mode::project_pod;
using joulie::operator_mode::testing::node_json;
using joulie::policy::PodClass;

namespace {

NodeProjectionConfig config() {
  return {*joulie::policy::parse_selector("joulie.io/managed=true"), "joulie.io/reserved",
          "joulie.io/power-profile"};
}

}  // namespace

TEST_CASE("context: node eligibility is decided at decode time") {
  auto c = config();
  CHECK(project_node(parse_json(node_json("a")), c)->managed);
  CHECK_FALSE(project_node(parse_json(node_json("a", "", false)), c)->managed);
  CHECK_FALSE(
      project_node(parse_json(node_json("a", "\"joulie.io/reserved\":\"true\"")), c)->managed);
  CHECK(project_node(parse_json(node_json("a", "\"joulie.io/reserved\":\"false\"")), c)->managed);
  CHECK_FALSE(project_node(parse_json(node_json("a", "", true, "", true)), c)->managed);
  auto n = project_node(parse_json(node_json("a", "\"joulie.io/power-profile\":\"eco\"", true,
                                             "\"joulie.io/draining-since\":\"x\"")),
                        c);
  CHECK(n->profile_label == "eco");
  CHECK(n->draining_since == "x");
  CHECK(n->uid == "uid-a");
  // Garbage never crashes: a node without metadata is left out, bad labels mean unselected.
  CHECK_FALSE(project_node(parse_json("[1]"), c));
  CHECK_FALSE(project_node(parse_json(R"({"metadata":{"labels":7}})"), c)->managed);
}

TEST_CASE("context: pods are projected to node, class and counted flag") {
  StringInterner interner;
  auto p = project_pod(parse_json(R"({"metadata":{"name":"p"},"spec":{"nodeName":"n1",
      "nodeSelector":{"joulie.io/power-profile":"performance"}},"status":{"phase":"Running"}})"),
                       "joulie.io/power-profile", interner);
  REQUIRE(p);
  CHECK(p->node.str() == "n1");
  CHECK(p->pod_class == PodClass::performance_only);
  CHECK(p->perf_sensitive());
  auto done = project_pod(parse_json(R"({"metadata":{"name":"p"},"spec":{"nodeName":"n1",
      "nodeSelector":{"joulie.io/power-profile":"performance"}},"status":{"phase":"Succeeded"}})"),
                          "joulie.io/power-profile", interner);
  CHECK_FALSE(done->perf_sensitive());
  auto general = project_pod(parse_json(R"({"metadata":{"name":"p"},"spec":{}})"),
                             "joulie.io/power-profile", interner);
  CHECK(general->node.empty_string());
  CHECK_FALSE(general->perf_sensitive());
  CHECK(sizeof(PodInfo) <= 24);
}

TEST_CASE("context: pod counts are incremental and report a node reaching zero") {
  StringInterner interner;
  PodCounts counts;
  PodInfo perf{interner.intern("n1"), PodClass::performance_only, true};
  PodInfo unknown{interner.intern("n1"), PodClass::unknown, true};
  PodInfo pending{{}, PodClass::performance_only, true};
  PodInfo eco{interner.intern("n1"), PodClass::eco_only, true};
  CHECK_FALSE(counts.add(perf));
  CHECK_FALSE(counts.add(unknown));
  CHECK_FALSE(counts.add(pending));
  CHECK_FALSE(counts.add(eco));
  CHECK(counts.on_node("n1") == 2);
  CHECK(counts.cluster() == 3);
  CHECK_FALSE(counts.remove(perf));
  PodInfo finished = unknown;
  finished.counted = false;
  CHECK(counts.update(unknown, finished) == std::optional<std::string>("n1"));
  CHECK(counts.on_node("n1") == 0);
  CHECK(counts.cluster() == 1);
  CHECK_FALSE(counts.remove(eco));
  // Scheduling a pending pod moves it onto the node without changing the cluster count.
  PodInfo scheduled = pending;
  scheduled.node = interner.intern("n2");
  CHECK_FALSE(counts.update(pending, scheduled));
  CHECK(counts.on_node("n2") == 1);
  CHECK(counts.cluster() == 1);
}

TEST_CASE("context: only profiles labelled managed-by=operator are projected") {
  CHECK_FALSE(project_npp(parse_json(R"({"metadata":{"name":"x"},"spec":{"nodeName":"n"}})")));
  auto p = project_npp(parse_json(R"({"metadata":{"name":"x","labels":{"joulie.io/managed-by":
      "operator"}},"spec":{"nodeName":"n","profile":"eco","cpu":{"packagePowerCapWatts":120},
      "policy":{"name":"static-partition-v1"}}})"));
  REQUIRE(p);
  CHECK(p->node_name == "n");
  CHECK(p->profile == "eco");
  CHECK(p->cap_watts == 120);
  CHECK(p->policy_name == "static-partition-v1");
}

TEST_CASE("context: managed nodes keep their scheduling view; equal views are no change", "[fit]") {
  auto c = config();
  const std::string text = R"({"metadata":{"name":"c1","uid":"u","labels":{
      "joulie.io/managed":"true","node.kubernetes.io/instance-type":"C"}},
      "spec":{"taints":[{"key":"pool","value":"c","effect":"NoSchedule"},
                        {"key":"soft","effect":"PreferNoSchedule"}]},
      "status":{"allocatable":{"cpu":"96","memory":"256Gi","pods":"110"}}})";
  auto n = project_node(parse_json(text), c);
  REQUIRE(n->fit.view);
  CHECK(n->fit.view->name == "c1");
  CHECK(n->fit.view->labels.at("node.kubernetes.io/instance-type") == "C");
  CHECK(n->fit.view->taints.size() == 1);  // PreferNoSchedule never blocks
  CHECK(n->fit.view->allocatable == joulie::policy::Resources{96000, 256LL << 30, 110});
  // A second decode of the same object is equal (no spurious informer update).
  CHECK(*project_node(parse_json(text), c) == *n);
  // Unmanaged nodes keep no view.
  CHECK_FALSE(project_node(parse_json(node_json("a", "", false)), c)->fit.view);
}

TEST_CASE(
    "context: pending performance pods share one requirement; cpu requests are summed "
    "per node",
    "[fit]") {
  StringInterner strings;
  joulie::operator_mode::RequirementInterner requirements;
  const std::string pending = R"({"metadata":{"name":"p"},"spec":{
      "nodeSelector":{"joulie.io/power-profile":"performance","t":"C"},
      "containers":[{"resources":{"requests":{"cpu":"40","memory":"1Gi"}}}]},
      "status":{"phase":"Pending"}})";
  auto a = requirements.intern(parse_json(pending));
  auto b = requirements.intern(parse_json(pending));
  CHECK(a == b);  // one copy for equal specs
  CHECK(a->node_selector.at("t") == "C");
  auto p = project_pod(parse_json(pending), "joulie.io/power-profile", strings);
  CHECK(p->cpu_milli == 40000);
  auto bound = project_pod(parse_json(R"({"metadata":{"name":"q"},"spec":{"nodeName":"n1",
      "containers":[{"resources":{"requests":{"cpu":"2"}}}]}})"),
                           "joulie.io/power-profile", strings);
  PodCounts counts;
  counts.add(*bound);
  counts.add(*bound);
  CHECK(counts.by_class().bound.at("n1") == joulie::policy::Resources{4000, 0, 2});
  counts.remove(*bound);
  counts.remove(*bound);
  CHECK(counts.by_class().bound.empty());
}

TEST_CASE("context: bound pods' memory requests are summed per node and fill the node", "[fit]") {
  StringInterner strings;
  auto bound = [&](const char* memory) {
    return *project_pod(
        parse_json(fmt::format(R"({{"metadata":{{"name":"q"}},"spec":{{"nodeName":"n1",
        "containers":[{{"resources":{{"requests":{{"cpu":"1","memory":"{}"}}}}}}]}}}})",
                               memory)),
        "joulie.io/power-profile", strings);
  };
  PodCounts counts;
  const PodInfo big = bound("100Gi");
  CHECK(big.memory_mib == 100 * 1024);
  counts.add(big);
  counts.add(bound("500M"));  // 476.8 MiB: counted as 477 MiB, never less than requested
  const joulie::policy::Resources b = counts.by_class().bound.at("n1");
  CHECK(b.cpu_milli == 2000);
  CHECK(b.memory_bytes == (100 * 1024 + 477) * 1024LL * 1024);
  CHECK(b.memory_bytes >= 100LL * 1024 * 1024 * 1024 + 500000000);
  // A node of 128 Gi with these two bound: a pending pod asking 30 Gi no longer fits, 27 Gi does.
  joulie::policy::NodeFitView view;
  view.name = "n1";
  view.allocatable = {64000, 128LL * 1024 * 1024 * 1024, 110};
  view.requested = b;
  CHECK(std::string(joulie::policy::insufficient({1000, 30LL << 30, 1}, view)) ==
        "Insufficient memory");
  CHECK(joulie::policy::insufficient({1000, 27LL << 30, 1}, view) == nullptr);
  // Clamped, never wrapped: an absurd request reads as the maximum.
  CHECK(bound("300Ti").memory_mib == PodInfo::kMaxMemoryMib);
  counts.remove(big);
  CHECK(counts.by_class().bound.at("n1").memory_bytes == 477LL * 1024 * 1024);
}

TEST_CASE("context: a profile's reported package maximum is projected", "[fit]") {
  auto p = project_npp(parse_json(R"({"metadata":{"name":"node-a","labels":{
      "joulie.io/managed-by":"operator"}},"spec":{"nodeName":"a","profile":"eco"},
      "status":{"packageMaxPowerWatts":420}})"));
  REQUIRE(p);
  CHECK(p->package_max_watts == 420.0);
  auto junk = project_npp(parse_json(R"({"metadata":{"name":"node-a","labels":{
      "joulie.io/managed-by":"operator"}},"spec":{"nodeName":"a"},
      "status":{"packageMaxPowerWatts":"lots"}})"));
  CHECK_FALSE(junk->package_max_watts);
}

TEST_CASE("context: the pause switch and pins reach the plan's overrides") {
  using joulie::operator_mode::overrides_of;
  using joulie::operator_mode::project_control;
  using joulie::operator_mode::Snapshot;
  auto on = project_control(parse_json(
      R"({"data":{"paused":"true","pausedBy":"alice","reason":"incident 42","pausedAt":"t"}})"));
  REQUIRE(on);
  CHECK(on->paused);
  CHECK(on->paused_by == "alice");
  // Only exactly "true" pauses; anything malformed reads as not paused.
  CHECK_FALSE(project_control(parse_json(R"({"data":{"paused":"yes"}})"))->paused);
  CHECK_FALSE(project_control(parse_json(R"({"data":{"paused":true}})"))->paused);
  CHECK_FALSE(project_control(parse_json(R"({"data":7})"))->paused);
  CHECK_FALSE(project_control(parse_json("[]"))->paused);

  auto pinned =
      project_node(parse_json(node_json("a", "", true, "\"joulie.io/pin\":\"eco\"")), config());
  CHECK(pinned->pin == "eco");

  Snapshot s;
  s.control = *on;
  s.managed.push_back({});
  s.managed.back().name = "a";
  s.managed.back().pin = "eco";
  s.managed.push_back({});
  s.managed.back().name = "b";
  auto o = overrides_of(s);
  CHECK(o.paused);
  CHECK(o.pause_note == "alice: incident 42");
  CHECK(o.pins.size() == 1);
  CHECK(o.pins.at("a") == "eco");
}
