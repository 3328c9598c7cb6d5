// The greedy packing: which nodes an upgrade must reach so that pending performance pods fit.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "joulie/policy/packing.hpp"
#include "packing_reference.hpp"

using namespace joulie::policy;

// The unity build compiles this file with others of its area as one unit: its helpers live in
// a namespace of their own (docs/testing.md, "Unity build").
namespace packing_test {

namespace {

constexpr std::string_view kKey = "joulie.io/power-profile";
constexpr std::int64_t kGi = 1LL << 30;

struct Cluster {
  std::vector<NodeFitView> views;
  std::vector<PackNode> nodes;

  // Nodes must be added in name order.
  void add(std::string name, std::string type, std::int64_t cores, bool performance,
           std::vector<Taint> taints = {}, Resources requested = {}, double upgrade_watts = 100) {
    NodeFitView v;
    v.name = std::move(name);
    v.labels = {{"node.kubernetes.io/instance-type", type},
                {std::string(kKey), performance ? "performance" : "eco"}};
    v.taints = std::move(taints);
    v.allocatable = {cores * 1000, 256 * kGi, 110};
    v.requested = requested;
    views.push_back(std::move(v));
    nodes.push_back({nullptr, performance, upgrade_watts, {}});
  }
  std::span<const PackNode> packed() {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      nodes[i].view = &views[i];
    }
    return nodes;
  }
};

std::shared_ptr<const PodRequirement> needs_type(std::string type, bool tolerate_c = false) {
  auto r = std::make_shared<PodRequirement>();
  r->node_selector = {{"node.kubernetes.io/instance-type", std::move(type)},
                      {std::string(kKey), "performance"}};
  if (tolerate_c) {
    r->tolerations = {{"pool", false, "c", TaintEffect::no_schedule}};
  }
  return r;
}

std::shared_ptr<const PodRequirement> performance_only() {
  auto r = std::make_shared<PodRequirement>();
  r->node_selector = {{std::string(kKey), "performance"}};
  return r;
}

std::vector<std::string> names(const Cluster& c, const std::vector<std::size_t>& idx) {
  std::vector<std::string> out;
  for (std::size_t i : idx) {
    out.push_back(c.views[i].name);
  }
  return out;
}

const Taint kTaintC{"pool", "c", TaintEffect::no_schedule};

}  // namespace

TEST_CASE("three node types, one tainted: only type-C nodes are upgraded, enough of them",
          "[packing]") {
  Cluster c;
  c.add("a1", "A", 16, false);
  c.add("a2", "A", 16, false);
  c.add("b1", "B", 32, false);
  c.add("b2", "B", 32, false);
  c.add("c1", "C", 96, false, {kTaintC});
  c.add("c2", "C", 96, false, {kTaintC});
  c.add("c3", "C", 96, false, {kTaintC});
  c.add("c4", "C", 96, false, {kTaintC});
  const auto req = needs_type("C", true);
  std::vector<PendingPod> pods;
  for (int i = 0; i < 5; ++i) {
    pods.push_back({"ml/train-" + std::to_string(i), req, {40000, 8 * kGi, 1}});
  }
  const auto r = pack_pending(pods, c.packed(), FitOptions{kKey});
  // Two 40-core pods per 96-core node: five pods need three nodes, all of type C.
  CHECK(names(c, r.upgrades) == std::vector<std::string>{"c1", "c2", "c3"});
  CHECK(r.unsatisfiable.empty());
  CHECK(r.waiting.empty());
  for (auto p : r.placement) {
    CHECK(p >= 4);
  }
}

