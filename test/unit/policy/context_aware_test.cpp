#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "joulie/common/duration.hpp"
#include "joulie/policy/policies.hpp"
#include "joulie/policy/policy_file.hpp"
#include "joulie/policy/time_zone.hpp"

using namespace joulie::policy;
using joulie::SystemTime;
using joulie::api::Profile;
using namespace std::chrono_literals;

namespace {

const SystemTime kNow = SystemTime{} + std::chrono::seconds(1796400000);  // 2026-12-03

Signal ok(double v) {
  Signal s;
  s.value = v;
  s.health = SignalHealth::ok;
  s.source = "prometheus";
  s.sampled_at = kNow - 10s;
  return s;
}

struct N {
  std::string name;
  std::string zone;
  NodeState state = NodeState::active_performance;
  std::int64_t perf_pods = 0;
  std::optional<double> temp;
  std::optional<joulie::Duration> since;  // last transition this long ago
};

Context context(const std::vector<N>& ns, std::int64_t cluster_pods = 0) {
  Context c;
  c.now = kNow;
  c.pods_known = true;
  c.workloads.cluster.performance_only = cluster_pods;
  for (const auto& n : ns) {
    NodeContext nc;
    nc.name = n.name;
    nc.zone = n.zone;
    nc.state = n.state;
    nc.perf_pods = n.perf_pods;
    if (n.temp) {
      nc.temperature_celsius = ok(*n.temp);
    }
    if (n.since) {
      nc.last_transition = kNow - *n.since;
    }
    c.nodes.push_back(nc);
  }
  std::sort(c.nodes.begin(), c.nodes.end(),
            [](const NodeContext& a, const NodeContext& b) { return a.name < b.name; });
  return c;
}

std::vector<N> plain(int n, NodeState state = NodeState::active_performance) {
  std::vector<N> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({"n" + std::to_string(i), "", state, 0, std::nullopt, std::nullopt});
  }
  return out;
}

PolicyConfig config(double base = 0.3, std::int64_t min = 1, std::int64_t max = 1000,
                    std::int64_t per = 10) {
  PolicyConfig c;
  c.kind = PolicyKind::context_aware_v1;
  c.base_fraction = base;
  c.min = min;
  c.max = max;
  c.perf_pods_per_node = per;
  return c;
}

PolicyPlan run(const PolicyConfig& c, const Context& ctx) {
  auto p = plan(c, {ctx});
  REQUIRE(p.ok());
  return *p;
}

// "n0 n3" — the performance nodes of a plan.
std::string perf(const PolicyPlan& p) {
  std::string out;
  for (const auto& n : p.nodes) {
    if (n.profile == Profile::performance) {
      out += (out.empty() ? "" : " ") + n.node;
    }
  }
  return out;
}

std::string reasons_of(const PolicyPlan& p, const std::string& node) {
  for (const auto& n : p.nodes) {
    if (n.node == node) {
      std::string out;
      for (const auto& r : n.reasons) {
        out += r + "; ";
      }
      return out;
    }
  }
  return "<no node>";
}

}  // namespace

TEST_CASE("context_aware_v1 demand: the queue-aware count, raised by the forecast") {
  struct Case {
    const char* name;
    std::int64_t pods;
    std::optional<double> forecast;
    double headroom;
    bool forecast_part;
    std::int64_t hp;
  };
  const Case cases[] = {
      {"base fraction of 10 nodes", 0, std::nullopt, 1.0, true, 3},
      {"45 pods at 10 per node", 45, std::nullopt, 1.0, true, 5},
      {"forecast 55 raises to 6", 10, 55.0, 1.0, true, 6},
      {"forecast below demand changes nothing", 45, 20.0, 1.0, true, 5},
      {"headroom 2 doubles the forecast", 0, 20.0, 2.0, true, 4},
      {"forecast part switched off", 10, 55.0, 1.0, false, 3},
      {"forecast clamped by N", 0, 1e9, 1.0, true, 10},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Context ctx = context(plain(10), c.pods);
    if (c.forecast) {
      ctx.demand_forecast = ok(*c.forecast);
    }
    PolicyConfig cfg = config();
    cfg.forecast_headroom = c.headroom;
    cfg.parts.forecast = c.forecast_part;
    CHECK(run(cfg, ctx).performance_nodes == c.hp);
  }
  // A forecast that is stale, NaN or in error is missing: never zero, never a lower count.
  for (SignalHealth h : {SignalHealth::stale, SignalHealth::error, SignalHealth::missing}) {
    Context ctx = context(plain(10), 45);
    ctx.demand_forecast = ok(90);
    ctx.demand_forecast.health = h;
    CHECK(run(config(), ctx).performance_nodes == 5);
  }
  Context nan = context(plain(10), 45);
  nan.demand_forecast = ok(std::numeric_limits<double>::quiet_NaN());
  CHECK(run(config(), nan).performance_nodes == 5);
}

