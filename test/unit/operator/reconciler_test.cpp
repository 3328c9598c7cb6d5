#include "joulie/operator/reconciler.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "joulie/operator/pass_report.hpp"

#include "fixture.hpp"

using namespace std::chrono_literals;
using joulie::Errc;
using joulie::Error;
using joulie::operator_mode::PassKind;
using joulie::operator_mode::testing::Fixture;
using joulie::operator_mode::testing::kNodes;
using joulie::operator_mode::testing::kNpps;
using joulie::operator_mode::testing::Verb;
using joulie::policy::GuardResult;
using joulie::policy::NodeState;

namespace {

std::vector<std::string> write_order(const Fixture& f) {
  std::vector<std::string> out;
  for (const auto& w : f.writes) {
    const char* verb = w.verb == Verb::create   ? "create"
                       : w.verb == Verb::patch  ? "patch"
                       : w.verb == Verb::remove ? "delete"
                                                : "update";
    out.push_back(std::string(verb) + " " + w.resource);
  }
  return out;
}

double metric(Fixture& f, const std::string& needle) {
  std::string text = f.registry.expose();
  auto pos = text.find("\n" + needle + " ");
  if (pos == std::string::npos) {
    return -1;
  }
  return std::stod(text.substr(pos + needle.size() + 2));
}

}  // namespace

TEST_CASE("reconciler: first pass labels and profiles the managed nodes only") {
  Fixture f;
  for (auto n : {"n1", "n2", "n3", "n4"}) {
    f.add_node(n);
  }
  f.add_node("reserved", "\"joulie.io/reserved\":\"true\"");
  f.add_node("cordoned", "", true, "", true);
  f.add_node("other", "", false);

  auto r = f.pass();
  CHECK(r.managed == 4);
  CHECK(r.performance == 2);
  CHECK(f.label("n1") == "performance");
  CHECK(f.label("n2") == "performance");
  CHECK(f.label("n3") == "eco");
  CHECK(f.label("n4") == "eco");
  auto p1 = f.profile("n1");
  REQUIRE(p1);
  CHECK(p1->profile == "performance");
  CHECK(p1->cap_watts == 5000);
  CHECK(p1->policy_name == "static-partition-v1");
  CHECK(p1->node_name == "n1");
  CHECK(f.profile("n3")->cap_watts == 120);
  for (auto n : {"reserved", "cordoned", "other"}) {
    CHECK_FALSE(f.label(n));
    CHECK_FALSE(f.profile(n));
  }
  CHECK(f.api.count_objects(kNpps) == 4);
  CHECK(r.nodes[0].result == GuardResult::applied);
  CHECK(r.nodes[0].changed);
  CHECK(r.failed_nodes == 0);
}

TEST_CASE("reconciler: a pass in which nothing changed makes zero write requests") {
  Fixture f;
  for (auto n : {"n1", "n2", "n3"}) {
    f.add_node(n);
  }
  f.perf_pods["n3"] = 0;
  f.pass();
  f.writes.clear();
  f.clock.advance(1min);
  auto r = f.pass();
  CHECK(f.writes.empty());
  CHECK(r.write_requests == 0);
  for (const auto& n : r.nodes) {
    CHECK_FALSE(n.changed);
    CHECK(n.result == GuardResult::unchanged);
  }
}

TEST_CASE("reconciler: writes are trusted until the cache catches up (no duplicate writes)") {
  Fixture f;
  f.add_node("n1");
  f.add_node("n2");
  auto stale = f.snapshot();  // taken before any write, like a cache the echo has not reached
  f.reconciler->run_pass(stale, PassKind::replan);
  f.writes.clear();
  f.reconciler->run_pass(stale, PassKind::reguard);
  CHECK(f.writes.empty());
  f.pass();  // the cache has caught up: still nothing to write
  CHECK(f.writes.empty());
}

TEST_CASE("reconciler: upgrade writes the profile first, downgrade the label first") {
  Fixture f;
  f.add_node("n1");
  f.options.policy.base_fraction = 1.0;
  f.restart();
  f.pass();
  REQUIRE(f.label("n1") == "performance");

  f.options.policy.base_fraction = 0.0;
  f.restart();
  f.writes.clear();
  f.pass();
  CHECK(write_order(f) == std::vector<std::string>{"patch nodes", "patch nodepowerprofiles"});
  CHECK(f.label("n1") == "eco");
  CHECK(f.profile("n1")->profile == "eco");

  f.options.policy.base_fraction = 1.0;
  f.restart();
  f.writes.clear();
  f.pass();
  CHECK(write_order(f) == std::vector<std::string>{"patch nodepowerprofiles", "patch nodes"});
  CHECK(f.label("n1") == "performance");
  CHECK(f.profile("n1")->cap_watts == 5000);
}

TEST_CASE("reconciler: every upgrade of a pass is written before any downgrade (upgrades first)") {
  // rule_swap_v1 on two nodes: when the phase flips from 1 to 0, "a" (first by name) goes to
  // eco and "b" back to performance. Name order would write a's downgrade first.
  Fixture f;
  f.add_node("a");
  f.add_node("b");
  f.options.policy.kind = joulie::policy::PolicyKind::rule_swap_v1;
  f.options.policy.interval = 10s;
  f.restart();
  auto phase = [&f] {
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(f.clock.now().time_since_epoch())
            .count();
    return (ms / 10000) & 1;
  };
  while (phase() != 1) {
    f.clock.advance(1s);
  }
  f.pass();
  REQUIRE(f.label("a") == "performance");
  REQUIRE(f.label("b") == "eco");

  f.clock.advance(10s);
  REQUIRE(phase() == 0);
  f.writes.clear();
  auto r = f.pass();
  // b's upgrade (profile first, then label), then a's downgrade (label first, then profile).
  CHECK(write_order(f) == std::vector<std::string>{"patch nodepowerprofiles", "patch nodes",
                                                   "patch nodes", "patch nodepowerprofiles"});
  CHECK(f.label("a") == "eco");
  CHECK(f.label("b") == "performance");
  REQUIRE(r.nodes.size() == 2);  // outcomes are still reported by name
  CHECK(r.nodes[0].node == "a");
  CHECK(r.nodes[0].state == NodeState::active_eco);
  CHECK(r.nodes[1].node == "b");
  CHECK(r.nodes[1].state == NodeState::active_performance);
  f.writes.clear();
  f.pass();
  CHECK(f.writes.empty());
}

