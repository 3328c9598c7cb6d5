#include "joulie/policy/write_planner.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace joulie::policy;
using namespace std::chrono_literals;
using joulie::Duration;
using joulie::SystemTime;
using joulie::api::Profile;

// The unity build compiles this file with others of its area as one unit: its helpers live in
// a namespace of their own (docs/testing.md, "Unity build").
namespace write_planner_test {

namespace {

using S = NodeState;
using R = GuardResult;
using P = WritePhase;
using W = Wait;

const SystemTime kNow = SystemTime{} + 24h * 365 * 56;

WriteSettings settings(Duration settle = 2s, Duration apply_timeout = 10s) {
  WriteSettings s;
  s.downgrade_settle = settle;
  s.upgrade_apply_timeout = apply_timeout;
  s.drain_timeout = 5min;
  s.retry_initial = 1s;
  s.performance_cap_watts = 5000;
  s.eco_cap_watts = 120;
  s.policy_name = "static_partition";
  return s;
}

// A compact rendering of the writes: "label:eco since:eco | patch:eco".
std::string render(const std::vector<PlannedWrite>& writes) {
  std::string out;
  for (const auto& w : writes) {
    std::vector<std::string> parts;
    if (w.kind == PlannedWrite::Kind::node) {
      if (w.label.touches()) {
        parts.push_back("label:" + w.label.value);
      }
      if (w.draining_since.touches()) {
        parts.push_back(w.draining_since.op == FieldChange::Op::set ? "drain:set" : "drain:del");
      }
      if (w.state_since.touches()) {
        const NodeMemory m = read_memory(w.state_since.value, std::nullopt);
        parts.push_back("since:" + std::string(label_value(*m.state)) + (m.forced ? "!" : ""));
      }
    } else {
      std::string p = w.kind == PlannedWrite::Kind::create_profile ? "create:" : "patch:";
      p += joulie::api::to_string(w.spec.profile);
      if (w.apply_wait_until.touches()) {
        p += w.apply_wait_until.op == FieldChange::Op::set ? "+wait" : "-wait";
      }
      parts.push_back(p);
    }
    std::string one;
    for (const auto& part : parts) {
      one += (one.empty() ? "" : " ") + part;
    }
    out += (out.empty() ? "" : " | ") + one;
  }
  return out;
}

ObservedProfile npp(const char* profile, double cap, bool has_wait = false) {
  return {"n1", profile, cap, std::string("static_partition"), has_wait};
}

// The node's state-since record, `age` old.
struct Record {
  S state;
  Duration age;
  bool forced = false;
};

struct Case {
  const char* what;
  // The node as it stands.
  std::optional<std::string> label;
  std::optional<Duration> draining_for;  // draining-since = now - this
  std::optional<Record> record;
  std::optional<ObservedProfile> profile;
  bool agent_reports = false;
  bool agent_applied = false;
  std::optional<Duration> wait_until;  // apply-wait-until = now + this
  // The event: what the policy wants, and the pods on the node.
  Profile desired;
  std::optional<std::int64_t> pods;
  // Expected.
  std::string writes;
  P phase = P::none;
  W waiting = W::none;
  std::optional<Duration> wake;  // now + this
  S next = S::active_performance;
  R result = R::unchanged;
  bool cap_only = false;
  bool memory_only = false;
};

WritePlanInput input(const Case& c) {
  WritePlanInput in;
  in.desired = c.desired;
  in.now = kNow;
  auto& o = in.observed;
  o.node = "n1";
  o.label = c.label;
  if (c.draining_for) {
    o.draining_since = joulie::format_rfc3339(kNow - *c.draining_for);
  }
  o.perf_pods = c.pods;
  o.profile = c.profile;
  o.agent_reports = c.agent_reports;
  o.agent_applied = c.agent_applied;
  std::optional<std::string> record;
  if (c.record) {
    record = format_state_since(c.record->state, kNow - c.record->age, c.record->forced);
  }
  std::optional<std::string> until;
  if (c.wait_until) {
    until = format_apply_wait_until(kNow + *c.wait_until);
  }
  in.memory = read_memory(record, until);
  return in;
}

void check_cases(const std::vector<Case>& cases, const WriteSettings& s) {
  for (const auto& c : cases) {
    INFO(c.what);
    const WritePlan plan = plan_writes(input(c), s);
    CHECK(render(plan.writes) == c.writes);
    CHECK(plan.phase == c.phase);
    CHECK(to_string(plan.waiting) == to_string(c.waiting));
    CHECK(plan.wake == (c.wake ? std::optional<SystemTime>(kNow + *c.wake) : std::nullopt));
    CHECK(to_string(plan.decision.next) == to_string(c.next));
    CHECK(to_string(plan.decision.result) == to_string(c.result));
    CHECK(plan.cap_only == c.cap_only);
    CHECK(plan.memory_only == c.memory_only);
  }
}

const auto kPerf = npp("performance", 5000);
const auto kEco = npp("eco", 120);

}  // namespace

TEST_CASE("write planner: downgrades (state x event -> writes)") {
  // clang-format off
  const std::vector<Case> cases = {
    {"performance, no pods: the eco label first, the cap after the settle",
     "performance", {}, {}, kPerf, false, false, {}, Profile::eco, 0,
     "label:eco since:eco", P::eco_label, W::none, 2s, S::active_eco, R::applied},
    {"performance, pods: drains with its performance cap",
     "performance", {}, {}, kPerf, false, false, {}, Profile::eco, 3,
     "label:draining-performance drain:set since:draining-performance", P::none, W::none, {},
     S::draining_performance, R::deferred},
    {"performance, pods unknown: nothing",
     "performance", {}, {}, kPerf, false, false, {}, Profile::eco, {},
     "", P::none, W::none, {}, S::active_performance, R::deferred},
    {"eco label 1 s old: held for the rest of the settle",
     "eco", {}, Record{S::active_eco, 1s}, kPerf, false, false, {}, Profile::eco, 0,
     "", P::none, W::settle, 1s, S::active_eco, R::unchanged},
    {"eco label settled, no pods: the eco cap",
     "eco", {}, Record{S::active_eco, 2s}, kPerf, false, false, {}, Profile::eco, 0,
     "patch:eco", P::none, W::none, {}, S::active_eco, R::unchanged, true},
    {"eco label settled, a pod arrived: drains, cap stays up",
     "eco", {}, Record{S::active_eco, 2s}, kPerf, false, false, {}, Profile::eco, 1,
     "label:draining-performance drain:set since:draining-performance", P::none, W::none, {},
     S::draining_performance, R::deferred},
    {"eco label settled, pods unknown: held, looked at again soon",
     "eco", {}, Record{S::active_eco, 2s}, kPerf, false, false, {}, Profile::eco, {},
     "", P::none, W::pods_unknown, 1s, S::active_eco, R::unchanged},
    {"eco label without a record: the record, and the settle starts now",
     "eco", {}, {}, kPerf, false, false, {}, Profile::eco, 0,
     "since:eco", P::eco_label, W::none, 2s, S::active_eco, R::unchanged, false, true},
    {"eco label whose record is an older state's: as without one",
     "eco", {}, Record{S::active_performance, 1h}, kPerf, false, false, {}, Profile::eco, 0,
     "since:eco", P::eco_label, W::none, 2s, S::active_eco, R::unchanged, false, true},
    {"the rest of a forced drain: the eco cap, not settled again",
     "eco", {}, Record{S::active_eco, 0s, true}, kPerf, false, false, {}, Profile::eco, 4,
     "patch:eco", P::none, W::none, {}, S::active_eco, R::unchanged, true},
    {"the settled cap drops an older upgrade's deadline",
     "eco", {}, Record{S::active_eco, 3s}, npp("performance", 5000, true), false, false, -1s,
     Profile::eco, 0, "patch:eco-wait", P::none, W::none, {}, S::active_eco, R::unchanged, true},
    {"draining, last pod gone: label and cap in one pass",
     "draining-performance", 1min, {}, kPerf, false, false, {}, Profile::eco, 0,
     "label:eco drain:del since:eco | patch:eco", P::none, W::none, {}, S::active_eco,
     R::applied},
    {"draining past the timeout: forced, the record says so",
     "draining-performance", 6min, {}, kPerf, false, false, {}, Profile::eco, 2,
     "label:eco drain:del since:eco! | patch:eco", P::none, W::none, {}, S::active_eco,
     R::forced},
    {"draining, pods stay: held",
     "draining-performance", 1min, {}, kPerf, false, false, {}, Profile::eco, 2,
     "", P::none, W::none, {}, S::draining_performance, R::deferred},
    {"eco, settled, another eco cap (ecoCapWatts changed): the profile only",
     "eco", {}, Record{S::active_eco, 1h}, npp("eco", 100), false, false, {}, Profile::eco, 0,
     "patch:eco", P::none, W::none, {}, S::active_eco, R::unchanged},
    {"eco with its eco cap: nothing, even with a stale deadline",
     "eco", {}, {}, npp("eco", 120, true), false, false, -1h, Profile::eco, 0,
     "", P::none, W::none, {}, S::active_eco, R::unchanged},
  };
  // clang-format on
  check_cases(cases, settings());
}

TEST_CASE("write planner: upgrades (state x event -> writes)") {
  // clang-format off
  const std::vector<Case> cases = {
    {"first label: profile, then label; no state change recorded",
     {}, {}, {}, {}, false, false, {}, Profile::performance, 0,
     "create:performance | label:performance", P::none, W::none, {}, S::active_performance,
     R::unchanged},
    {"converged performance: nothing",
     "performance", {}, {}, kPerf, true, true, {}, Profile::performance, 0,
     "", P::none, W::none, {}, S::active_performance, R::unchanged},
    {"eco, an agent reports: the raised cap and its deadline, the label later",
     "eco", {}, Record{S::active_eco, 1h}, kEco, true, true, {}, Profile::performance, 0,
     "patch:performance+wait", P::performance_cap, W::none, 10s, S::active_performance,
     R::applied, true},
    {"eco, nobody reports: cap then label in one pass",
     "eco", {}, {}, kEco, false, false, {}, Profile::performance, 0,
     "patch:performance | label:performance since:performance", P::none, W::none, {},
     S::active_performance, R::applied},
    {"cap raised, agent not caught up: held until the recorded deadline",
     "eco", {}, {}, kPerf, true, false, 5s, Profile::performance, 0,
     "", P::none, W::agent, 5s, S::active_performance, R::applied},
    {"cap raised, agent applied it: the label",
     "eco", {}, {}, kPerf, true, true, 5s, Profile::performance, 0,
     "label:performance since:performance", P::none, W::none, {}, S::active_performance,
     R::applied},
    {"cap raised, deadline passed: the label anyway",
     "eco", {}, {}, kPerf, true, false, -1s, Profile::performance, 0,
     "label:performance since:performance", P::none, W::none, {}, S::active_performance,
     R::applied},
    {"cap raised without a recorded deadline: the deadline is recorded",
     "eco", {}, {}, kPerf, true, false, {}, Profile::performance, 0,
     "patch:performance+wait", P::performance_cap, W::none, 10s, S::active_performance,
     R::applied, false, true},
    {"a drain cancelled: the label, the annotation removed",
     "draining-performance", 1min, {}, kPerf, true, true, {}, Profile::performance, 2,
     "label:performance drain:del since:performance", P::none, W::none, {},
     S::active_performance, R::applied},
  };
  // clang-format on
  check_cases(cases, settings());
}

TEST_CASE("write planner: with the phases off, both halves go in one pass") {
  // clang-format off
  const std::vector<Case> cases = {
    {"downgrade", "performance", {}, {}, kPerf, false, false, {}, Profile::eco, 0,
     "label:eco since:eco | patch:eco", P::none, W::none, {}, S::active_eco, R::applied},
    {"upgrade with an agent", "eco", {}, {}, kEco, true, true, {}, Profile::performance, 0,
     "patch:performance | label:performance since:performance", P::none, W::none, {},
     S::active_performance, R::applied},
    {"eco label without its cap", "eco", {}, {}, kPerf, false, false, {}, Profile::eco, 0,
     "patch:eco", P::none, W::none, {}, S::active_eco, R::unchanged},
  };
  // clang-format on
  check_cases(cases, settings(0s, 0s));
}

TEST_CASE("write planner: the next memory is what the writes record") {
  Case c{"downgrade", "performance", {}, {}, kPerf,   false,   false,
         {},          Profile::eco,  0,  "", P::none, W::none, {}};
  WritePlan plan = plan_writes(input(c), settings());
  CHECK(plan.next.state == S::active_eco);
  CHECK(plan.next.since == kNow);
  CHECK_FALSE(plan.next.forced);
  Case up{"upgrade", "eco", {},      {},      kEco, true, true, {}, Profile::performance,
          0,         "",    P::none, W::none, {}};
  plan = plan_writes(input(up), settings());
  CHECK(plan.next.apply_wait_until == kNow + 10s);
  CHECK(plan.next.state == std::nullopt);  // the label has not changed yet
}

TEST_CASE("write planner: the memory record's text") {
  const auto at = kNow + 1500us;  // rounded up to the millisecond
  const std::string text = format_state_since(S::active_eco, at, true);
  CHECK(text == joulie::format_rfc3339(kNow + 2ms).insert(0, "eco ") + " forced");
  NodeMemory m = read_memory(text, joulie::format_rfc3339(kNow));
  CHECK(m.state == S::active_eco);
  CHECK(m.since == kNow + 2ms);
  CHECK(m.forced);
  CHECK(m.apply_wait_until == kNow);
  for (const char* bad : {"", "eco", "turbo 2026-12-06T05:00:00Z", "eco yesterday",
                          "Eco 2026-12-06T05:00:00Z", "eco  2026-12-06T05:00:00Z"}) {
    INFO(bad);
    CHECK(read_memory(std::string(bad), std::string("soon")) == NodeMemory{});
  }
}

TEST_CASE("write planner: the last transition minDwell counts from") {
  const NodeMemory eco = read_memory(format_state_since(S::active_eco, kNow, false), {});
  CHECK(last_transition(S::active_eco, eco, {}) == kNow);
  // A record of another state says nothing about this one.
  CHECK_FALSE(last_transition(S::active_performance, eco, {}));
  // A drain without a record counts from its draining-since annotation.
  CHECK(last_transition(S::draining_performance, {}, joulie::format_rfc3339(kNow - 1min)) ==
        kNow - 1min);
  CHECK_FALSE(last_transition(S::draining_performance, {}, std::string("garbage")));
}

}  // namespace write_planner_test