TEST_CASE("context_aware_v1 windows: the window's bounds and eco cap, at the right local time") {
  std::ifstream in("/usr/share/zoneinfo/Europe/Rome", std::ios::binary);
  REQUIRE(in);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  auto rome = TimeZone::from_tzif("Europe/Rome", bytes.str());
  REQUIRE(rome.ok());

  PolicyConfig cfg = config(0.5, 1, 1000, 10);
  cfg.eco_cap_watts = 120;
  TimeWindow night;
  night.name = "night";
  night.days.fill(true);
  night.start_minute = 22 * 60;
  night.end_minute = 6 * 60;
  night.base_fraction = 0.1;
  night.max = 2;
  night.eco_cap_watts = 100;
  cfg.windows = {night};

  auto at = [&](const char* utc_text, std::int64_t pods) {
    Context ctx = context(plain(10), pods);
    ctx.now = *joulie::parse_rfc3339(utc_text);
    ctx.local = rome->local(ctx.now);
    return run(cfg, ctx);
  };
  // Saturday 28 March (CET, +1): 05:59 local is in the window, 06:00 is not.
  auto before = at("2026-03-28T04:59:00Z", 0);
  CHECK(before.window == "night");
  CHECK(before.performance_nodes == 1);
  CHECK(before.eco_cap_watts == 100);
  CHECK(at("2026-03-28T05:00:00Z", 0).performance_nodes == 5);
  // Sunday 29 March (CEST, +2): the window ends an hour earlier in UTC.
  CHECK(at("2026-03-29T03:59:00Z", 0).window == "night");
  auto after = at("2026-03-29T04:00:00Z", 0);
  CHECK(after.window.empty());
  CHECK(after.eco_cap_watts == 120);
  // Across midnight: 23:30 and 00:30 local are both in it.
  CHECK(at("2026-06-01T21:30:00Z", 0).window == "night");
  CHECK(at("2026-06-01T22:30:00Z", 0).window == "night");
  CHECK(at("2026-06-01T19:59:00Z", 0).window.empty());
  // The window's max clamps even a large demand; its reason says so.
  auto busy = at("2026-06-01T22:30:00Z", 500);
  CHECK(busy.performance_nodes == 2);
  REQUIRE_FALSE(busy.reasons.empty());
  CHECK(busy.reasons[0] == "window night: baseFraction 0.1 max 2 ecoCapWatts 100");
  REQUIRE_FALSE(busy.nodes[0].reasons.empty());
  CHECK(busy.nodes[0].reasons[0] == busy.reasons[0]);  // every node says which window
}

TEST_CASE("windows apply to the existing policies too, by what each reads") {
  TimeWindow w;
  w.name = "w";
  w.days.fill(true);
  w.start_minute = 0;
  w.end_minute = 1440;
  w.base_fraction = 0.2;
  w.min = 3;
  w.eco_cap_watts = 90;
  Context ctx;  // local: Thursday 1970 00:00 UTC, inside the all-day window
  for (int i = 0; i < 10; ++i) {
    ctx.nodes.push_back(NodeContext{});
    ctx.nodes.back().name = "n" + std::to_string(i);
  }
  ctx.pods_known = true;  // no performance-sensitive pods
  const PolicyInput in{ctx};

  PolicyConfig stat;
  stat.kind = PolicyKind::static_partition;
  stat.base_fraction = 0.5;
  stat.windows = {w};
  CHECK(plan(stat, in)->performance_nodes == 2);  // baseFraction only; min is queue-only
  CHECK(plan(stat, in)->eco_cap_watts == 90);
  PolicyConfig queue = stat;
  queue.kind = PolicyKind::queue_aware_v1;
  CHECK(plan(queue, in)->performance_nodes == 3);  // round(10 × 0.2) = 2, min 3
  PolicyConfig swap = stat;
  swap.kind = PolicyKind::rule_swap_v1;
  CHECK(plan(swap, in)->performance_nodes == 9);  // untouched count
  CHECK(plan(swap, in)->eco_cap_watts == 90);
  // Outside every window: the exact old vectors.
  stat.windows.clear();
  CHECK(plan(stat, in)->performance_nodes == 5);
  CHECK(plan(stat, in)->window.empty());
}