TEST_CASE("reconciler: a drain cancel is an upgrade: written before the pass's downgrades") {
  Fixture f;
  f.add_node("a");
  f.add_node("b");
  f.options.policy.kind = joulie::policy::PolicyKind::rule_swap_v1;
  f.options.policy.interval = 10s;
  f.restart();
  auto phase = [&f] {
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(f.clock.now().time_since_epoch())
            .count();
    return (ms / 10000) & 1;
  };
  while (phase() != 0) {
    f.clock.advance(1s);
  }
  f.pass();  // phase 0: a eco, b performance
  REQUIRE(f.label("b") == "performance");
  f.perf_pods["b"] = 1;
  f.clock.advance(10s);
  f.pass();  // phase 1: a performance, b wanted eco but busy: draining
  REQUIRE(f.label("a") == "performance");
  REQUIRE(f.label("b") == "draining-performance");

  f.clock.advance(10s);
  f.writes.clear();
  f.pass();  // phase 0 again: a downgrades, b's drain is cancelled
  // b: one node patch (label performance, draining-since removed; its profile stayed
  // performance while draining); then a: label first, then profile.
  CHECK(write_order(f) ==
        std::vector<std::string>{"patch nodes", "patch nodes", "patch nodepowerprofiles"});
  CHECK(f.label("b") == "performance");
  CHECK_FALSE(f.annotation("b"));
  CHECK(f.label("a") == "eco");
}

TEST_CASE("reconciler: a busy node drains; the last pod leaving completes the downgrade") {
  Fixture f;
  f.add_node("n1");
  f.options.policy.base_fraction = 1.0;
  f.restart();
  f.pass();
  f.options.policy.base_fraction = 0.0;
  f.restart();
  f.perf_pods["n1"] = 2;

  auto r = f.pass();
  CHECK(r.nodes[0].state == NodeState::draining_performance);
  CHECK(r.nodes[0].result == GuardResult::deferred);
  CHECK(f.label("n1") == "draining-performance");
  auto since = f.annotation("n1");
  REQUIRE(since);
  CHECK(f.profile("n1")->profile == "performance");  // cap stays up while draining
  CHECK(f.profile("n1")->cap_watts == 5000);
  REQUIRE(f.events.size() == 1);
  CHECK(f.events[0].reason == "DowngradeDeferred");

  // Repeated deferrals: no writes, no more events, but the metric counts them.
  f.writes.clear();
  for (int i = 0; i < 3; ++i) {
    f.clock.advance(1min);
    f.pass(PassKind::reguard);
  }
  CHECK(f.writes.empty());
  CHECK(f.events.size() == 1);
  CHECK(f.annotation("n1") == since);
  CHECK(metric(f,
               "joulie_operator_state_transitions_total{node=\"n1\",from_state="
               "\"DrainingPerformance\",to_state=\"ActiveEco\",result=\"deferred\"}") == 3);

  f.perf_pods["n1"] = 0;
  r = f.pass(PassKind::reguard);
  CHECK(r.nodes[0].state == NodeState::active_eco);
  CHECK(f.label("n1") == "eco");
  CHECK_FALSE(f.annotation("n1"));
  CHECK(f.profile("n1")->profile == "eco");
  CHECK(f.events.back().reason == "PowerProfileChanged");
}

TEST_CASE("reconciler: draining-since survives a restart and the drain is forced at the timeout") {
  Fixture f;
  f.add_node("n1", "\"joulie.io/power-profile\":\"performance\"");
  f.options.policy.base_fraction = 0.0;
  f.options.drain_timeout = 10min;
  f.restart();
  f.perf_pods["n1"] = 1;
  f.pass();
  auto since = f.annotation("n1");
  REQUIRE(since);

  f.clock.advance(6min);
  f.restart();  // a new operator process: only the annotation remembers the start
  f.writes.clear();
  auto r = f.pass();
  CHECK(f.writes.empty());
  CHECK(f.annotation("n1") == since);
  CHECK(r.nodes[0].state == NodeState::draining_performance);

  f.clock.advance(4min);
  r = f.pass();
  CHECK(r.nodes[0].state == NodeState::active_eco);
  CHECK(r.nodes[0].result == GuardResult::forced);
  CHECK(f.label("n1") == "eco");
  CHECK_FALSE(f.annotation("n1"));
  CHECK(f.events.back().reason == "DrainForced");
}

TEST_CASE("reconciler: a drain is cancelled when the policy wants performance again") {
  Fixture f;
  f.add_node("n1", "\"joulie.io/power-profile\":\"performance\"");
  f.options.policy.base_fraction = 0.0;
  f.restart();
  f.perf_pods["n1"] = 1;
  f.pass();
  REQUIRE(f.label("n1") == "draining-performance");

  f.options.policy.base_fraction = 1.0;
  f.restart();
  auto r = f.pass();
  CHECK(r.nodes[0].state == NodeState::active_performance);
  CHECK(f.label("n1") == "performance");
  CHECK_FALSE(f.annotation("n1"));
}

TEST_CASE("reconciler: nothing is downgraded while pod data is unknown") {
  Fixture f;
  f.add_node("n1", "\"joulie.io/power-profile\":\"performance\"");
  f.options.policy.base_fraction = 0.0;
  f.restart();
  f.pods_known = false;
  auto r = f.pass();
  CHECK(r.nodes[0].state == NodeState::active_performance);
  CHECK_FALSE(r.nodes[0].perf_pods);
  CHECK(f.label("n1") == "performance");
  CHECK(f.profile("n1")->profile == "performance");
}

TEST_CASE("reconciler: one node's failure does not stop the others and is retried") {
  Fixture f;
  for (auto n : {"n1", "n2", "n3", "n4"}) {
    f.add_node(n);
  }
  // n1 is first: its profile is created, then its label patch (the first patch) fails.
  f.api.fail_next(Verb::patch, Error(Errc::server_error, "boom", 500, "InternalError"));
  auto r = f.pass();
  CHECK(r.failed_nodes == 1);
  CHECK_FALSE(r.nodes[0].error.empty());
  CHECK_FALSE(f.label("n1"));
  CHECK(f.label("n2") == "performance");
  CHECK(f.label("n3") == "eco");
  CHECK(f.label("n4") == "eco");
  CHECK(metric(f, "joulie_operator_reconcile_errors_total") == 1);
  REQUIRE(f.reconciler->next_retry());

  // Within the backoff the node is left alone; after it, it is written.
  f.writes.clear();
  f.pass(PassKind::reguard);
  CHECK(f.writes.empty());
  f.clock.advance(2s);
  r = f.pass(PassKind::reguard);
  CHECK(r.failed_nodes == 0);
  CHECK(f.label("n1") == "performance");
  CHECK_FALSE(f.reconciler->next_retry());
}

