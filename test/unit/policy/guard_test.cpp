#include <catch2/catch.hpp>

#include <vector>

#include "joulie/policy/guard.hpp"

using namespace joulie::policy;
using namespace std::chrono_literals;
using joulie::api::Profile;

namespace {

using S = NodeState;
using R = GuardResult;
using E = NodeEvent;
using D = DrainingSinceWrite;

const joulie::SystemTime kNow = joulie::SystemTime{} + 24h * 365 * 56;

}  // namespace

TEST_CASE("states from the node label") {
  CHECK(state_from_label("performance") == S::active_performance);
  CHECK(state_from_label("draining-performance") == S::draining_performance);
  CHECK(state_from_label("eco") == S::active_eco);
  CHECK(state_from_label(std::nullopt) == S::active_performance);
  CHECK(state_from_label("") == S::active_performance);
  CHECK(state_from_label("Eco") == S::active_performance);
  CHECK(state_from_label(" eco") == S::active_performance);
  CHECK(state_from_label("turbo") == S::active_performance);
  for (auto s : {S::active_performance, S::draining_performance, S::active_eco}) {
    CHECK(state_from_label(label_value(s)) == s);
  }
  CHECK(to_string(S::active_performance) == "ActivePerformance");
  CHECK(to_string(S::draining_performance) == "DrainingPerformance");
  CHECK(to_string(S::active_eco) == "ActiveEco");
}

TEST_CASE("the write each state stands for") {
  const auto perf = desired_write(S::active_performance, 5000, 120);
  CHECK(perf.profile == Profile::performance);
  CHECK(perf.cap_watts == 5000);
  CHECK(perf.label == "performance");
  // While draining, the profile and cap stay performance; only the label changes.
  const auto draining = desired_write(S::draining_performance, 5000, 120);
  CHECK(draining.profile == Profile::performance);
  CHECK(draining.cap_watts == 5000);
  CHECK(draining.label == "draining-performance");
  const auto eco = desired_write(S::active_eco, 5000, 120);
  CHECK(eco.profile == Profile::eco);
  CHECK(eco.cap_watts == 120);
  CHECK(eco.label == "eco");
}

TEST_CASE("StateGuard transition table of docs/design.md") {
  struct Case {
    const char* what;
    S from;
    Profile desired;
    std::optional<std::int64_t> pods;
    std::optional<joulie::Duration> draining_for;  // draining-since = now - this
    joulie::Duration timeout;
    S to;
    R result;
    std::vector<TransitionRecord> transitions;
    E event;
    D draining_since;
  };
  const std::vector<Case> cases = {
      // any → performance
      {"AP + performance",
       S::active_performance,
       Profile::performance,
       3,
       {},
       0s,
       S::active_performance,
       R::unchanged,
       {},
       E::none,
       D::keep},
      {"AE + performance",
       S::active_eco,
       Profile::performance,
       0,
       {},
       0s,
       S::active_performance,
       R::applied,
       {{S::active_eco, S::active_performance, R::applied}},
       E::power_profile_changed,
       D::keep},
      {"DP + performance cancels the drain",
       S::draining_performance,
       Profile::performance,
       2,
       10s,
       0s,
       S::active_performance,
       R::applied,
       {{S::draining_performance, S::active_performance, R::applied}},
       E::power_profile_changed,
       D::clear},
      {"upgrade needs no pod data",
       S::active_eco,
       Profile::performance,
       std::nullopt,
       {},
       0s,
       S::active_performance,
       R::applied,
       {{S::active_eco, S::active_performance, R::applied}},
       E::power_profile_changed,
       D::keep},
      // ActiveEco stays
      {"AE + eco",
       S::active_eco,
       Profile::eco,
       5,
       {},
       0s,
       S::active_eco,
       R::unchanged,
       {},
       E::none,
       D::keep},
      {"AE + eco, stale annotation is cleared",
       S::active_eco,
       Profile::eco,
       0,
       1h,
       0s,
       S::active_eco,
       R::unchanged,
       {},
       E::none,
       D::clear},
      // ActivePerformance → eco
      {"AP + eco, C=0",
       S::active_performance,
       Profile::eco,
       0,
       {},
       0s,
       S::active_eco,
       R::applied,
       {{S::active_performance, S::active_eco, R::applied}},
       E::power_profile_changed,
       D::keep},
      {"AP + eco, C>0 starts draining",
       S::active_performance,
       Profile::eco,
       2,
       {},
       0s,
       S::draining_performance,
       R::deferred,
       {{S::active_performance, S::active_eco, R::deferred},
        {S::active_performance, S::draining_performance, R::applied}},
       E::downgrade_deferred,
       D::set},
      // DrainingPerformance → eco
      {"DP + eco, C=0",
       S::draining_performance,
       Profile::eco,
       0,
       30s,
       0s,
       S::active_eco,
       R::applied,
       {{S::draining_performance, S::active_eco, R::applied}},
       E::power_profile_changed,
       D::clear},
      {"DP + eco, C>0, timeout 0 never forces",
       S::draining_performance,
       Profile::eco,
       1,
       24h * 365,
       0s,
       S::draining_performance,
       R::deferred,
       {{S::draining_performance, S::active_eco, R::deferred}},
       E::none,
       D::keep},
      {"DP + eco, C>0, within timeout",
       S::draining_performance,
       Profile::eco,
       1,
       299s,
       300s,
       S::draining_performance,
       R::deferred,
       {{S::draining_performance, S::active_eco, R::deferred}},
       E::none,
       D::keep},
      {"DP + eco, C>0, timeout reached exactly",
       S::draining_performance,
       Profile::eco,
       1,
       300s,
       300s,
       S::active_eco,
       R::forced,
       {{S::draining_performance, S::active_eco, R::forced}},
       E::drain_forced,
       D::clear},
      {"DP + eco, C>0, past timeout",
       S::draining_performance,
       Profile::eco,
       4,
       1h,
       300s,
       S::active_eco,
       R::forced,
       {{S::draining_performance, S::active_eco, R::forced}},
       E::drain_forced,
       D::clear},
      {"DP + eco, annotation lost: restart the drain clock, no second event",
       S::draining_performance,
       Profile::eco,
       1,
       std::nullopt,
       300s,
       S::draining_performance,
       R::deferred,
       {{S::draining_performance, S::active_eco, R::deferred}},
       E::none,
       D::set},
      {"DP + eco, draining-since in the future (clock skew) does not force",
       S::draining_performance,
       Profile::eco,
       1,
       -10min,
       300s,
       S::draining_performance,
       R::deferred,
       {{S::draining_performance, S::active_eco, R::deferred}},
       E::none,
       D::keep},
      // Pod data unknown: never downgrade
      {"AP + eco, pods unknown: stays performance, no drain",
       S::active_performance,
       Profile::eco,
       std::nullopt,
       {},
       300s,
       S::active_performance,
       R::deferred,
       {{S::active_performance, S::active_eco, R::deferred}},
       E::none,
       D::keep},
      {"DP + eco, pods unknown, past timeout: not forced",
       S::draining_performance,
       Profile::eco,
       std::nullopt,
       1h,
       300s,
       S::draining_performance,
       R::deferred,
       {{S::draining_performance, S::active_eco, R::deferred}},
       E::none,
       D::keep},
      {"AE + eco, pods unknown: stays eco",
       S::active_eco,
       Profile::eco,
       std::nullopt,
       {},
       0s,
       S::active_eco,
       R::unchanged,
       {},
       E::none,
       D::keep},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    GuardInput in;
    in.current = c.from;
    in.desired = c.desired;
    in.perf_sensitive_pods = c.pods;
    if (c.draining_for) {
      in.draining_since = kNow - *c.draining_for;
    }
    in.drain_timeout = c.timeout;
    in.now = kNow;
    const auto d = evaluate_guard(in);
    CHECK(to_string(d.next) == to_string(c.to));
    CHECK(to_string(d.result) == to_string(c.result));
    CHECK(d.transitions == c.transitions);
    CHECK(reason(d.event) == reason(c.event));
    CHECK(static_cast<int>(d.draining_since) == static_cast<int>(c.draining_since));
  }
}