TEST_CASE("context_aware_v1 which nodes: coolest performance, hottest eco, ties by name") {
  // 6 nodes, base 0.5 → 3 performance.
  std::vector<N> ns = {{"a", "", NodeState::active_performance, 0, 70.0, {}},
                       {"b", "", NodeState::active_performance, 0, 40.0, {}},
                       {"c", "", NodeState::active_eco, 0, 55.0, {}},
                       {"d", "", NodeState::active_eco, 0, 40.0, {}},
                       {"e", "", NodeState::active_performance, 0, 90.0, {}},
                       {"f", "", NodeState::active_eco, 0, 55.0, {}}};
  auto p = run(config(0.5), context(ns));
  CHECK(perf(p) == "b c d");  // 40, 40 (b before d), then 55 (c before f by name)
  CHECK_THAT(reasons_of(p, "e"), Catch::Contains("temperature 90.0 °C, 35.0 °C above median"));
  CHECK_THAT(reasons_of(p, "b"), Catch::Contains("15.0 °C below median"));

  ContextAwareParts off;
  off.temperature = false;
  PolicyConfig by_name = config(0.5);
  by_name.parts = off;
  CHECK(perf(run(by_name, context(ns))) == "a b c");
}

TEST_CASE("context_aware_v1 keeps nodes hosting performance-sensitive pods in performance") {
  std::vector<N> ns = {{"a", "", NodeState::active_performance, 0, 30.0, {}},
                       {"b", "", NodeState::active_performance, 0, 35.0, {}},
                       {"hot", "", NodeState::active_performance, 2, 95.0, {}},
                       {"d", "", NodeState::active_performance, 0, 40.0, {}}};
  auto p = run(config(0.5), context(ns, 2));  // 2 performance nodes
  CHECK(perf(p) == "a hot");
  CHECK_THAT(reasons_of(p, "hot"), Catch::Contains("hosts 2 performance-sensitive pod(s)"));

  PolicyConfig no_hosts = config(0.5);
  no_hosts.parts.keep_perf_pod_hosts = false;
  CHECK(perf(run(no_hosts, context(ns, 2))) == "a b");
  // Without pod data no node counts as a host (the guard refuses downgrades anyway).
  Context unknown = context(ns, 2);
  unknown.pods_known = false;
  CHECK(perf(run(config(0.5), unknown)) == "a b");
}

TEST_CASE("context_aware_v1 zone minimum holds when a zone's nodes are all hot") {
  std::vector<N> ns = {{"a1", "zone-a", NodeState::active_performance, 0, 90.0, {}},
                       {"a2", "zone-a", NodeState::active_performance, 0, 91.0, {}},
                       {"b1", "zone-b", NodeState::active_performance, 0, 30.0, {}},
                       {"b2", "zone-b", NodeState::active_performance, 0, 31.0, {}},
                       {"b3", "zone-b", NodeState::active_performance, 0, 32.0, {}},
                       {"c1", "zone-c", NodeState::active_performance, 0, 33.0, {}}};
  PolicyConfig cfg = config(0.34, 0);  // round(6 × 0.34) = 2
  CHECK(perf(run(cfg, context(ns))) == "b1 b2");
  cfg.topology.min_performance_per_zone = 1;
  auto p = run(cfg, context(ns));
  CHECK(perf(p) == "a1 b1 c1");  // the minimum raises the count to 3
  CHECK(p.performance_nodes == 3);
  CHECK_THAT(reasons_of(p, "a1"), Catch::Contains("zone zone-a: minimum 1"));
  // All cool: the minimum still spreads them.
  for (auto& n : ns) {
    n.temp = 20.0;
  }
  CHECK(perf(run(cfg, context(ns))) == "a1 b1 c1");
  // A minimum larger than a zone: the whole zone.
  cfg.topology.min_performance_per_zone = 2;
  CHECK(perf(run(cfg, context(ns))) == "a1 a2 b1 b2 c1");
  cfg.parts.zone_minimum = false;
  CHECK(perf(run(cfg, context(ns))) == "a1 a2");
}