TEST_CASE("reconciler: a conflict on a node patch is re-read and retried in the pass") {
  Fixture f;
  f.add_node("n1");
  f.api.fail_next(Verb::patch, Error(Errc::conflict, "modified", 409, "Conflict"));
  auto r = f.pass();
  CHECK(r.failed_nodes == 0);
  CHECK(f.label("n1") == "performance");
  CHECK(f.api.calls(Verb::get) >= 1);
}

TEST_CASE("reconciler: nodes leaving management are released; foreign profiles untouched") {
  Fixture f;
  for (auto n : {"n1", "n2", "n3", "n4"}) {
    f.add_node(n);
  }
  f.api.put(kNpps, R"({"apiVersion":"joulie.io/v1alpha1","kind":"NodePowerProfile",
    "metadata":{"name":"handmade"},"spec":{"nodeName":"n4","profile":"eco"}})");
  f.options.policy.base_fraction = 0.0;
  f.restart();
  f.perf_pods["n3"] = 1;
  f.pass();
  REQUIRE(f.label("n3") == "draining-performance");
  REQUIRE(f.annotation("n3"));

  // n1 deselected, n2 cordoned, n3 reserved while draining, n4 deleted.
  f.add_node("n1", "\"joulie.io/power-profile\":\"eco\"", false);
  f.api.put(kNodes, joulie::operator_mode::testing::node_json(
                        "n2", "\"joulie.io/power-profile\":\"eco\"", true, "", true));
  f.api.put(kNodes,
            joulie::operator_mode::testing::node_json(
                "n3",
                "\"joulie.io/reserved\":\"true\",\"joulie.io/power-profile\":"
                "\"draining-performance\"",
                true, fmt::format("\"joulie.io/draining-since\":\"{}\"", *f.annotation("n3"))));
  f.api.erase(kNodes, "n4");
  auto r = f.pass();
  CHECK(r.managed == 0);
  for (auto n : {"n1", "n2", "n3"}) {
    CHECK_FALSE(f.label(n));
    CHECK_FALSE(f.annotation(n));
    CHECK_FALSE(f.profile(n));
  }
  CHECK_FALSE(f.profile("n4"));
  CHECK(f.api.object(kNpps, "handmade"));  // not ours: never touched
  CHECK(f.registry.expose().find("node=\"n1\"") == std::string::npos);

  f.writes.clear();
  f.pass();
  CHECK(f.writes.empty());
}

TEST_CASE("reconciler: a profile with the canonical name that is not ours is never modified") {
  Fixture f;
  f.add_node("n1");
  f.api.put(kNpps, R"({"apiVersion":"joulie.io/v1alpha1","kind":"NodePowerProfile",
    "metadata":{"name":"node-n1"},"spec":{"nodeName":"n1","profile":"eco"}})");
  auto r = f.pass();
  CHECK(r.failed_nodes == 1);
  auto o = f.api.object(kNpps, "node-n1");
  CHECK(std::string((*o)["spec"]["profile"].GetString()) == "eco");
  CHECK_FALSE(f.label("n1"));  // the profile could not be made performance: no label either
}

TEST_CASE("reconciler: dry run computes the result and writes nothing") {
  Fixture f;
  f.add_node("n1");
  f.add_node("n2");
  f.options.dry_run = true;
  f.restart();
  auto r = f.pass();
  CHECK(f.writes.empty());
  CHECK(r.dry_run);
  CHECK(r.write_requests == 4);
  CHECK(r.nodes[0].changed);
  CHECK(r.nodes[1].label == "eco");
  CHECK(f.events.empty());
}

TEST_CASE("reconciler: per-node metrics follow the nodes") {
  Fixture f;
  f.add_node("n1");
  f.add_node("n2");
  f.pass();
  CHECK(metric(f, "joulie_operator_node_state{node=\"n1\",state=\"ActivePerformance\"}") == 1);
  CHECK(metric(f, "joulie_operator_node_state{node=\"n2\",state=\"ActiveEco\"}") == 1);
  CHECK(metric(f, "joulie_operator_node_state{node=\"n2\",state=\"ActivePerformance\"}") == 0);
  CHECK(metric(f, "joulie_operator_node_profile_label{node=\"n2\",profile=\"eco\"}") == 1);
  CHECK(metric(f, "joulie_operator_planned_nodes{profile=\"performance\"}") == 1);
  CHECK(metric(f, "joulie_operator_reconcile_duration_seconds_count") == 1);
}

// ---- concurrent node writers (--max-concurrent-writes) -----------------------------------------

namespace {

// `count` nodes under static_partition 0.5, converged, then each node's label and profile
// inverted by hand (n01.. eco, the upper half performance) and the operator restarted: the next
// pass upgrades the lower half and downgrades the upper half.
void swap_setup(Fixture& f, int count, int workers) {
  using joulie::operator_mode::FieldChange;
  for (int i = 1; i <= count; ++i) {
    f.add_node(fmt::format("n{:02}", i));
  }
  f.options.max_concurrent_writes = workers;
  f.restart();
  f.pass();
  for (int i = 1; i <= count; ++i) {
    const std::string n = fmt::format("n{:02}", i);
    const bool eco = i <= count / 2;
    using joulie::operator_mode::Write;
    using joulie::operator_mode::WriteKind;
    Write profile;  // every node has its profile after the first pass
    profile.kind = WriteKind::patch_profile;
    profile.name = joulie::api::canonical_profile_name(n);
    profile.spec.node_name = n;
    profile.spec.profile = eco ? joulie::api::Profile::eco : joulie::api::Profile::performance;
    profile.spec.package_power_cap_watts = eco ? 120 : 5000;
    profile.spec.policy_name = "static-partition-v1";
    Write label;
    label.kind = WriteKind::patch_node;
    label.name = n;
    label.label = FieldChange::set(eco ? "eco" : "performance");
    REQUIRE(f.actuation->execute({profile, label}).status.ok());
  }
  f.restart();
  f.writes.clear();
}

// Index of each write in f.writes, by the node it belongs to (profiles are "<node>" too).
std::map<std::string, std::vector<std::pair<std::size_t, std::string>>> writes_by_node(
    const Fixture& f) {
  std::map<std::string, std::vector<std::pair<std::size_t, std::string>>> out;
  for (std::size_t i = 0; i < f.writes.size(); ++i) {
    const auto& w = f.writes[i];
    std::string node = w.name;
    if (w.resource == "nodepowerprofiles") {
      for (int k = 1; k <= 99; ++k) {
        const std::string n = fmt::format("n{:02}", k);
        if (joulie::api::canonical_profile_name(n) == w.name) {
          node = n;
          break;
        }
      }
    }
    out[node].emplace_back(i, w.resource);
  }
  return out;
}

}  // namespace