TEST_CASE("a drain over several passes: one DowngradeDeferred, then forced at the timeout") {
  GuardInput in;
  in.current = S::active_performance;
  in.desired = Profile::eco;
  in.perf_sensitive_pods = 2;
  in.drain_timeout = 10min;
  in.now = kNow;

  std::vector<E> events;
  std::optional<joulie::SystemTime> annotation;
  for (int pass = 0; pass < 12; ++pass) {
    in.draining_since = annotation;
    const auto d = evaluate_guard(in);
    events.push_back(d.event);
    if (d.draining_since == D::set) {
      annotation = in.now;
    } else if (d.draining_since == D::clear) {
      annotation.reset();
    }
    in.current = d.next;
    in.now += 1min;
  }
  // pass 0 starts the drain, passes 1..9 defer silently, pass 10 (10 min later) forces.
  CHECK(events[0] == E::downgrade_deferred);
  for (int pass = 1; pass < 10; ++pass) {
    CHECK(events[pass] == E::none);
  }
  CHECK(events[10] == E::drain_forced);
  CHECK(events[11] == E::none);
  CHECK(in.current == S::active_eco);
  CHECK_FALSE(annotation.has_value());
}

TEST_CASE("the last sensitive pod leaving ends the drain, and the policy can cancel it") {
  GuardInput in;
  in.current = S::draining_performance;
  in.desired = Profile::eco;
  in.perf_sensitive_pods = 0;
  in.draining_since = kNow - 5s;
  in.now = kNow;
  CHECK(evaluate_guard(in).next == S::active_eco);

  in.perf_sensitive_pods = 3;
  in.desired = Profile::performance;
  const auto cancelled = evaluate_guard(in);
  CHECK(cancelled.next == S::active_performance);
  CHECK(cancelled.draining_since == D::clear);
}

TEST_CASE("names of results and events") {
  CHECK(to_string(R::applied) == "applied");
  CHECK(to_string(R::deferred) == "deferred");
  CHECK(to_string(R::forced) == "forced");
  CHECK(to_string(R::unchanged) == "unchanged");
  CHECK(reason(E::power_profile_changed) == "PowerProfileChanged");
  CHECK(reason(E::downgrade_deferred) == "DowngradeDeferred");
  CHECK(reason(E::drain_forced) == "DrainForced");
  CHECK(reason(E::none).empty());
}