TEST_CASE("context_aware_v1 prefers the lowest-PUE zones") {
  std::vector<N> ns = {{"a1", "zone-a", NodeState::active_performance, 0, {}, {}},
                       {"a2", "zone-a", NodeState::active_performance, 0, {}, {}},
                       {"b1", "zone-b", NodeState::active_performance, 0, {}, {}},
                       {"b2", "zone-b", NodeState::active_performance, 0, {}, {}}};
  Context ctx = context(ns);
  ctx.zone_pue["zone-a"] = ok(1.6);
  ctx.zone_pue["zone-b"] = ok(1.2);
  auto p = run(config(0.5), ctx);
  CHECK(perf(p) == "b1 b2");
  CHECK_THAT(reasons_of(p, "a1"), Catch::Contains("zone zone-a PUE 1.60"));
  PolicyConfig no_pue = config(0.5);
  no_pue.parts.pue = false;
  CHECK(perf(run(no_pue, ctx)) == "a1 a2");
}

TEST_CASE("context_aware_v1: a missing signal never downgrades a node by itself") {
  // b is performance and cool; its temperature goes missing while the others stay.
  std::vector<N> ns = {{"a", "", NodeState::active_eco, 0, 50.0, {}},
                       {"b", "", NodeState::active_performance, 0, 30.0, {}},
                       {"c", "", NodeState::active_performance, 0, 40.0, {}},
                       {"d", "", NodeState::active_eco, 0, 60.0, {}}};
  CHECK(perf(run(config(0.5), context(ns))) == "b c");
  ns[1].temp.reset();
  CHECK(perf(run(config(0.5), context(ns))) == "b c");
  // An eco node whose signal goes missing is not promoted by it either.
  ns[1].temp = 30.0;
  ns[0].temp.reset();
  CHECK(perf(run(config(0.5), context(ns))) == "b c");
  // Every signal missing (Prometheus down): the current assignment holds.
  for (auto& n : ns) {
    n.temp.reset();
  }
  Context down = context(ns);
  for (auto& n : down.nodes) {
    n.temperature_celsius.source = "prometheus";
    n.temperature_celsius.health = SignalHealth::error;
  }
  CHECK(perf(run(config(0.5), down)) == "b c");
  // Not configured at all: no preference, ties by name.
  CHECK(perf(run(config(0.5), context(ns))) == "a b");
  // Stale and error values are missing too, not their (stale) number.
  Context stale = context(ns);
  stale.nodes[1].temperature_celsius = ok(99);
  stale.nodes[1].temperature_celsius.health = SignalHealth::stale;
  stale.nodes[2].temperature_celsius = ok(10);
  auto p = run(config(0.5), stale);
  CHECK(perf(p) == "b c");
  CHECK_THAT(reasons_of(p, "b"), Catch::Contains("temperature stale: no preference"));
}

TEST_CASE("context_aware_v1 stability: minDwell holds a fresh node, upgrades never wait") {
  std::vector<N> ns = plain(4);
  ns[2].since = 5min;                  // became performance 5 minutes ago
  ns[3].since = 11min;                 // 11 minutes ago
  PolicyConfig cfg = config(0.25, 0);  // 1 performance
  cfg.stability.min_dwell = 10min;
  auto p = run(cfg, context(ns));
  CHECK(perf(p) == "n0 n2");
  CHECK_THAT(reasons_of(p, "n2"),
             Catch::Contains("minDwell 10m0s: 5m0s left in ActivePerformance"));
  // Until when, for `kubectl joulie plan`: the last transition + minDwell; nobody else is held.
  const Context ctx = context(ns);
  for (const auto& n : p.nodes) {
    INFO(n.node);
    CHECK(n.held_until == (n.node == "n2" ? std::optional(ctx.now + 5min) : std::nullopt));
  }
  cfg.parts.stability = false;
  CHECK(perf(run(cfg, context(ns))) == "n0");

  // Upgrades: every node eco, just changed, a budget of 1; demand wants 8 → 8 at once.
  std::vector<N> eco = plain(10, NodeState::active_eco);
  for (auto& n : eco) {
    n.since = 1min;
  }
  PolicyConfig up = config(0.0, 0);
  up.stability.min_dwell = 10min;
  up.stability.change_budget = ChangeBudget{1, false};
  CHECK(run(up, context(eco, 80)).performance_nodes == 8);
}