TEST_CASE("reconciler: concurrent writers keep each node's order and never exceed the bound") {
  Fixture f;
  constexpr int kWorkers = 4;
  for (int i = 1; i <= 24; ++i) {
    f.add_node(fmt::format("n{:02}", i));
  }
  f.options.max_concurrent_writes = kWorkers;
  f.restart();
  // The first kWorkers writes are held until kWorkers are in flight at once: proves the pool
  // reaches its bound; the maximum seen over the whole pass proves it never goes beyond.
  std::mutex m;
  std::condition_variable cv;
  int in_flight = 0, max_in_flight = 0;
  bool opened = false, gate_timed_out = false;
  f.on_write = [&](Verb, const joulie::kube::Resource&,
                   const std::string&) -> std::optional<Error> {
    std::unique_lock lock(m);
    max_in_flight = std::max(max_in_flight, ++in_flight);
    if (!opened) {
      if (in_flight >= kWorkers) {
        opened = true;
        cv.notify_all();
      } else if (!cv.wait_for(lock, 10s, [&] { return opened; })) {
        gate_timed_out = true;
        opened = true;
      }
    }
    --in_flight;
    return std::nullopt;
  };
  auto r = f.pass();
  CHECK_FALSE(gate_timed_out);
  CHECK(max_in_flight == kWorkers);
  CHECK(r.failed_nodes == 0);
  CHECK(r.write_requests == 48);
  // First convergence: 12 performance (profile, then label), 12 eco (label, then profile).
  auto by_node = writes_by_node(f);
  REQUIRE(by_node.size() == 24);
  for (const auto& [node, list] : by_node) {
    INFO(node);
    REQUIRE(list.size() == 2);
    const bool performance = f.label(node) == "performance";
    CHECK(list[0].second == (performance ? "nodepowerprofiles" : "nodes"));
    CHECK(list[1].second == (performance ? "nodes" : "nodepowerprofiles"));
  }
  // Outcomes are reported by name whatever the workers' timing.
  for (std::size_t i = 0; i < r.nodes.size(); ++i) {
    CHECK(r.nodes[i].node == fmt::format("n{:02}", i + 1));
  }
}

TEST_CASE("reconciler: with concurrent writers every upgrade finishes before a downgrade starts") {
  Fixture f;
  swap_setup(f, 16, 8);
  std::vector<std::string> upgrades, downgrades;
  for (int i = 1; i <= 16; ++i) {
    const std::string n = fmt::format("n{:02}", i);
    (f.label(n) == "eco" ? upgrades : downgrades).push_back(n);
  }
  REQUIRE(upgrades.size() == 8);
  REQUIRE(downgrades.size() == 8);
  // The first upgrade's profile write is slow: with a single shared queue, idle workers would
  // start downgrades meanwhile. Its hook waits (bounded) for a downgrade write that must not come
  // before the upgrade's label write follows.
  std::mutex m;
  std::set<std::string> down(downgrades.begin(), downgrades.end());
  bool downgrade_seen = false;
  const std::string slow = joulie::api::canonical_profile_name(upgrades.front());
  f.on_write = [&](Verb, const joulie::kube::Resource&,
                   const std::string& name) -> std::optional<Error> {
    if (down.contains(name)) {
      std::lock_guard lock(m);
      downgrade_seen = true;
    } else if (name == slow) {
      joulie::kube::testing::wait_until(
          [&] {
            std::lock_guard lock(m);
            return downgrade_seen;
          },
          100ms);
    }
    return std::nullopt;
  };
  auto r = f.pass();
  CHECK(r.failed_nodes == 0);
  auto by_node = writes_by_node(f);
  std::size_t last_upgrade = 0, first_downgrade = f.writes.size();
  for (const auto& n : upgrades) {
    REQUIRE(by_node[n].size() == 2);
    CHECK(by_node[n][0].second == "nodepowerprofiles");  // cap up before the label
    last_upgrade = std::max(last_upgrade, by_node[n][1].first);
    CHECK(f.label(n) == "performance");
  }
  for (const auto& n : downgrades) {
    REQUIRE(by_node[n].size() == 2);
    CHECK(by_node[n][0].second == "nodes");  // label off before the cap goes down
    first_downgrade = std::min(first_downgrade, by_node[n][0].first);
    CHECK(f.label(n) == "eco");
  }
  CHECK(last_upgrade < first_downgrade);
}

TEST_CASE("reconciler: with concurrent writers one failing node does not stop the others") {
  Fixture f;
  swap_setup(f, 16, 8);
  f.on_write = [](Verb verb, const joulie::kube::Resource& r,
                  const std::string& name) -> std::optional<Error> {
    if (verb == Verb::patch && r.plural == "nodes" && (name == "n03" || name == "n12")) {
      return Error(Errc::server_error, "boom", 500, "InternalError");
    }
    return std::nullopt;
  };
  auto r = f.pass();
  CHECK(r.failed_nodes == 2);
  for (const auto& n : r.nodes) {
    INFO(n.node);
    if (n.node == "n03" || n.node == "n12") {
      CHECK_FALSE(n.error.empty());
      CHECK(n.result == GuardResult::unchanged);
    } else {
      CHECK(n.error.empty());
      CHECK(n.changed);
      CHECK(f.label(n.node) == joulie::policy::label_value(n.state));
    }
  }
  CHECK(metric(f, "joulie_operator_reconcile_errors_total") == 2);
}

