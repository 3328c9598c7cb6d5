#include "joulie/policy/write_planner.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "joulie/api/names.hpp"

namespace joulie::policy {

namespace {

constexpr std::string_view kForced = " forced";

std::string stamp(SystemTime t) {
  return format_rfc3339(std::chrono::ceil<std::chrono::milliseconds>(t));
}

std::optional<SystemTime> parse_time(const std::optional<std::string>& text) {
  if (!text) {
    return std::nullopt;
  }
  auto t = parse_rfc3339(*text);
  return t.ok() ? std::optional<SystemTime>(*t) : std::nullopt;
}

FieldChange diff(const std::optional<std::string>& current, std::string_view target) {
  return current == target ? FieldChange::keep() : FieldChange::set(std::string(target));
}

}  // namespace

std::string format_state_since(NodeState state, SystemTime since, bool forced) {
  std::string out(label_value(state));
  out += ' ';
  out += stamp(since);
  if (forced) {
    out += kForced;
  }
  return out;
}

std::string format_apply_wait_until(SystemTime until) { return stamp(until); }

NodeMemory read_memory(const std::optional<std::string>& state_since,
                       const std::optional<std::string>& apply_wait_until) {
  NodeMemory m;
  m.apply_wait_until = parse_time(apply_wait_until);
  if (!state_since) {
    return m;
  }
  std::string_view text = *state_since;
  const bool forced = text.ends_with(kForced);
  if (forced) {
    text.remove_suffix(kForced.size());
  }
  const auto space = text.find(' ');
  if (space == std::string_view::npos) {
    return m;
  }
  const std::string_view label = text.substr(0, space);
  auto since = parse_rfc3339(text.substr(space + 1));
  const NodeState state = state_from_label(label);
  if (!since.ok() || label_value(state) != label) {
    return m;  // not a record this operator wrote: ignored, as if absent
  }
  m.state = state;
  m.since = *since;
  m.forced = forced;
  return m;
}

std::optional<SystemTime> last_transition(NodeState current, const NodeMemory& memory,
                                          const std::optional<std::string>& draining_since) {
  if (auto since = memory.since_for(current)) {
    return since;
  }
  // A drain's start is its own record (written before joulie.io/state-since existed).
  if (current == NodeState::draining_performance) {
    return parse_time(draining_since);
  }
  return std::nullopt;
}

bool spec_matches(const ObservedProfile& current, const api::NodePowerProfileSpec& desired) {
  const auto& a = current.cap_watts;
  const auto& b = desired.package_power_cap_watts;
  const bool same_cap = a.has_value() == b.has_value() && (!a || std::fabs(*a - *b) < 1e-9);
  return current.node_name == desired.node_name &&
         current.profile == api::to_string(desired.profile) && same_cap &&
         current.policy_name == desired.policy_name;
}

std::string_view to_string(Wait wait) {
  switch (wait) {
    case Wait::none:
      return "";
    case Wait::settle:
      return "eco cap: waiting for the eco label to settle";
    case Wait::pods_unknown:
      return "eco cap: pod data unknown";
    case Wait::agent:
      return "performance label: waiting for the agent to apply the performance cap";
  }
  return "";
}

namespace {

// One pass's planning state for a node.
struct Planning {
  const WritePlanInput& in;
  const WriteSettings& s;
  WritePlan plan;
  GuardInput guard;
  bool cap_phase = false;      // a settled eco label: the eco cap goes out now
  bool forced_rest = false;    // the eco cap of a forced drain (never settled again)
  bool record_settle = false;  // an eco label without a record: the settle starts now
  bool downgrades_now() const { return s.downgrade_settle > Duration::zero(); }
  bool upgrades_now() const { return s.upgrade_apply_timeout > Duration::zero(); }
};

GuardInput guard_input(const WritePlanInput& in, const WriteSettings& s) {
  const auto& o = in.observed;
  GuardInput g;
  g.current = state_from_label(o.label ? std::optional<std::string_view>(*o.label) : std::nullopt);
  g.desired = in.desired;
  g.perf_sensitive_pods = o.perf_pods;
  g.draining_since = parse_time(o.draining_since);
  g.drain_timeout = s.drain_timeout;
  g.now = in.now;
  return g;
}

bool cap_is_eco(const NodeObservation& o) {
  return o.profile && o.profile->profile == api::to_string(api::Profile::eco);
}

// Phase two of a downgrade: the node is labelled eco and still has its performance cap. Once the
// label has settled, a performance-sensitive pod on the node was bound while the scheduler still
// saw `performance`: for the guard the node is then the performance node it still is, and drains.
void settle_step(Planning& p) {
  const auto& o = p.in.observed;
  const NodeMemory& m = p.in.memory;
  if (!p.downgrades_now() || p.guard.current != NodeState::active_eco ||
      p.in.desired != api::Profile::eco || cap_is_eco(o)) {
    return;
  }
  if (m.state == NodeState::active_eco && m.forced) {
    // The rest of a forced drain whose cap write failed: a settle would find the pods still there
    // and start the drain over.
    p.forced_rest = true;
    return;
  }
  const auto since = m.since_for(NodeState::active_eco);
  WritePlan& plan = p.plan;
  if (!since) {
    // An eco label without our record (a hand-set label, an older operator): it settles from now,
    // and the record says so to whoever leads next.
    p.record_settle = true;
    plan.wake = p.in.now + p.s.downgrade_settle;
  } else if (p.in.now < *since + p.s.downgrade_settle) {
    plan.waiting = Wait::settle;
    plan.wake = *since + p.s.downgrade_settle;
  } else if (!o.perf_pods) {
    plan.waiting = Wait::pods_unknown;
    plan.wake = p.in.now + p.s.retry_initial;
  } else if (*o.perf_pods > 0) {
    p.guard.current = NodeState::active_performance;
  } else {
    p.cap_phase = true;
  }
}

PlannedWrite node_write(const Planning& p) {
  const auto& o = p.in.observed;
  const GuardDecision& d = p.plan.decision;
  PlannedWrite w;
  w.kind = PlannedWrite::Kind::node;
  w.label = diff(o.label, p.plan.target.label);
  if (d.next == NodeState::draining_performance) {
    if (d.draining_since == DrainingSinceWrite::set) {
      w.draining_since = diff(o.draining_since, format_rfc3339(p.in.now));
    }
  } else if (o.draining_since) {
    w.draining_since = FieldChange::remove();
  }
  const NodeState shown =
      state_from_label(o.label ? std::optional<std::string_view>(*o.label) : std::nullopt);
  if (d.next != shown) {
    w.state_since =
        FieldChange::set(format_state_since(d.next, p.in.now, d.result == GuardResult::forced));
  } else if (p.record_settle) {
    w.state_since = FieldChange::set(format_state_since(NodeState::active_eco, p.in.now, false));
  }
  return w;
}

api::NodePowerProfileSpec target_spec(const Planning& p) {
  api::NodePowerProfileSpec spec;
  spec.node_name = p.in.observed.node;
  spec.profile = p.plan.target.profile;
  spec.package_power_cap_watts = p.plan.target.cap_watts;
  spec.policy_name = p.s.policy_name;
  return spec;
}

std::optional<PlannedWrite> profile_write(const Planning& p) {
  const auto& o = p.in.observed;
  PlannedWrite w;
  w.spec = target_spec(p);
  if (!o.profile) {
    w.kind = PlannedWrite::Kind::create_profile;
  } else if (!spec_matches(*o.profile, w.spec)) {
    w.kind = PlannedWrite::Kind::patch_profile;
    // Every spec the operator writes drops an older upgrade's deadline; phase one sets its own.
    if (o.profile->has_apply_wait_until) {
      w.apply_wait_until = FieldChange::remove();
    }
  } else {
    return std::nullopt;
  }
  return w;
}

bool is_node(const PlannedWrite& w) { return w.kind == PlannedWrite::Kind::node; }

// The writes the guard's decision needs, in the order that keeps the scheduling contract: the
// label first on a downgrade to eco, the profile first otherwise.
void ordered_writes(Planning& p) {
  std::optional<PlannedWrite> node = node_write(p);
  if (!node->label.touches() && !node->draining_since.touches() && !node->state_since.touches()) {
    node.reset();
  }
  std::optional<PlannedWrite> profile = profile_write(p);
  auto& writes = p.plan.writes;
  const bool downgrade = p.plan.target.profile == api::Profile::eco;
  for (auto* w : downgrade ? std::array{&node, &profile} : std::array{&profile, &node}) {
    if (*w) {
      writes.push_back(std::move(**w));
    }
  }
}

// Phase one of a downgrade from performance: the eco label only (the scheduler stops placing
// performance-only pods here); the eco cap once the label has settled. A draining node needs no
// settling: its draining-performance label has repelled those pods all along.
void downgrade_step(Planning& p) {
  WritePlan& plan = p.plan;
  const GuardDecision& d = plan.decision;
  const bool not_forced = d.result != GuardResult::forced;
  plan.recheck_pods = p.cap_phase || (d.next == NodeState::active_eco &&
                                      p.guard.current != NodeState::active_eco && not_forced);
  const bool from_performance = d.next == NodeState::active_eco &&
                                p.guard.current == NodeState::active_performance && not_forced;
  if (p.record_settle) {
    std::erase_if(plan.writes, [](const PlannedWrite& w) { return !is_node(w); });
    plan.phase = WritePhase::eco_label;
    plan.memory_only = true;
  } else if (p.downgrades_now() && from_performance && !cap_is_eco(p.in.observed)) {
    std::erase_if(plan.writes, [](const PlannedWrite& w) { return !is_node(w); });
    plan.phase = WritePhase::eco_label;
    plan.wake = p.in.now + p.s.downgrade_settle;
  }
}

// An upgrade whose node has an agent reporting on its profile: the performance label waits until
// the agent has acted on the raised cap, at most upgrade_apply_timeout. Whether to wait is read
// from the profile's status, so a restart or a policy that flipped back between the phases still
// waits; the deadline is kept on the profile itself.
void upgrade_step(Planning& p) {
  const auto& o = p.in.observed;
  WritePlan& plan = p.plan;
  const bool publishes_performance =
      plan.target.label == api::kProfilePerformance && o.label != api::kProfilePerformance;
  if (!publishes_performance || !p.upgrades_now()) {
    return;
  }
  const auto raise = std::find_if(plan.writes.begin(), plan.writes.end(),
                                  [](const PlannedWrite& w) { return !is_node(w); });
  const SystemTime deadline = p.in.now + p.s.upgrade_apply_timeout;
  if (raise != plan.writes.end()) {
    if (o.agent_reports) {
      raise->apply_wait_until = FieldChange::set(format_apply_wait_until(deadline));
      std::erase_if(plan.writes, is_node);
      plan.phase = WritePhase::performance_cap;
      plan.wake = deadline;
    }
    return;
  }
  const auto& until = p.in.memory.apply_wait_until;
  if (o.agent_applied || (!until && !o.agent_reports)) {
    return;  // the agent has acted on the cap, or nobody reports on it: label at once
  }
  if (!until) {
    // Waiting without a recorded deadline (an older operator wrote the cap): record one now.
    PlannedWrite w;
    w.kind = PlannedWrite::Kind::patch_profile;  // the spec is already the target's
    w.spec = target_spec(p);
    w.apply_wait_until = FieldChange::set(format_apply_wait_until(deadline));
    plan.writes = {std::move(w)};
    plan.phase = WritePhase::performance_cap;
    plan.memory_only = true;
    plan.wake = deadline;
  } else if (p.in.now < *until) {
    plan.waiting = Wait::agent;
    plan.wake = *until;
  } else {
    plan.apply_wait_expired = true;
  }
}

}  // namespace

WritePlan plan_writes(const WritePlanInput& in, const WriteSettings& s) {
  Planning p{in, s, {}, guard_input(in, s)};
  settle_step(p);
  WritePlan& plan = p.plan;
  plan.decision = evaluate_guard(p.guard);
  plan.current = p.guard.current;
  plan.target = desired_write(plan.decision.next, s.performance_cap_watts, s.eco_cap_watts);
  ordered_writes(p);
  downgrade_step(p);
  upgrade_step(p);
  if (plan.waiting != Wait::none) {
    plan.writes.clear();
  }
  plan.cap_only = (p.cap_phase || p.forced_rest || plan.phase == WritePhase::performance_cap) &&
                  !plan.memory_only && !plan.writes.empty() &&
                  std::none_of(plan.writes.begin(), plan.writes.end(), is_node);
  plan.next = in.memory;
  for (const PlannedWrite& w : plan.writes) {
    if (w.state_since.op == FieldChange::Op::set) {
      NodeMemory fresh = read_memory(w.state_since.value, std::nullopt);
      plan.next.state = fresh.state;
      plan.next.since = fresh.since;
      plan.next.forced = fresh.forced;
    }
    if (w.apply_wait_until.op == FieldChange::Op::set) {
      plan.next.apply_wait_until = parse_time(w.apply_wait_until.value);
    } else if (w.apply_wait_until.op == FieldChange::Op::remove) {
      plan.next.apply_wait_until.reset();
    }
  }
  return plan;
}

}  // namespace joulie::policy
