// context_aware_v1 with fit-aware demand and hardware classes: the pending pods' requirements
// choose the upgrades; classes give per-node caps and minimums.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "joulie/policy/policies.hpp"

using namespace joulie::policy;
using joulie::api::Profile;

// The unity build compiles this file with others of its area as one unit: its helpers live in
// a namespace of their own (docs/testing.md, "Unity build").
namespace context_fit_test {

namespace {

constexpr std::int64_t kGi = 1LL << 30;
const std::string kKey = "joulie.io/power-profile";
const std::string kType = "node.kubernetes.io/instance-type";

struct Fleet {
  Context ctx;
  std::vector<std::string> names;

  void node(std::string name, std::string type, std::int64_t cores, NodeState state,
            bool tainted = false, std::int64_t perf_pods = 0) {
    auto view = std::make_shared<NodeFitView>();
    view->name = name;
    view->labels = {{kType, type},
                    {kKey, state == NodeState::active_performance ? "performance" : "eco"}};
    if (tainted) {
      view->taints = {{"pool", "c", TaintEffect::no_schedule}};
    }
    view->allocatable = {cores * 1000, 256 * kGi, 110};
    NodeContext n;
    n.name = name;
    n.state = state;
    n.perf_pods = perf_pods;
    n.fit = view;
    ctx.nodes.push_back(n);
    names.push_back(name);
  }
  void pending(std::string name, std::shared_ptr<const PodRequirement> r, std::int64_t cpu_milli) {
    ctx.workloads.pending_perf.push_back({std::move(name), std::move(r), {cpu_milli, kGi, 1}});
    ctx.workloads.cluster.performance_only += 1;
    ctx.workloads.pending_perf_sensitive += 1;
  }
  PolicyPlan plan(PolicyConfig c) {
    ctx.pods_known = true;
    c.kind = PolicyKind::context_aware_v1;
    return plan_context_aware(c, nullptr, names, ctx, true);
  }
};

std::shared_ptr<const PodRequirement> type_c() {
  auto r = std::make_shared<PodRequirement>();
  r->node_selector = {{kType, "C"}, {kKey, "performance"}};
  r->tolerations = {{"pool", false, "c", TaintEffect::no_schedule}};
  return r;
}

std::vector<std::string> performance_nodes(const PolicyPlan& p) {
  std::vector<std::string> out;
  for (const auto& n : p.nodes) {
    if (n.profile == Profile::performance) {
      out.push_back(n.node);
    }
  }
  return out;
}

PolicyConfig config() {
  PolicyConfig c;
  c.base_fraction = 0;
  c.min = 0;
  c.max = 100;
  c.perf_pods_per_node = 10;
  return c;
}

}  // namespace

TEST_CASE("fit-aware demand: pods requiring type C make only type-C nodes performance",
          "[context_aware][fit]") {
  Fleet f;
  for (const char* n : {"a1", "a2", "a3"}) f.node(n, "A", 32, NodeState::active_eco);
  for (const char* n : {"b1", "b2", "b3"}) f.node(n, "B", 64, NodeState::active_eco);
  for (const char* n : {"c1", "c2", "c3", "c4"}) f.node(n, "C", 96, NodeState::active_eco, true);
  const auto req = type_c();
  for (int i = 0; i < 5; ++i) f.pending("ml/train-" + std::to_string(i), req, 40000);
  const auto plan = f.plan(config());
  // Five 40-core pods, two per 96-core node: three type-C nodes, nothing else. The count-based
  // demand would have given ceil(5/10) = 1 node, a1 by name, where none of them can run.
  CHECK(performance_nodes(plan) == std::vector<std::string>{"c1", "c2", "c3"});
  CHECK(plan.unschedulable.empty());
  CHECK(plan.reasons[0] ==
        "demand: 5 pending performance pod(s) fit 3 node(s) (3 upgrade(s)), 0 node(s) host "
        "performance pods; count 3");
  CHECK(plan.nodes[6].reasons[0] == "2 pending performance pod(s) fit here");
}

TEST_CASE("fit-aware demand: a pod that fits no node is named and upgrades nothing",
          "[context_aware][fit]") {
  Fleet f;
  f.node("a1", "A", 32, NodeState::active_eco);
  f.node("c1", "C", 96, NodeState::active_eco, true);
  f.pending("ml/huge", type_c(), 200000);
  const auto plan = f.plan(config());
  CHECK(performance_nodes(plan).empty());
  REQUIRE(plan.unschedulable.size() == 1);
  CHECK(plan.unschedulable[0].pod == "ml/huge");
  // How far it is from fitting: one node accepts its placement, with 96 cores free.
  CHECK(plan.unschedulable[0].matching_nodes == 1);
  CHECK(plan.unschedulable[0].most_free == Resources{96000, 256 * kGi, 0});
  CHECK(plan.unschedulable[0].request.cpu_milli == 200000);
  CHECK(plan.unschedulable[0].reason ==
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
        "affinity/selector.");
  CHECK(std::find(plan.reasons.begin(), plan.reasons.end(),
                  "unschedulable: ml/huge fits no managed node even at performance: 0/2 nodes "
                  "are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
                  "affinity/selector.") != plan.reasons.end());
}

TEST_CASE("fit-aware demand: hosts keep their guard, max still bounds, room is used first",
          "[context_aware][fit]") {
  Fleet f;
  f.node("a1", "A", 32, NodeState::active_performance, false, 2);  // hosts 2 perf pods
  f.node("c1", "C", 96, NodeState::active_eco, true);
  f.node("c2", "C", 96, NodeState::active_eco, true);
  f.node("c3", "C", 96, NodeState::active_performance, true);  // 96 cores free
  const auto req = type_c();
  for (int i = 0; i < 4; ++i) f.pending("ml/p" + std::to_string(i), req, 40000);
  auto plan = f.plan(config());
  // c3 takes two, c1 is upgraded for the other two; a1 stays for its pods.
  CHECK(performance_nodes(plan) == std::vector<std::string>{"a1", "c1", "c3"});
  auto bounded = config();
  bounded.max = 2;
  plan = f.plan(bounded);
  CHECK(plan.performance_nodes == 2);
  CHECK(performance_nodes(plan) == std::vector<std::string>{"a1", "c3"});
}

TEST_CASE("without projected nodes the count-based demand holds", "[context_aware][fit]") {
  Fleet f;
  f.node("a1", "A", 32, NodeState::active_eco);
  f.node("c1", "C", 96, NodeState::active_eco, true);
  f.pending("ml/p", type_c(), 1000);
  f.ctx.nodes[1].fit = nullptr;
  const auto plan = f.plan(config());
  CHECK(performance_nodes(plan) == std::vector<std::string>{"a1"});  // by name, as before
}

TEST_CASE("hardware classes: per-node caps, class minimum, fractions before the maximum",
          "[context_aware][classes]") {
  Fleet f;
  f.node("a1", "A", 32, NodeState::active_eco);
  f.node("c1", "C", 96, NodeState::active_eco);
  f.node("c2", "C", 96, NodeState::active_eco);
  f.ctx.nodes[1].package_max_watts = 420;
  auto c = config();
  HardwareClass big;
  big.name = "big";
  big.selector = *parse_selector(kType + "=C");
  big.performance_cap = CapValue{1.0, true};
  big.eco_cap = CapValue{0.5, true};
  big.min = 1;
  c.hardware_classes = {big};
  c.performance_cap_watts = 5000;
  c.eco_cap_watts = 120;
  const auto plan = f.plan(c);
  // a1 is outside every class: the plan's caps. c1 has its maximum: 420 W / 210 W. c2 has not
  // reported one: the defaults, and the plan says so.
  CHECK_FALSE(plan.nodes[0].eco_cap_watts);
  CHECK(plan.nodes[1].performance_cap_watts == 420.0);
  CHECK(plan.nodes[1].eco_cap_watts == 210.0);
  CHECK(plan.nodes[2].eco_cap_watts == 120.0);
  CHECK(std::find(plan.reasons.begin(), plan.reasons.end(),
                  "hardware classes: 1 node(s) have no package maximum reported yet; their "
                  "fraction caps use the default watts") != plan.reasons.end());
  // min 1: the class keeps one performance node, the one that loses the most watts when
  // capped (c2: 5000 − 120 against c1: 420 − 210).
  CHECK(performance_nodes(plan) == std::vector<std::string>{"c2"});
}

}  // namespace context_fit_test