TEST_CASE("reconciler: one writer and eight give the same outcomes, events and requests") {
  auto run = [](int workers) {
    auto f = std::make_unique<Fixture>();
    swap_setup(*f, 24, workers);
    f->on_write = [](Verb verb, const joulie::kube::Resource& r,
                     const std::string& name) -> std::optional<Error> {
      if (verb == Verb::patch && r.plural == "nodes" && name == "n05") {
        return Error(Errc::server_error, "boom", 500, "InternalError");
      }
      return std::nullopt;
    };
    f->events.clear();
    std::vector<std::string> out;
    out.push_back(joulie::operator_mode::format_pass_json(f->pass()));
    for (const auto& e : f->events) {
      out.push_back(e.node + " " + e.reason + " " + e.message);
    }
    std::multiset<std::string> requests;
    for (const auto& w : f->writes) {
      requests.insert(w.resource + "/" + w.name);
    }
    for (const auto& w : requests) {
      out.push_back(w);
    }
    // A pass with nothing to change sends nothing, concurrent or not.
    f->on_write = nullptr;
    f->clock.advance(2s);  // past n05's retry backoff
    f->pass(PassKind::reguard);
    f->writes.clear();
    auto quiet = f->pass(PassKind::reguard);
    out.push_back(
        fmt::format("quiet pass: {} writes, {} requests", f->writes.size(), quiet.write_requests));
    return out;
  };
  const auto one = run(1);
  const auto eight = run(8);
  CHECK(one == eight);
  CHECK(one.back() == "quiet pass: 0 writes, 0 requests");
}

TEST_CASE("reconciler: a waiting re-plan stops the pass's downgrades, never its upgrades") {
  for (int workers : {1, 8}) {
    INFO("workers " << workers);
    Fixture f;
    swap_setup(f, 32, workers);
    // A demand step is noticed once a round of `workers` downgrades and two more have started
    // (the first round always starts: progress even if a re-plan is always waiting).
    std::atomic<int> asked{0};
    f.options.yield_downgrades = [&] { return asked.fetch_add(1) >= 2; };
    f.restart();
    auto r = f.pass();
    CHECK(r.failed_nodes == 0);
    CHECK(r.yielded_nodes == 16u - static_cast<std::size_t>(workers) - 2);  // of 16 downgrades
    CHECK_FALSE(f.reconciler->next_retry());  // not failures: no backoff
    std::size_t still_performance = 0;
    for (const auto& n : r.nodes) {
      INFO(n.node);
      CHECK(n.error.empty());
      if (n.node <= "n16") {
        CHECK(f.label(n.node) == "performance");  // every upgrade was written
        CHECK(n.changed);
      } else if (f.label(n.node) == "performance") {
        ++still_performance;  // left for the next pass, reported as it stands
        CHECK_FALSE(n.changed);
        CHECK(n.state == NodeState::active_performance);
        CHECK(f.profile(n.node)->profile == "performance");  // not half written
      }
    }
    CHECK(still_performance == r.yielded_nodes);
    // The next pass (no re-plan waiting) finishes them.
    f.options.yield_downgrades = nullptr;
    f.restart();
    r = f.pass();
    CHECK(r.yielded_nodes == 0);
    for (int i = 17; i <= 32; ++i) {
      CHECK(f.label(fmt::format("n{:02}", i)) == "eco");
    }
  }
}

TEST_CASE("reconciler: with concurrent writers a node's Event leaves when its writes are done") {
  // Not in one burst after the whole phase: the Event recorder's queue is bounded.
  Fixture f;
  swap_setup(f, 16, 8);
  bool early_event = false;
  f.on_write = [&](Verb, const joulie::kube::Resource&,
                   const std::string& name) -> std::optional<Error> {
    if (name == "n16") {  // the last downgrade waits for an earlier downgrade's Event
      early_event = joulie::kube::testing::wait_until([&] {
        std::lock_guard lock(f.writes_mutex);
        return std::any_of(f.events.begin(), f.events.end(),
                           [](const auto& e) { return e.node >= "n09" && e.node < "n16"; });
      });
    }
    return std::nullopt;
  };
  auto r = f.pass();
  CHECK(r.failed_nodes == 0);
  CHECK(early_event);
  CHECK(f.label("n16") == "eco");
}

TEST_CASE("reconciler: a performance pod bound after the snapshot stops the node's downgrade") {
  for (int workers : {1, 8}) {
    Fixture f;
    f.add_node("n1");
    f.add_node("n2");
    f.options.max_concurrent_writes = workers;
    f.options.policy.base_fraction = 1.0;
    f.restart();
    f.pass();
    REQUIRE(f.label("n1") == "performance");

    // The snapshot says both nodes are empty; by the time n1's writes would start, the pod
    // cache knows a performance pod was bound to it (the scheduler saw the performance label).
    std::map<std::string, std::int64_t> live{{"n1", 1}, {"n2", 0}};
    f.options.live_perf_pods = [&](const std::string& node) -> std::optional<std::int64_t> {
      return live.at(node);
    };
    f.options.policy.base_fraction = 0.0;
    f.restart();
    f.writes.clear();
    auto r = f.pass();
    CHECK(r.raced_nodes == 1);
    CHECK(r.nodes[0].node == "n1");
    CHECK(r.nodes[0].result == GuardResult::unchanged);
    CHECK(r.nodes[0].perf_pods == 1);
    CHECK(f.label("n1") == "performance");  // never labelled eco, never capped
    CHECK(f.profile("n1")->profile == "performance");
    CHECK(f.label("n2") == "eco");
    CHECK(f.profile("n2")->profile == "eco");
    REQUIRE(f.reconciler->next_retry());  // a re-guard pass soon, not at the next tick

    // The next pass sees the pod in its snapshot: the node drains instead.
    f.perf_pods["n1"] = 1;
    f.clock.advance(2s);
    r = f.pass(PassKind::reguard);
    CHECK(r.raced_nodes == 0);
    CHECK(r.nodes[0].state == NodeState::draining_performance);
    CHECK(f.label("n1") == "draining-performance");
    CHECK(f.profile("n1")->profile == "performance");
  }
}

TEST_CASE("reconciler: unknown live pod data also keeps the node out of eco") {
  Fixture f;
  f.add_node("n1");
  f.options.policy.base_fraction = 1.0;
  f.restart();
  f.pass();
  f.options.live_perf_pods = [](const std::string&) -> std::optional<std::int64_t> {
    return std::nullopt;
  };
  f.options.policy.base_fraction = 0.0;
  f.restart();
  auto r = f.pass();
  CHECK(r.raced_nodes == 1);
  CHECK(f.label("n1") == "performance");
}