TEST_CASE("a pod too big for every node is reported and upgrades nothing", "[packing]") {
  Cluster c;
  c.add("a1", "A", 16, false);
  c.add("c1", "C", 96, false, {kTaintC});
  std::vector<PendingPod> pods{{"ml/huge", needs_type("C", true), {200000, 0, 1}}};
  const auto r = pack_pending(pods, c.packed(), FitOptions{kKey});
  CHECK(r.upgrades.empty());
  REQUIRE(r.unsatisfiable.size() == 1);
  CHECK(r.unsatisfiable[0].pod == 0);
  CHECK(r.unsatisfiable[0].reason ==
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
        "affinity/selector.");
}

TEST_CASE("untolerated taint and wrong type are unsatisfiable, with the scheduler's words",
          "[packing]") {
  Cluster c;
  c.add("a1", "A", 16, false);
  c.add("c1", "C", 96, false, {kTaintC});
  std::vector<PendingPod> pods{{"ml/no-toleration", needs_type("C", false), {1000, 0, 1}},
                               {"ml/type-d", needs_type("D", true), {1000, 0, 1}}};
  const auto r = pack_pending(pods, c.packed(), FitOptions{kKey});
  CHECK(r.upgrades.empty());
  REQUIRE(r.unsatisfiable.size() == 2);
  CHECK(r.unsatisfiable[0].reason ==
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 "
        "node(s) had untolerated taint {pool: c}.");
  CHECK(r.unsatisfiable[1].reason ==
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.");
}

TEST_CASE("free room on performance nodes is used before any upgrade", "[packing]") {
  Cluster c;
  c.add("a1", "A", 16, false);
  c.add("a2", "A", 16, true, {}, Resources{4000, 0, 5});  // 12 cores free
  c.add("a3", "A", 16, false);
  std::vector<PendingPod> pods{{"p/1", performance_only(), {6000, 0, 1}},
                               {"p/2", performance_only(), {6000, 0, 1}},
                               {"p/3", performance_only(), {6000, 0, 1}}};
  const auto r = pack_pending(pods, c.packed(), FitOptions{kKey});
  CHECK(names(c, r.used_performance) == std::vector<std::string>{"a2"});
  CHECK(names(c, r.upgrades) == std::vector<std::string>{"a1"});  // one more for the third pod
  CHECK(r.placement == std::vector<std::ptrdiff_t>{1, 1, 0});
}

TEST_CASE("a pod that fits a full performance node waits instead of being unsatisfiable",
          "[packing]") {
  Cluster c;
  c.add("a1", "A", 16, true);
  std::vector<PendingPod> pods{{"p/1", performance_only(), {10000, 0, 1}},
                               {"p/2", performance_only(), {10000, 0, 1}}};
  const auto r = pack_pending(pods, c.packed(), FitOptions{kKey});
  CHECK(r.upgrades.empty());
  CHECK(r.unsatisfiable.empty());
  CHECK(r.waiting == std::vector<std::size_t>{1});
}

TEST_CASE("the candidate fitting the most unplaced pods is preferred; then watts, cpu, name",
          "[packing]") {
  // One small pod fits A or C; four need C. Upgrading C first serves them all.
  Cluster c;
  c.add("a1", "A", 96, false, {}, {}, 50);  // cheaper, but only the flexible pod fits it
  c.add("c1", "C", 96, false, {}, {}, 200);
  auto flexible = std::make_shared<PodRequirement>();
  flexible->node_selector = {{std::string(kKey), "performance"}};
  std::vector<PendingPod> pods{{"p/flex", flexible, {30000, 0, 1}}};
  for (int i = 0; i < 3; ++i) {
    pods.push_back({"p/c" + std::to_string(i), needs_type("C"), {20000, 0, 1}});
  }
  auto r = pack_pending(pods, c.packed(), FitOptions{kKey});
  CHECK(names(c, r.upgrades) == std::vector<std::string>{"c1"});

  // Equal coverage: the fewest upgrade watts, then the most free cpu, then the name.
  Cluster d;
  d.add("x1", "A", 32, false, {}, {}, 300);
  d.add("x2", "A", 32, false, {}, {}, 100);
  d.add("x3", "A", 32, false, {}, Resources{8000, 0, 1}, 100);
  d.add("x4", "A", 32, false, {}, {}, 100);
  std::vector<PendingPod> one{{"p/1", performance_only(), {1000, 0, 1}}};
  r = pack_pending(one, d.packed(), FitOptions{kKey});
  CHECK(names(d, r.upgrades) == std::vector<std::string>{"x2"});
}

TEST_CASE("packing is deterministic and never upgrades a node no pod fits", "[packing]") {
  Cluster c;
  for (int i = 0; i < 20; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "n%02d", i);
    c.add(name, i % 2 == 0 ? "A" : "B", 32, false);
  }
  std::vector<PendingPod> pods;
  const auto a = needs_type("A");
  for (int i = 0; i < 7; ++i) {
    pods.push_back({"p/" + std::to_string(i), a, {10000 + i * 1000, kGi, 1}});
  }
  const auto r1 = pack_pending(pods, c.packed(), FitOptions{kKey});
  const auto r2 = pack_pending(pods, c.packed(), FitOptions{kKey});
  CHECK(r1.upgrades == r2.upgrades);
  CHECK(r1.placement == r2.placement);
  for (auto n : r1.upgrades) {
    CHECK(c.views[n].labels.at("node.kubernetes.io/instance-type") == "A");
  }
  // Requests 16,15,…,10 cores on 32-core nodes: first-fit decreasing needs 4 nodes.
  CHECK(r1.upgrades.size() == 4);
}