TEST_CASE("context_aware_v1 stability: the change budget spreads a large downgrade") {
  // 10 performance nodes, demand drops to 1: 9 downgrades wanted, 3 per pass.
  std::vector<N> ns = plain(10);
  for (int i = 0; i < 10; ++i) {
    ns[static_cast<std::size_t>(i)].temp = 40.0 + i;  // n9 hottest
  }
  PolicyConfig cfg = config(0.0, 1);
  cfg.stability.change_budget = ChangeBudget{3, false};
  std::vector<std::string> passes;
  for (int pass = 0; pass < 5; ++pass) {
    Context ctx = context(ns);
    auto p = run(cfg, ctx);
    passes.push_back(perf(p));
    for (std::size_t i = 0; i < ns.size(); ++i) {  // apply the plan
      ns[i].state = p.nodes[i].profile == Profile::performance ? NodeState::active_performance
                                                               : NodeState::active_eco;
    }
  }
  CHECK(passes[0] == "n0 n1 n2 n3 n4 n5 n6");  // the hottest three first
  CHECK(passes[1] == "n0 n1 n2 n3");
  CHECK(passes[2] == "n0");  // n1..n3: the last three
  CHECK(passes[3] == "n0");
  CHECK(passes[4] == "n0");

  // A percent budget: 10% of 10 nodes is 1; 25% of 10 is 3 (rounded up).
  CHECK(ChangeBudget{10, true}.allowed(10) == 1);
  CHECK(ChangeBudget{25, true}.allowed(10) == 3);
  CHECK(ChangeBudget{1, true}.allowed(3) == 1);
  CHECK(ChangeBudget{5, false}.allowed(3) == 5);
  auto p = run(cfg, context(plain(10)));
  CHECK_THAT(reasons_of(p, "n1"), Catch::Contains("budget: 3 of 3 used; downgrade waits"));
  CHECK_THAT(reasons_of(p, "n9"), Catch::Contains("budget: 1 of 3 used"));
}

TEST_CASE("context_aware_v1 is deterministic: the same snapshot gives the same plan") {
  std::mt19937_64 rng(20261203);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  for (int round = 0; round < 300; ++round) {
    const int n = 1 + pick(40);
    std::vector<N> ns;
    for (int i = 0; i < n; ++i) {
      N node;
      node.name = "node-" + std::to_string(pick(1000)) + "-" + std::to_string(i);
      node.zone = pick(4) == 0 ? "" : "zone-" + std::to_string(pick(3));
      node.state = static_cast<NodeState>(pick(3));
      node.perf_pods = pick(3) == 0 ? pick(5) : 0;
      if (pick(3) != 0) {
        node.temp = 20.0 + pick(60) + (pick(2) == 0 ? 0.5 : 0.0);
      }
      if (pick(2) == 0) {
        node.since = std::chrono::seconds(pick(3600));
      }
      ns.push_back(node);
    }
    Context ctx = context(ns, pick(200));
    if (pick(2) == 0) {
      ctx.demand_forecast = ok(pick(300));
    }
    if (pick(2) == 0) {
      for (int z = 0; z < 3; ++z) {
        if (pick(3) != 0) {
          ctx.zone_pue["zone-" + std::to_string(z)] = ok(1.1 + pick(5) / 10.0);
        }
      }
    }
    PolicyConfig cfg = config(pick(11) / 10.0, pick(3), 1 + pick(40), 1 + pick(20));
    cfg.topology.min_performance_per_zone = pick(3);
    cfg.stability.min_dwell = std::chrono::seconds(pick(2) * 600);
    if (pick(2) == 0) {
      cfg.stability.change_budget = ChangeBudget{1 + pick(5), pick(2) == 0};
    }
    const PolicyPlan first = run(cfg, ctx);
    const PolicyPlan second = run(cfg, ctx);
    REQUIRE(first.nodes.size() == second.nodes.size());
    for (std::size_t i = 0; i < first.nodes.size(); ++i) {
      CHECK(first.nodes[i].node == second.nodes[i].node);
      CHECK(first.nodes[i].profile == second.nodes[i].profile);
      CHECK(first.nodes[i].reasons == second.nodes[i].reasons);
    }
    CHECK(first.reasons == second.reasons);
    CHECK(first.performance_nodes == second.performance_nodes);

    // Invariants that hold for every snapshot.
    std::int64_t counted = 0;
    std::map<std::string, std::pair<int, int>> zones;  // performance, size
    for (std::size_t i = 0; i < first.nodes.size(); ++i) {
      const bool p = first.nodes[i].profile == Profile::performance;
      counted += p ? 1 : 0;
      if (!ctx.nodes[i].zone.empty()) {
        zones[ctx.nodes[i].zone].first += p ? 1 : 0;
        zones[ctx.nodes[i].zone].second += 1;
      }
      // An eco node never came from ActiveEco-or-draining to... (no rule); but a node that is
      // eco now and planned performance is an upgrade: never held by the budget or dwell.
    }
    CHECK(counted == first.performance_nodes);
    for (const auto& [zone, c] : zones) {
      INFO(zone);
      CHECK(c.first >= std::min<std::int64_t>(cfg.topology.min_performance_per_zone, c.second));
    }
  }
}