namespace {

// What an agent does once it has acted on a NodePowerProfile: status.observedGeneration =
// metadata.generation. `generation` stands in for the API server's counter (FakeApi keeps none).
void agent_reports(Fixture& f, const std::string& node, std::int64_t generation,
                   std::int64_t observed, const char* result = "applied") {
  auto o = f.api.object(kNpps, joulie::api::canonical_profile_name(node));
  REQUIRE(o);
  auto& a = o->GetAllocator();
  auto& md = (*o)["metadata"];
  md.RemoveMember("generation");
  md.AddMember("generation", generation, a);
  o->RemoveMember("status");
  rapidjson::Value status(rapidjson::kObjectType);
  status.AddMember("observedGeneration", observed, a);
  status.AddMember("result", rapidjson::StringRef(result), a);
  o->AddMember("status", status, a);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  o->Accept(w);
  f.api.put(kNpps, buffer.GetString());
}

// Nodes converged on one profile (static fraction 1: performance, 0: eco) by a first pass.
void converged(Fixture& f, std::initializer_list<const char*> nodes, double fraction) {
  for (const char* n : nodes) {
    f.add_node(n);
  }
  f.options.policy.base_fraction = fraction;
  f.restart();
  f.pass();
}

// The operator restarted with the opposite fraction and the two-phase options set.
void flip(Fixture& f, double fraction, std::chrono::milliseconds settle,
          std::chrono::milliseconds apply_timeout) {
  f.options.downgrade_settle = settle;
  f.options.upgrade_apply_timeout = apply_timeout;
  f.options.policy.base_fraction = fraction;
  f.restart();
}

}  // namespace

TEST_CASE("reconciler: a downgrade lowers the cap only after the eco label has settled") {
  Fixture f;
  converged(f, {"n1", "n2"}, 1.0);
  std::map<std::string, std::int64_t> live{{"n1", 0}, {"n2", 0}};
  std::mutex live_mutex;
  f.options.live_perf_pods = [&](const std::string& node) -> std::optional<std::int64_t> {
    std::lock_guard lock(live_mutex);
    return live.at(node);
  };
  flip(f, 0.0, 2s, 0s);

  // Phase one: both labelled eco, both keep the performance cap, a wake-up in 2 s.
  auto r = f.pass();
  for (const char* n : {"n1", "n2"}) {
    CHECK(f.label(n) == "eco");
    CHECK(f.profile(n)->profile == "performance");
  }
  CHECK(r.nodes[0].state == NodeState::active_eco);
  CHECK(r.nodes[0].waiting.find("settle") != std::string::npos);
  REQUIRE(f.reconciler->next_retry());
  CHECK(*f.reconciler->next_retry() == f.clock.monotonic() + 2s);

  // Not yet settled: nothing written.
  f.clock.advance(1s);
  f.writes.clear();
  r = f.pass(PassKind::reguard);
  CHECK(f.writes.empty());
  CHECK(f.profile("n1")->profile == "performance");

  // Meanwhile the scheduler, still seeing `performance`, bound a performance pod to n1.
  f.perf_pods["n1"] = 1;
  {
    std::lock_guard lock(live_mutex);
    live["n1"] = 1;
  }
  f.clock.advance(1s);
  r = f.pass(PassKind::reguard);
  // n1 drains with its performance cap; n2 gets the eco cap.
  CHECK(f.label("n1") == "draining-performance");
  CHECK(f.annotation("n1"));
  CHECK(f.profile("n1")->profile == "performance");
  CHECK(r.nodes[0].state == NodeState::draining_performance);
  CHECK(f.label("n2") == "eco");
  CHECK(f.profile("n2")->profile == "eco");
  CHECK(r.nodes[1].waiting.empty());
  if (auto next = f.reconciler->next_retry()) {
    FAIL("a wake-up left at +" << std::chrono::duration_cast<std::chrono::milliseconds>(
                                      *next - f.clock.monotonic())
                                      .count()
                               << " ms");
  }

  // The pod leaves: the draining node reaches eco, label and cap in one pass (its
  // draining-performance label repelled performance pods all along).
  f.perf_pods["n1"] = 0;
  {
    std::lock_guard lock(live_mutex);
    live["n1"] = 0;
  }
  r = f.pass(PassKind::reguard);
  CHECK(f.label("n1") == "eco");
  CHECK(f.profile("n1")->profile == "eco");
}

TEST_CASE("reconciler: a settled node whose pod arrives in the last milliseconds is not capped") {
  Fixture f;
  converged(f, {"n1"}, 1.0);
  std::atomic<std::int64_t> live{0};
  f.options.live_perf_pods = [&](const std::string&) -> std::optional<std::int64_t> {
    return live.load();
  };
  flip(f, 0.0, 2s, 0s);
  f.pass();
  REQUIRE(f.label("n1") == "eco");
  f.clock.advance(2s);
  live = 1;  // the pod cache knows it; the pass's snapshot does not yet
  auto r = f.pass(PassKind::reguard);
  CHECK(r.raced_nodes == 1);
  CHECK(f.profile("n1")->profile == "performance");
  f.perf_pods["n1"] = 1;
  f.clock.advance(1s);
  r = f.pass(PassKind::reguard);
  CHECK(f.label("n1") == "draining-performance");
  CHECK(f.profile("n1")->profile == "performance");
}

TEST_CASE("reconciler: after a restart the settle still counts from the eco label's write") {
  Fixture f;
  converged(f, {"n1"}, 1.0);
  flip(f, 0.0, 2s, 0s);
  f.pass();
  REQUIRE(f.label("n1") == "eco");
  // The label's write is recorded on the node itself.
  CHECK(f.annotation("n1", "joulie.io/state-since") ==
        "eco " + joulie::format_rfc3339(f.clock.now()));
  f.restart();  // the new process remembers nothing but what the API holds
  f.clock.advance(1s);
  f.writes.clear();
  auto r = f.pass();
  CHECK(f.writes.empty());  // not capped early...
  CHECK(r.nodes[0].waiting.find("settle") != std::string::npos);
  REQUIRE(f.reconciler->next_retry());
  CHECK(*f.reconciler->next_retry() == f.clock.monotonic() + 1s);  // ...nor later than due
  f.clock.advance(1s);
  f.pass(PassKind::reguard);
  CHECK(f.profile("n1")->profile == "eco");
}