namespace {

// 5 000 nodes of three types (one tainted, a third hosting bound pods), 2 000 pending pods of
// twenty requirements.
struct Scale {
  Cluster cluster;
  std::vector<PendingPod> pods;
  Scale() {
    for (int i = 0; i < 5000; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "node-%05d", i);
      const int type = i % 3;
      cluster.add(name,
                  type == 0   ? "A"
                  : type == 1 ? "B"
                              : "C",
                  type == 2 ? 96 : 32, i % 50 == 0,
                  type == 2 ? std::vector<Taint>{kTaintC} : std::vector<Taint>{},
                  Resources{(i % 7) * 2000, (i % 5) * kGi, 30});
      cluster.views.back().labels["topology.kubernetes.io/zone"] = "z" + std::to_string(i % 4);
      cluster.views.back().labels["kubernetes.io/hostname"] = name;
    }
    std::vector<std::shared_ptr<const PodRequirement>> reqs;
    for (int g = 0; g < 20; ++g) {
      auto r = std::make_shared<PodRequirement>();
      r->node_selector = {{std::string(kKey), "performance"}};
      if (g % 4 != 3) {
        r->node_selector["node.kubernetes.io/instance-type"] = g % 4 == 0   ? "A"
                                                               : g % 4 == 1 ? "B"
                                                                            : "C";
      }
      r->has_required_affinity = true;
      r->terms = {FitTerm{{{"topology.kubernetes.io/zone",
                            FitOperator::in,
                            {"z" + std::to_string(g % 4), "z" + std::to_string((g + 1) % 4)}}},
                          {}}};
      r->tolerations = {{"pool", true, "", std::nullopt}};
      reqs.push_back(std::move(r));
    }
    for (int p = 0; p < 2000; ++p) {
      pods.push_back({"ns/pod-" + std::to_string(p),
                      reqs[static_cast<std::size_t>(p % 20)],
                      {1000 + (p % 8) * 1000, (1 + p % 4) * kGi, 1}});
    }
  }
};

}  // namespace

TEST_CASE("packing at 5 000 nodes and 2 000 pending pods", "[packing][scale]") {
  Scale s;
  const auto r = pack_pending(s.pods, s.cluster.packed(), FitOptions{kKey});
  CHECK(r.unsatisfiable.empty());
  CHECK(r.waiting.empty());
  for (std::size_t p = 0; p < s.pods.size(); ++p) {
    REQUIRE(r.placement[p] >= 0);
  }
  CHECK(r.upgrades.size() < 500);
}