TEST_CASE("reconciler: an eco label the operator did not write settles from when it is seen") {
  Fixture f;
  f.add_node("n1", "\"joulie.io/power-profile\":\"eco\"");  // set by hand, no cap, no record
  f.options.policy.base_fraction = 0.0;
  f.options.downgrade_settle = 2s;
  f.restart();
  auto r = f.pass();
  // Only the record is written (it settles from now, for whoever leads next); no cap yet.
  REQUIRE(f.writes.size() == 1);
  CHECK(f.writes[0].resource == kNodes.plural);
  CHECK(f.annotation("n1", "joulie.io/state-since") ==
        "eco " + joulie::format_rfc3339(f.clock.now()));
  CHECK_FALSE(f.profile("n1"));
  CHECK(r.nodes[0].waiting.find("settle") != std::string::npos);
  CHECK_FALSE(r.nodes[0].changed);
  f.clock.advance(1s);
  f.restart();
  f.writes.clear();
  f.pass();
  CHECK(f.writes.empty());
  f.clock.advance(1s);
  f.pass();
  REQUIRE(f.profile("n1"));
  CHECK(f.profile("n1")->profile == "eco");
}

TEST_CASE("reconciler: an upgrade publishes the performance label once the agent applied the cap") {
  Fixture f;
  converged(f, {"n1"}, 0.0);
  REQUIRE(f.label("n1") == "eco");
  agent_reports(f, "n1", 1, 1);  // an agent acts on this node's profile
  flip(f, 1.0, 0s, 10s);
  f.events.clear();
  auto r = f.pass();
  // Phase one: the cap goes up, the label stays eco; no transition yet.
  CHECK(f.profile("n1")->profile == "performance");
  CHECK(f.label("n1") == "eco");
  CHECK(r.nodes[0].state == NodeState::active_eco);
  CHECK(r.nodes[0].waiting.find("agent") != std::string::npos);
  CHECK(f.reconciler->awaiting_agent());
  CHECK(f.events.empty());
  REQUIRE(f.reconciler->next_retry());
  CHECK(*f.reconciler->next_retry() == f.clock.monotonic() + 10s);

  // The API server bumped the generation; the agent has not caught up: still waiting.
  agent_reports(f, "n1", 2, 1);
  f.writes.clear();
  f.clock.advance(1s);
  r = f.pass(PassKind::reguard);
  CHECK(f.writes.empty());
  CHECK(f.label("n1") == "eco");

  // The agent reports the new generation: the label goes out.
  agent_reports(f, "n1", 2, 2);
  r = f.pass(PassKind::reguard);
  CHECK(f.label("n1") == "performance");
  CHECK(r.nodes[0].state == NodeState::active_performance);
  CHECK(r.nodes[0].waiting.empty());
  CHECK_FALSE(f.reconciler->awaiting_agent());
  REQUIRE(f.events.size() == 1);
  CHECK(f.events[0].reason == "PowerProfileChanged");
  CHECK_FALSE(f.reconciler->next_retry());
}

TEST_CASE("reconciler: an agent that never reports delays the performance label by the timeout") {
  Fixture f;
  converged(f, {"n1"}, 0.0);
  agent_reports(f, "n1", 1, 1);
  flip(f, 1.0, 0s, 10s);
  f.pass();
  REQUIRE(f.label("n1") == "eco");
  agent_reports(f, "n1", 2, 1);
  f.clock.advance(9s);
  f.pass(PassKind::reguard);
  CHECK(f.label("n1") == "eco");
  f.clock.advance(1s);
  f.pass(PassKind::reguard);
  CHECK(f.label("n1") == "performance");
}

TEST_CASE("reconciler: a restart keeps an upgrade's deadline for the agent") {
  Fixture f;
  converged(f, {"n1"}, 0.0);
  agent_reports(f, "n1", 1, 1);
  flip(f, 1.0, 0s, 10s);
  f.pass();  // the cap goes up with its deadline recorded on the profile
  REQUIRE(f.label("n1") == "eco");
  agent_reports(f, "n1", 2, 1);
  f.clock.advance(4s);
  f.restart();  // a new leader: waits for the same deadline, not a fresh one
  f.pass();
  CHECK(f.label("n1") == "eco");
  REQUIRE(f.reconciler->next_retry());
  CHECK(*f.reconciler->next_retry() == f.clock.monotonic() + 6s);
  f.clock.advance(6s);
  f.pass(PassKind::reguard);
  CHECK(f.label("n1") == "performance");
}

TEST_CASE("reconciler: without an agent's report an upgrade labels at once") {
  Fixture f;
  converged(f, {"n1"}, 0.0);
  flip(f, 1.0, 2s, 10s);
  auto r = f.pass();  // no status on the profile: nobody to wait for
  CHECK(f.label("n1") == "performance");
  CHECK(f.profile("n1")->profile == "performance");
  CHECK(r.nodes[0].waiting.empty());
  CHECK_FALSE(f.reconciler->next_retry());
}

TEST_CASE("reconciler: a held node's older retry time does not spin the controller") {
  Fixture f;
  converged(f, {"n1"}, 1.0);
  std::atomic<bool> known{true};
  f.options.live_perf_pods = [&](const std::string&) -> std::optional<std::int64_t> {
    return known ? std::optional<std::int64_t>(0) : std::nullopt;
  };
  flip(f, 0.0, 2s, 0s);
  f.pass();
  f.clock.advance(2s);
  known = false;  // the pod watch broke: the cap phase does not start, a retry in 1 s
  auto r = f.pass(PassKind::reguard);
  CHECK(r.raced_nodes == 1);
  f.clock.advance(1s);
  f.pods_known = false;  // and the next snapshot knows no pods: the node holds
  r = f.pass(PassKind::reguard);
  CHECK(r.nodes[0].waiting == "eco cap: pod data unknown");
  REQUIRE(f.reconciler->next_retry());
  CHECK(*f.reconciler->next_retry() > f.clock.monotonic());
  CHECK(f.profile("n1")->profile == "performance");
}

TEST_CASE("reconciler: the settle counts from the label write, not from the pass's start") {
  Fixture f;
  converged(f, {"n1"}, 1.0);
  flip(f, 0.0, 2s, 0s);
  // The label write itself takes 3 s (a long pass, a slow server).
  f.on_write = [&](Verb verb, const joulie::kube::Resource& r,
                   const std::string&) -> std::optional<Error> {
    if (verb == Verb::patch && r.plural == kNodes.plural) {
      f.clock.advance(3s);
    }
    return std::nullopt;
  };
  f.pass();
  f.on_write = nullptr;
  REQUIRE(f.label("n1") == "eco");
  REQUIRE(f.reconciler->next_retry());
  CHECK(*f.reconciler->next_retry() == f.clock.monotonic() + 2s);
  f.clock.advance(1s);
  f.pass(PassKind::reguard);
  CHECK(f.profile("n1")->profile == "performance");  // 1 s after the write: not settled
}

TEST_CASE("reconciler: an upgrade waits for the agent from the first write of its pass") {
  Fixture f;
  converged(f, {"n1"}, 0.0);
  agent_reports(f, "n1", 1, 1);
  flip(f, 1.0, 0s, 10s);
  std::atomic<bool> awaiting_during_write{false};
  f.on_write = [&](Verb, const joulie::kube::Resource& r,
                   const std::string&) -> std::optional<Error> {
    if (r.plural == kNpps.plural) {
      awaiting_during_write = f.reconciler->awaiting_agent();
    }
    return std::nullopt;
  };
  f.pass();
  f.on_write = nullptr;
  // An agent's status update arriving while the pass still writes must wake a re-guard.
  CHECK(awaiting_during_write);
}

TEST_CASE("reconciler: a policy flip between the phases still waits for the agent") {
  Fixture f;
  converged(f, {"n1"}, 0.0);
  agent_reports(f, "n1", 1, 1);
  flip(f, 1.0, 2s, 10s);
  f.pass();  // the cap goes up; the label waits
  REQUIRE(f.profile("n1")->profile == "performance");
  REQUIRE(f.label("n1") == "eco");
  agent_reports(f, "n1", 2, 1);  // the agent has not acted on it yet
  // The policy wants eco again (label eco, cap still performance: settling) ...
  f.options.policy.base_fraction = 0.0;
  f.reconciler->set_policy(f.options.policy, {}, {});
  f.pass();
  // ... and performance once more: no cap write is needed, the label must still wait.
  f.options.policy.base_fraction = 1.0;
  f.reconciler->set_policy(f.options.policy, {}, {});
  f.clock.advance(1s);
  auto r = f.pass();
  CHECK(f.label("n1") == "eco");
  CHECK(r.nodes[0].waiting.find("agent") != std::string::npos);
  // An agent that reports an error has not raised the cap either.
  agent_reports(f, "n1", 2, 2, "error");
  f.clock.advance(1s);
  f.pass(PassKind::reguard);
  CHECK(f.label("n1") == "eco");
  agent_reports(f, "n1", 2, 2);
  f.pass(PassKind::reguard);
  CHECK(f.label("n1") == "performance");
}

TEST_CASE("reconciler: a forced drain whose cap write failed is finished, not drained again") {
  Fixture f;
  f.add_node("n1", "\"joulie.io/power-profile\":\"draining-performance\"", true,
             "\"joulie.io/draining-since\":\"2000-01-01T00:00:00Z\"");
  f.perf_pods["n1"] = 1;
  f.options.drain_timeout = std::chrono::minutes(1);
  f.options.policy.base_fraction = 0.0;
  f.options.downgrade_settle = 2s;
  f.restart();
  f.api.fail_next(Verb::create, Error(Errc::unavailable, "down"));
  auto r = f.pass();
  CHECK(r.nodes[0].result == GuardResult::unchanged);  // the cap write failed
  CHECK(f.label("n1") == "eco");
  CHECK_FALSE(f.profile("n1"));
  f.clock.advance(2s);
  f.pass(PassKind::reguard);
  CHECK(f.label("n1") == "eco");  // not back to draining-performance
  REQUIRE(f.profile("n1"));
  CHECK(f.profile("n1")->profile == "eco");
}

TEST_CASE("reconciler: a dry run reports the pass the running operator would make") {
  // Phase one of a downgrade: a dry run plans that first half and its settle, from the same
  // memory annotations; nothing is written.
  Fixture f;
  converged(f, {"n1"}, 1.0);
  flip(f, 0.0, 2s, 0s);
  f.options.dry_run = true;
  f.restart();
  f.writes.clear();
  auto r = f.pass();
  CHECK(f.writes.empty());
  CHECK(r.write_requests == 1);  // the eco label (and its record) only
  // Reported as the target (the policy's decision) and what its second half waits for.
  CHECK(r.nodes[0].label == "eco");
  CHECK(r.nodes[0].profile == joulie::api::Profile::eco);
  CHECK(r.nodes[0].changed);
  CHECK(r.nodes[0].waiting.find("settle") != std::string::npos);
  CHECK(r.nodes[0].wait_until == f.clock.now() + 2s);

  // A live operator wrote the eco label a second ago: the dry run reads its record and waits
  // for the rest of the settle, as the live operator does.
  f.options.dry_run = false;
  f.restart();
  f.pass();
  const auto labelled = f.clock.now();
  f.clock.advance(1s);
  f.options.dry_run = true;
  f.restart();
  f.writes.clear();
  r = f.pass();
  CHECK(f.writes.empty());
  CHECK_FALSE(r.nodes[0].changed);
  CHECK(r.nodes[0].waiting.find("settle") != std::string::npos);
  CHECK(r.nodes[0].wait_until == std::chrono::ceil<std::chrono::milliseconds>(labelled) + 2s);
  const std::string json = joulie::operator_mode::format_pass_json(r);
  CHECK(json.find("\"waiting\":\"eco cap: waiting for the eco label to settle\"") !=
        std::string::npos);
  CHECK(json.find("\"waitUntil\":\"") != std::string::npos);
  CHECK(json.find("heldUntil") == std::string::npos);
}

TEST_CASE("reconciler: a dry run reads an upgrade's apply-wait-until and waits as the operator") {
  Fixture f;
  converged(f, {"n1"}, 0.0);
  agent_reports(f, "n1", 1, 1);
  flip(f, 1.0, 0s, 10s);
  f.pass();  // the live operator raised the cap and recorded its deadline on the profile
  REQUIRE(f.label("n1") == "eco");
  agent_reports(f, "n1", 2, 1);  // the agent has not acted on the raised cap yet
  const auto raised = f.clock.now();
  f.clock.advance(3s);
  f.options.dry_run = true;
  f.restart();  // a fresh process (kubectl joulie plan): only the API objects are known
  f.writes.clear();
  auto r = f.pass();
  CHECK(f.writes.empty());
  CHECK_FALSE(r.nodes[0].changed);
  CHECK(r.nodes[0].waiting.find("agent") != std::string::npos);
  CHECK(r.nodes[0].wait_until == std::chrono::ceil<std::chrono::milliseconds>(raised) + 10s);
}