// Run with: build/test/unit_policy "[.bench]" (docs/benchmarks.md records the figure).
TEST_CASE("bench: packing 5 000 nodes × 2 000 pending pods", "[.bench]") {
  Scale s;
  std::vector<double> ms;
  std::size_t upgrades = 0;
  for (int i = 0; i < 15; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = pack_pending(s.pods, s.cluster.packed(), FitOptions{kKey});
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    upgrades = r.upgrades.size();
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "pack_pending 5000 nodes, 2000 pods, 20 requirements: median %.2f ms, max %.2f ms, "
      "%zu upgrades\n",
      ms[ms.size() / 2], ms.back(), upgrades);
  CHECK(upgrades > 0);
}

TEST_CASE("the packing agrees with the reference on random clusters", "[packing]") {
  // The faster packing (ranked candidates per fit class, reasons counted by cause, the stable
  // request sort) must choose exactly what the straight scan chose: same upgrades in the same
  // order, placements, unsatisfiable reasons and waiting pods.
  std::mt19937 rng(18);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* types[] = {"A", "B", "C"};
  for (int round = 0; round < 300; ++round) {
    Cluster c;
    const int node_count = 1 + pick(40);
    for (int i = 0; i < node_count; ++i) {
      const int t = pick(3);
      std::vector<Taint> taints;
      if (t == 2 && pick(2) == 0) {
        taints.push_back(kTaintC);
      }
      const Resources requested{pick(8) * 1000, pick(64) * kGi, pick(3) == 0 ? 109 : pick(20)};
      c.add(fmt::format("n{:03}", i), types[t], 8 + 8 * pick(4), pick(4) == 0, taints, requested,
            50.0 * pick(3));
      c.nodes.back().bound = {pick(4) * 500, pick(8) * kGi, pick(5)};
    }
    auto affinity = std::make_shared<PodRequirement>(*performance_only());
    affinity->has_required_affinity = true;
    affinity->terms = {{{{"node.kubernetes.io/instance-type", FitOperator::not_in, {"B"}}}, {}}};
    std::vector<std::shared_ptr<const PodRequirement>> reqs = {
        needs_type("A"), needs_type("B"),    needs_type("C", true),
        needs_type("C"), performance_only(), nullptr,
        affinity};
    std::vector<PendingPod> pods;
    const int pod_count = pick(60);
    const bool sorted = pick(2) == 0;
    for (int p = 0; p < pod_count; ++p) {
      const std::string name =
          sorted ? fmt::format("ns/p{:03}", p) : fmt::format("ns/p{}", pick(9));
      pods.push_back({name,
                      reqs[static_cast<std::size_t>(pick(7))],
                      {(1 + pick(12)) * 500, (1 + pick(16)) * kGi, 1}});
    }
    const FitOptions options{kKey};
    const PackResult got = pack_pending(pods, c.packed(), options);
    const PackResult want = reference::pack_pending(pods, c.packed(), options);
    INFO("round " << round);
    CHECK(got.upgrades == want.upgrades);
    CHECK(got.used_performance == want.used_performance);
    CHECK(got.placement == want.placement);
    CHECK(got.waiting == want.waiting);
    REQUIRE(got.unsatisfiable.size() == want.unsatisfiable.size());
    for (std::size_t i = 0; i < got.unsatisfiable.size(); ++i) {
      CHECK(got.unsatisfiable[i].pod == want.unsatisfiable[i].pod);
      CHECK(got.unsatisfiable[i].reason == want.unsatisfiable[i].reason);
      CHECK(got.unsatisfiable[i].matching_nodes == want.unsatisfiable[i].matching_nodes);
      CHECK(got.unsatisfiable[i].most_free == want.unsatisfiable[i].most_free);
    }
  }
}

}  // namespace packing_test
