#include "joulie/operator/reconciler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>

#include "joulie/api/names.hpp"
#include "joulie/common/log.hpp"

namespace joulie::operator_mode {

namespace {

using policy::GuardResult;
using policy::NodeState;

using policy::Wait;
using policy::WritePhase;

constexpr NodeState kStates[] = {NodeState::active_performance, NodeState::draining_performance,
                                 NodeState::active_eco};

std::string event_message(const policy::GuardDecision& d, NodeState from, std::int64_t pods,
                          std::string_view policy_name) {
  switch (d.event) {
    case policy::NodeEvent::power_profile_changed:
      return fmt::format("power profile {} -> {} (policy {})", policy::to_string(from),
                         policy::to_string(d.next), policy_name);
    case policy::NodeEvent::downgrade_deferred:
      return fmt::format(
          "downgrade to eco deferred: {} performance-sensitive pod(s) on the node; labelled "
          "draining-performance until they finish",
          pods);
    case policy::NodeEvent::drain_forced:
      return fmt::format(
          "drain timeout reached: moved to eco with {} performance-sensitive "
          "pod(s) still on the node",
          pods);
    case policy::NodeEvent::none:
      break;
  }
  return {};
}

// The planner's writes as the ActuationAdapter's.
std::vector<Write> to_writes(const std::vector<policy::PlannedWrite>& planned,
                             const std::string& node) {
  std::vector<Write> writes;
  writes.reserve(planned.size());
  for (const policy::PlannedWrite& p : planned) {
    Write w;
    switch (p.kind) {
      case policy::PlannedWrite::Kind::node:
        w.kind = WriteKind::patch_node;
        w.name = node;
        w.label = p.label;
        w.draining_since = p.draining_since;
        w.state_since = p.state_since;
        break;
      case policy::PlannedWrite::Kind::create_profile:
      case policy::PlannedWrite::Kind::patch_profile:
        w.kind = p.kind == policy::PlannedWrite::Kind::create_profile ? WriteKind::create_profile
                                                                      : WriteKind::patch_profile;
        w.name = api::canonical_profile_name(node);
        w.spec = p.spec;
        w.apply_wait_until = p.apply_wait_until;
        break;
    }
    writes.push_back(std::move(w));
  }
  return writes;
}

}  // namespace

Reconciler::Reconciler(ReconcilerOptions options, ActuationAdapter& actuation,
                       OperatorMetrics* metrics, EventSink events, const Clock& clock)
    : options_(std::move(options)),
      actuation_(actuation),
      metrics_(metrics),
      events_(std::move(events)),
      clock_(clock) {}

void Reconciler::set_leader(bool leading) {
  if (metrics_ != nullptr) {
    metrics_->is_leader.with({}).set(leading ? 1 : 0);
  }
}

std::optional<SteadyTime> Reconciler::next_retry() const {
  std::optional<SteadyTime> earliest;
  for (const auto& [key, retry] : retries_) {
    if (!earliest || retry.next < *earliest) {
      earliest = retry.next;
    }
  }
  if (wake_ && (!earliest || *wake_ < *earliest)) {
    earliest = wake_;
  }
  return earliest;
}

const policy::PolicyPlan& Reconciler::plan_for(const Snapshot& snapshot, PassKind kind) {
  std::vector<std::string> names;
  names.reserve(snapshot.managed.size());
  for (const auto& n : snapshot.managed) {
    names.push_back(n.name);
  }
  if (kind == PassKind::reguard && plan_ && names == plan_nodes_) {
    return *plan_;
  }
  // Assigned into the last pass's Context: its node vector and strings keep their memory, so a
  // re-plan does not map (and page-fault) megabytes afresh at thousands of nodes.
  policy::Context& context = context_;
  context = snapshot.context;
  context.local = options_.time_zone.local(snapshot.now);
  if (options_.enrich_context) {
    options_.enrich_context(context);
  }
  // Every count the policy reads comes from the one Context (no second source beside it).
  auto planned = policy::plan(options_.policy, {context, options_.explain});
  if (!planned.ok()) {
    // validate() rejects such configurations at start-up; keep every node performance (safe).
    log::error("operator", "policy failed; keeping nodes in performance",
               {{"error", planned.error()}});
    policy::PolicyPlan safe;
    safe.policy_name = policy::spec_name(options_.policy.kind);
    for (const auto& n : names) {
      safe.nodes.push_back({n, api::Profile::performance, {"policy failed: kept performance"}});
    }
    safe.performance_nodes = static_cast<std::int64_t>(names.size());
    safe.performance_cap_watts = options_.policy.performance_cap_watts;
    safe.eco_cap_watts = options_.policy.eco_cap_watts;
    plan_ = std::move(safe);
  } else {
    plan_ = std::move(*planned);
    // The pause switch and per-node pins (kubectl joulie): after the policy, before the guard.
    policy::apply_overrides(*plan_, overrides_of(snapshot));
  }
  plan_nodes_ = std::move(names);
  desired_.clear();
  for (std::size_t i = 0; i < plan_->nodes.size(); ++i) {
    desired_[plan_->nodes[i].node] = i;
  }
  plan_context_ = explain(context, *plan_);
  announce_unschedulable(*plan_, context.profile_label);
  return *plan_;
}

void Reconciler::announce_unschedulable(const policy::PolicyPlan& plan,
                                        std::string_view profile_key) {
  // Only a fresh plan speaks (a re-guard pass reuses it); a dry run writes nothing, Events
  // included.
  if (!events_ || options_.dry_run || plan.unschedulable.empty()) {
    return;
  }
  const std::size_t held_before = unschedulable_.deferred();
  const auto due = unschedulable_.due(plan.unschedulable, clock_.monotonic());
  auto count = [&](const char* result, std::size_t n) {
    if (metrics_ != nullptr && n > 0) {
      metrics_->unschedulable_events.with({result}).inc(static_cast<double>(n));
    }
  };
  count("held", unschedulable_.deferred() - held_before);
  for (const policy::UnschedulablePod* pod : due) {
    try {
      events_(pod_ref(*pod), kube::EventType::warning, std::string(kNoPerformanceNodeFits),
              unschedulable_message(*pod, profile_key));
      count("sent", 1);
    } catch (const std::exception& e) {  // an Event lost is no reason to lose the pass
      count("failed", 1);
      log::warn("operator", "could not record the NoPerformanceNodeFits Event",
                {{"pod", pod->pod}, {"error", std::string(e.what())}});
    }
  }
}

void Reconciler::set_policy(policy::PolicyConfig policy, policy::TimeZone zone,
                            policy::SignalsConfig signals) {
  options_.policy = std::move(policy);
  options_.time_zone = std::move(zone);
  options_.signals = std::move(signals);
  plan_.reset();
  plan_nodes_.clear();
  desired_.clear();
}

Reconciler::Text Reconciler::resolve(std::unordered_map<std::string, Expectation<Text>>& map,
                                     const std::string& key, const Text& cached, SteadyTime now) {
  auto it = map.find(key);
  if (it == map.end()) {
    return cached;
  }
  if (it->second.value == cached || now >= it->second.expires) {
    map.erase(it);
    return cached;
  }
  return it->second.value;
}

std::pair<double, double> Reconciler::node_caps(const std::string& node) const {
  // A hardware class gives a node its own caps (docs/policies.md); otherwise the plan's.
  double performance = plan_->performance_cap_watts;
  double eco = plan_->eco_cap_watts;
  if (auto it = desired_.find(node); it != desired_.end() && it->second < plan_->nodes.size()) {
    const policy::NodeDesire& d = plan_->nodes[it->second];
    performance = d.performance_cap_watts.value_or(performance);
    eco = d.eco_cap_watts.value_or(eco);
  }
  return {performance, eco};
}

const NppInfo* Reconciler::resolve_profile(const std::string& name, const Snapshot& snapshot,
                                           SteadyTime now, const NppInfo** in_cache) {
  // A pointer, not a copy: asked three times per node and pass.
  const NppInfo* cached = nullptr;
  if (auto it = snapshot.npps.find(name); it != snapshot.npps.end()) {
    cached = &it->second;
  }
  if (in_cache != nullptr) {
    *in_cache = cached;
  }
  auto it = expected_profile_.find(name);
  if (it == expected_profile_.end()) {
    return cached;
  }
  // The expectation holds the spec we wrote; the cache also carries generation and status.
  const auto& expected = it->second.value;
  const bool caught_up = expected.has_value() == (cached != nullptr) &&
                         (!expected || (expected->same_spec(*cached) &&
                                        expected->apply_wait_until == cached->apply_wait_until));
  if (caught_up || now >= it->second.expires) {
    expected_profile_.erase(it);
    return cached;
  }
  return expected ? &*expected : nullptr;
}

void Reconciler::remember(const std::vector<Write>& writes, SteadyTime now) {
  const SteadyTime expires = now + options_.expectation_ttl;
  auto text = [](const FieldChange& c) -> Text {
    return c.op == FieldChange::Op::set ? Text(c.value) : std::nullopt;
  };
  for (const Write& w : writes) {
    switch (w.kind) {
      case WriteKind::create_profile:
      case WriteKind::patch_profile: {
        NppInfo info;
        info.node_name = w.spec.node_name;
        info.profile = std::string(api::to_string(w.spec.profile));
        info.cap_watts = w.spec.package_power_cap_watts;
        info.policy_name = w.spec.policy_name;
        // The planner's profile writes set the annotation or remove it (it only leaves one that
        // is absent), so the write tells what it reads afterwards.
        if (w.apply_wait_until.op == FieldChange::Op::set) {
          info.apply_wait_until = w.apply_wait_until.value;
        }
        expected_profile_[w.name] = {std::move(info), expires};
        break;
      }
      case WriteKind::delete_profile:
        expected_profile_[w.name] = {std::nullopt, expires};
        break;
      case WriteKind::patch_node:
        if (w.label.touches()) {
          expected_label_[w.name] = {text(w.label), expires};
        }
        if (w.draining_since.touches()) {
          expected_annotation_[w.name] = {text(w.draining_since), expires};
        }
        if (w.state_since.touches()) {
          expected_state_since_[w.name] = {text(w.state_since), expires};
        }
        break;
    }
  }
}

bool Reconciler::in_backoff(const std::string& key, SteadyTime now) const {
  auto it = retries_.find(key);
  return it != retries_.end() && now < it->second.next;
}

void Reconciler::failed(const std::string& key, const Error& error, SteadyTime now) {
  Retry& r = retries_[key];
  ++r.failures;
  auto delay = options_.retry_initial;
  for (int i = 1; i < r.failures && delay < options_.retry_max; ++i) {
    delay *= 2;
  }
  delay = std::min(delay, options_.retry_max);
  r.next = now + delay;
  if (metrics_ != nullptr) {
    metrics_->reconcile_errors.with({}).inc();
  }
  log::error("operator", "node write failed; will retry",
             {{"node", key},
              {"error", error},
              {"attempt", r.failures},
              {"retry_in_ms", static_cast<std::int64_t>(delay.count())}});
}

policy::WriteSettings Reconciler::write_settings(const std::string& node) const {
  policy::WriteSettings s;
  s.downgrade_settle = options_.downgrade_settle;
  s.upgrade_apply_timeout = options_.upgrade_apply_timeout;
  s.drain_timeout = options_.drain_timeout;
  s.retry_initial = options_.retry_initial;
  // The caps in force: the node's hardware class's, else the plan's (a time window may lower the
  // eco cap).
  std::tie(s.performance_cap_watts, s.eco_cap_watts) = node_caps(node);
  s.policy_name = std::string(policy::spec_name(options_.policy.kind));
  return s;
}

void Reconciler::refine_memory(const std::string& node, const Text& state_since,
                               const Text& apply_wait_until, policy::NodeMemory& memory) {
  auto it = completed_.find(node);
  if (it == completed_.end()) {
    return;
  }
  bool current = false;
  if (state_since && *state_since == it->second.state_since && memory.since) {
    memory.since = std::max(*memory.since, it->second.at);
    current = true;
  }
  if (apply_wait_until && *apply_wait_until == it->second.apply_wait_until &&
      memory.apply_wait_until) {
    memory.apply_wait_until =
        std::max(*memory.apply_wait_until, it->second.at + options_.upgrade_apply_timeout);
    current = true;
  }
  if (!current) {
    completed_.erase(it);  // a later write (ours or anyone's) replaced what we wrote
  }
}

policy::WritePlanInput Reconciler::planner_input(const ManagedNode& node, api::Profile desired,
                                                 const Snapshot& snapshot, const Now& now) {
  policy::WritePlanInput in;
  in.desired = desired;
  in.now = now.wall;
  policy::NodeObservation& o = in.observed;
  o.node = node.name;
  o.label = resolve(expected_label_, node.name, node.label, now.steady);
  o.draining_since = resolve(expected_annotation_, node.name, node.draining_since, now.steady);
  const Text state_since = resolve(expected_state_since_, node.name, node.state_since, now.steady);
  if (snapshot.pods_known) {
    o.perf_pods = node.perf_pods;
  }
  const std::string profile_name = api::canonical_profile_name(node.name);
  const NppInfo* cached = nullptr;
  const NppInfo* profile = resolve_profile(profile_name, snapshot, now.steady, &cached);
  Text apply_wait_until;
  if (profile) {
    o.profile =
        policy::ObservedProfile{profile->node_name, profile->profile, profile->cap_watts,
                                profile->policy_name, profile->apply_wait_until.has_value()};
    apply_wait_until = profile->apply_wait_until;
  }
  // Whether the node's agent has acted on the profile is read from the cache's status, for the
  // spec the operator believes is there.
  if (cached != nullptr) {
    o.agent_reports = cached->observed_generation.has_value();
    o.agent_applied = profile && cached->same_spec(*profile) && cached->applied();
  }
  in.memory = policy::read_memory(state_since, apply_wait_until);
  refine_memory(node.name, state_since, apply_wait_until, in.memory);
  return in;
}

Reconciler::NodeWork Reconciler::prepare_node(const ManagedNode& node, api::Profile desired,
                                              const Snapshot& snapshot, const Now& now) {
  NodeWork work;
  work.node = &node;
  const policy::WritePlanInput in = planner_input(node, desired, snapshot, now);
  work.plan = policy::plan_writes(in, write_settings(node.name));
  work.label = in.observed.label;
  work.writes = to_writes(work.plan.writes, node.name);
  const policy::WritePlan& plan = work.plan;
  if (plan.apply_wait_expired) {
    log::warn("operator",
              "the node's agent has not reported the performance cap; publishing the "
              "performance label anyway",
              {{"node", node.name},
               {"timeout_ms", static_cast<std::int64_t>(options_.upgrade_apply_timeout.count())}});
  }
  if (plan.waiting != Wait::none && plan.wake) {
    wake_at(now.to_steady(*plan.wake));
  }

  NodeOutcome& out = work.out;
  out.node = node.name;
  out.state = plan.decision.next;
  out.profile = plan.target.profile;
  out.label = std::string(plan.target.label);
  out.cap_watts = plan.target.cap_watts;
  out.perf_pods = in.observed.perf_pods;
  out.changed = !work.writes.empty() && !plan.memory_only;
  out.result = plan.decision.result;
  if (out.result == GuardResult::unchanged && out.changed) {
    out.result = GuardResult::applied;  // e.g. a first label or a recreated profile
  }
  out.waiting = std::string(policy::to_string(plan.waiting));
  if (plan.waiting != Wait::none) {
    out.wait_until = plan.wake;
  }
  out.cap_only = plan.cap_only;
  work.send = !work.writes.empty() && !options_.dry_run && !in_backoff(node.name, now.steady);
  return work;
}

void Reconciler::wake_at(SteadyTime when) {
  if (!wake_ || when < *wake_) {
    wake_ = when;
  }
}

void Reconciler::execute_all(std::vector<NodeWork>& work, std::size_t begin, std::size_t end,
                             const std::function<bool()>& yield,
                             const std::function<void(std::size_t)>& record) {
  std::vector<NodeWork*> jobs;
  for (std::size_t i = begin; i < end; ++i) {
    if (work[i].send) {
      jobs.push_back(&work[i]);
    }
  }
  const std::size_t bound = static_cast<std::size_t>(std::max(1, options_.max_concurrent_writes));
  const std::size_t workers = std::min(jobs.size(), bound);
  // Once a re-plan is waiting, no further node of this phase starts (those in flight finish).
  // The first `bound` nodes always start: every pass makes progress even when its own planning
  // takes longer than the interval (a re-plan is then always waiting).
  std::atomic<bool> yielding{false};
  auto run = [&](std::size_t k) {
    NodeWork& w = *jobs[k];
    if (yield && k >= bound && (yielding.load() || yield())) {
      yielding = true;
      w.yielded = true;
      return;
    }
    if (options_.live_perf_pods && w.plan.recheck_pods) {
      const std::optional<std::int64_t> live = options_.live_perf_pods(w.node->name);
      if (!live || *live > 0) {
        w.raced = live.value_or(-1);
        return;
      }
    }
    try {
      w.done = actuation_.execute(w.writes);
    } catch (const std::exception& e) {  // e.g. bad_alloc: a failed node, not a dead process
      w.done.status = Error(Errc::internal, fmt::format("writing the node: {}", e.what()));
    }
    if (w.plan.phase != WritePhase::none) {
      // A long pass writes its last nodes seconds after it started: a settle or an agent's
      // deadline counts from the write, not from the pass's start.
      w.done_at = {clock_.monotonic(), clock_.now()};
    }
  };
  if (workers <= 1) {
    std::size_t k = 0;
    for (std::size_t i = begin; i < end; ++i) {
      if (work[i].send) {
        run(k++);
      }
      record(i);
    }
    return;
  }
  // Each worker takes the next node and runs its whole write list, so a node's writes keep their
  // order (docs/design.md#writes-and-their-order) while up to `workers` nodes are in flight; the
  // client's token bucket is shared. The pass thread records each node as soon as it and every node
  // before it are done: the records keep their fixed order, and Events leave as the writes progress
  // rather than in one burst at the end (the recorder's queue is bounded).
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::condition_variable finished_cv;
  std::vector<char> finished(jobs.size(), 0);
  auto worker = [&] {
    for (std::size_t k = next.fetch_add(1); k < jobs.size(); k = next.fetch_add(1)) {
      run(k);
      {
        std::lock_guard lock(mutex);
        finished[k] = 1;
      }
      finished_cv.notify_all();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (std::size_t t = 0; t < workers; ++t) {
    threads.emplace_back(worker);
  }
  std::size_t k = 0;
  for (std::size_t i = begin; i < end; ++i) {
    if (work[i].send) {
      std::unique_lock lock(mutex);
      finished_cv.wait(lock, [&] { return finished[k] != 0; });
      ++k;
    }
    record(i);
  }
  for (auto& t : threads) {
    t.join();
  }
}

void Reconciler::record_node(NodeWork& work, const Now& now, PassResult& result,
                             NodeOutcome& recorded) {
  const ManagedNode& node = *work.node;
  NodeOutcome& out = work.out;
  const bool held = work.plan.waiting != Wait::none;
  if (held || work.yielded || work.raced) {
    // Not attempted: reported as it stands, no error. Held between two phases: the wake-up (or
    // the agent's report) brings the node back, and an older retry time (a failed write, a raced
    // downgrade) would otherwise stay due in the past and spin the controller. Yielded: the
    // waiting re-plan writes it. Raced: a re-guard pass soon (the controller wakes at
    // next_retry()) sees the pod and drains the node.
    out.state = work.plan.current;
    out.label = work.label.value_or("");
    out.result = GuardResult::unchanged;
    out.changed = false;
    if (held) {
      retries_.erase(node.name);
    } else if (work.yielded) {
      ++result.yielded_nodes;
    } else {
      ++result.raced_nodes;
      if (*work.raced >= 0) {
        out.perf_pods = *work.raced;
      }
      retries_[node.name] = Retry{0, now.steady + options_.retry_initial};
      log::info("operator",
                "downgrade not started: a performance-sensitive pod reached the node after the "
                "pass's snapshot; the next pass drains it",
                {{"node", node.name}, {"perf_pods", *work.raced}});
    }
    recorded = std::move(out);
    return;
  }
  record_writes(work, now, result);
  recorded = std::move(out);
}

void Reconciler::record_writes(NodeWork& work, const Now& now, PassResult& result) {
  const ManagedNode& node = *work.node;
  const policy::WritePlan& plan = work.plan;
  const std::vector<Write>& writes = work.writes;
  NodeOutcome& out = work.out;
  bool effective = true;
  if (writes.empty()) {
    retries_.erase(node.name);  // nothing left to retry
  } else if (options_.dry_run) {
    result.write_requests += writes.size();  // what would be sent
  } else if (!work.send) {
    out.error = "waiting to retry after an earlier failure";
    effective = false;
  } else {
    const ExecuteOutcome& done = work.done;
    result.write_requests += done.requests;
    // Writes that took effect are remembered even if a later one failed.
    remember(std::vector<Write>(writes.begin(), writes.begin() + done.completed), now.steady);
    if (!done.status.ok()) {
      out.error = done.status.error().describe();
      failed(node.name, done.status.error(), now.steady);
      effective = false;
    } else {
      retries_.erase(node.name);
    }
  }
  if (!effective) {
    ++result.failed_nodes;
    out.state = plan.current;
    out.label = work.label.value_or("");
    out.result = GuardResult::unchanged;
    return;
  }
  if (plan.phase != WritePhase::none) {
    // A first phase. A dry run reports it as the target and what its second half waits for
    // (the policy's decision stays readable in `profile`); a live pass reports the node as the
    // first half leaves it.
    if (!options_.dry_run) {
      remember_first_phase(work, now);
    }
    out.wait_until = plan.wake;
    const bool eco_label = plan.phase == WritePhase::eco_label;
    out.waiting = std::string(policy::to_string(eco_label ? Wait::settle : Wait::agent));
    if (!options_.dry_run && eco_label) {
      out.profile = api::Profile::performance;
      out.cap_watts = node_caps(node.name).first;
    } else if (!options_.dry_run) {
      out.label = work.label.value_or("");
      out.state = plan.current;
    }
    if (plan.memory_only) {
      out.result = GuardResult::unchanged;
    }
  }
  if (!options_.dry_run && plan.phase != WritePhase::performance_cap) {
    // (An upgrade's first phase only raised the cap: the transition, its metric and its Event
    // come with the label.)
    record_transition(work);
  }
}

// A first phase's settle or deadline counts from when its writes completed.
void Reconciler::remember_first_phase(const NodeWork& work, const Now& now) {
  const Now written{std::max(now.steady, work.done_at.steady),
                    std::max(now.wall, work.done_at.wall)};
  Completed& c = completed_[work.node->name];
  c = {};
  c.at = written.wall;
  for (const Write& w : work.writes) {
    if (w.state_since.op == FieldChange::Op::set) {
      c.state_since = w.state_since.value;
    }
    if (w.apply_wait_until.op == FieldChange::Op::set) {
      c.apply_wait_until = w.apply_wait_until.value;
    }
  }
  if (work.plan.wake) {
    wake_at(written.steady + (*work.plan.wake - now.wall));
  }
}

void Reconciler::record_transition(const NodeWork& work) {
  const ManagedNode& node = *work.node;
  const policy::GuardDecision& decision = work.plan.decision;
  if (metrics_ != nullptr) {
    for (const auto& t : decision.transitions) {
      metrics_->transitions
          .with({node.name, std::string(policy::to_string(t.from)),
                 std::string(policy::to_string(t.to)), std::string(policy::to_string(t.result))})
          .inc();
    }
  }
  if (events_ && decision.event != policy::NodeEvent::none) {
    kube::EventType type = decision.event == policy::NodeEvent::drain_forced
                               ? kube::EventType::warning
                               : kube::EventType::normal;
    events_({node.name, node.uid}, type, std::string(policy::reason(decision.event)),
            event_message(decision, work.plan.current, node.perf_pods,
                          policy::spec_name(options_.policy.kind)));
  }
}

void Reconciler::release_nodes(const Snapshot& snapshot,
                               const std::unordered_set<std::string>& managed, SteadyTime now,
                               PassResult& result) {
  // Operator-managed profiles that must go, by the node they name.
  std::map<std::string, std::vector<std::string>> doomed;
  for (const auto& [name, cached] : snapshot.npps) {
    const NppInfo* info = resolve_profile(name, snapshot, now);
    if (!info) {
      continue;
    }
    const bool node_managed = managed.contains(info->node_name);
    if (!node_managed || name != api::canonical_profile_name(info->node_name)) {
      doomed[info->node_name].push_back(name);
    }
  }

  std::vector<ReleaseInput> releases;
  for (const auto& m : snapshot.unmanaged_marked) {
    const Text label = resolve(expected_label_, m.name, m.label, now);
    const Text annotation = resolve(expected_annotation_, m.name, m.draining_since, now);
    const Text state_since = resolve(expected_state_since_, m.name, m.state_since, now);
    auto d = doomed.find(m.name);
    // Only nodes the operator evidently managed are cleaned; a label someone set by hand on a
    // node we never managed is left alone.
    const bool ours =
        d != doomed.end() || previously_managed_.contains(m.name) || annotation || state_since;
    if (!ours || (!label && !annotation && !state_since && d == doomed.end())) {
      continue;
    }
    ReleaseInput r;
    r.node = m.name;
    r.label = label;
    r.draining_since = annotation;
    r.state_since = state_since;
    if (d != doomed.end()) {
      r.profiles = std::move(d->second);
      doomed.erase(d);
    }
    releases.push_back(std::move(r));
  }
  for (auto& [node, profiles] : doomed) {
    ReleaseInput r;
    r.node = node;
    r.node_exists = false;  // not marked, or gone: nothing to patch
    r.profiles = std::move(profiles);
    // A duplicate profile of a managed node is deleted without touching the node's marks.
    releases.push_back(std::move(r));
  }

  for (const auto& r : releases) {
    const std::vector<Write> writes = plan_release_writes(r);
    if (writes.empty()) {
      retries_.erase(r.node.empty() ? "<no node>" : r.node);
      continue;
    }
    if (options_.dry_run) {
      result.write_requests += writes.size();
      result.released.push_back(r.node);
      continue;
    }
    const std::string key = r.node.empty() ? "<no node>" : r.node;
    if (in_backoff(key, now)) {
      continue;
    }
    ExecuteOutcome done = actuation_.execute(writes);
    result.write_requests += done.requests;
    remember(std::vector<Write>(writes.begin(), writes.begin() + done.completed), now);
    if (!done.status.ok()) {
      ++result.failed_nodes;
      failed(key, done.status.error(), now);
    } else {
      retries_.erase(key);
      result.released.push_back(r.node);
    }
  }
}

std::size_t Reconciler::upgrades_first(const Snapshot& snapshot, SteadyTime now,
                                       std::vector<std::size_t>& order) {
  // Upgrades first (docs/architecture.md): nodes that must become (or stay) performance while
  // their label or profile says otherwise -- eco -> performance, a drain cancelled, a first
  // label -- are written before any downgrade, so a demand step is not queued behind the pass's
  // downgrades in the client rate limit. Within each group the name order is kept; the per-node
  // write order is the planner's. Outcomes are reported in the snapshot's (name) order.
  const std::string_view performance_label = policy::label_value(NodeState::active_performance);
  auto upgrade = [&](const ManagedNode& node) {
    if (desired_of(node.name) != api::Profile::performance) {
      return false;
    }
    const Text label = resolve(expected_label_, node.name, node.label, now);
    if (!label || *label != performance_label) {
      return true;
    }
    const NppInfo* profile = resolve_profile(api::canonical_profile_name(node.name), snapshot, now);
    return profile && profile->profile != api::to_string(api::Profile::performance);
  };
  order.resize(snapshot.managed.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  return static_cast<std::size_t>(
      std::stable_partition(order.begin(), order.end(),
                            [&](std::size_t i) { return upgrade(snapshot.managed[i]); }) -
      order.begin());
}

api::Profile Reconciler::desired_of(const std::string& node) const {
  auto it = desired_.find(node);
  return it == desired_.end() ? api::Profile::performance : plan_->nodes[it->second].profile;
}

void Reconciler::forget_departed(const Snapshot& snapshot,
                                 const std::unordered_set<std::string>& managed) {
  std::erase_if(completed_, [&](const auto& entry) { return !managed.contains(entry.first); });
  std::erase_if(retries_, [&](const auto& entry) {
    return !managed.contains(entry.first) &&
           std::none_of(snapshot.unmanaged_marked.begin(), snapshot.unmanaged_marked.end(),
                        [&](const MarkedNode& m) { return m.name == entry.first; }) &&
           std::none_of(snapshot.npps.begin(), snapshot.npps.end(),
                        [&](const auto& p) { return p.second.node_name == entry.first; });
  });
}

PassResult Reconciler::run_pass(const Snapshot& snapshot, PassKind kind) {
  const SteadyTime started = clock_.monotonic();
  PassResult result;
  result.policy = std::string(policy::config_name(options_.policy.kind));
  result.dry_run = options_.dry_run;
  result.pods_known = snapshot.pods_known;

  const policy::PolicyPlan& plan = plan_for(snapshot, kind);
  result.managed = static_cast<std::int64_t>(snapshot.managed.size());
  result.performance = plan.performance_nodes;
  result.context = plan_context_;

  const Now now{clock_.monotonic(), clock_.now()};
  std::vector<std::size_t> order;
  const std::size_t upgrades = upgrades_first(snapshot, now.steady, order);
  // Plan every node on this thread, then send the upgrades' writes (up to
  // max_concurrent_writes nodes at once) and record them, and only then the downgrades'. Records
  // are made in this order whatever the workers' timing, so logs, events and results are the same
  // with one worker or eight.
  wake_.reset();
  // The per-node work lives in a member reused from pass to pass (cleared, capacity kept): a
  // fresh vector of 5 000 of them was hundreds of page faults per pass.
  std::vector<NodeWork>& work = work_;
  work.clear();
  work.reserve(order.size());
  for (std::size_t i : order) {
    const ManagedNode& node = snapshot.managed[i];
    work.push_back(prepare_node(node, desired_of(node.name), snapshot, now));
  }
  // Outcomes are reported in the snapshot's (name) order: each lands at its node's index.
  result.nodes.resize(work.size());
  auto record = [&](std::size_t k) {
    NodeOutcome& out = result.nodes[order[k]];
    record_node(work[k], now, result, out);
    auto it = desired_.find(work[k].node->name);
    if (it != desired_.end()) {
      out.held_until = plan.nodes[it->second].held_until;
      if (options_.explain) {
        out.reasons = plan.nodes[it->second].reasons;
      }
    }
  };
  // An agent may report during this very pass: count the upgrades about to wait for one before
  // their writes go out, so the status update wakes a re-guard pass.
  awaiting_agents_ =
      static_cast<std::size_t>(std::count_if(work.begin(), work.end(), [](const NodeWork& w) {
        return w.plan.waiting == Wait::agent ||
               (w.send && w.plan.phase == WritePhase::performance_cap);
      }));
  execute_all(work, 0, upgrades, {}, record);
  execute_all(work, upgrades, work.size(), options_.yield_downgrades, record);
  const std::string_view waiting_for_agent = policy::to_string(Wait::agent);
  awaiting_agents_ = static_cast<std::size_t>(
      std::count_if(result.nodes.begin(), result.nodes.end(),
                    [&](const NodeOutcome& n) { return n.waiting == waiting_for_agent; }));
  if (result.yielded_nodes > 0) {
    log::info("operator", "a re-plan is waiting: the pass's remaining downgrades are left for it",
              {{"left", static_cast<std::int64_t>(result.yielded_nodes)}});
  }
  std::unordered_set<std::string> managed;
  managed.reserve(snapshot.managed.size());
  for (const auto& n : snapshot.managed) {
    managed.insert(n.name);
  }
  release_nodes(snapshot, managed, now.steady, result);
  forget_departed(snapshot, managed);
  result.seconds = std::chrono::duration<double>(clock_.monotonic() - started).count();
  publish(result, managed);
  previously_managed_ = std::move(managed);
  log_summary(result);
  return result;
}

void Reconciler::publish(const PassResult& result, const std::unordered_set<std::string>& managed) {
  if (metrics_ == nullptr) {
    return;
  }
  metrics_->reconcile_duration.with({}).observe(result.seconds);
  metrics_->planned_nodes.with({"performance"}).set(static_cast<double>(result.performance));
  metrics_->planned_nodes.with({"eco"}).set(
      static_cast<double>(result.managed - result.performance));
  metrics_->unschedulable_perf_pods.with({}).set(
      plan_ ? static_cast<double>(plan_->unschedulable.size()) : 0.0);
  for (const auto& n : result.nodes) {
    // Six labelled series per node: only a node whose state or label moved is written (at
    // 5 000 nodes the lookups were a quarter of a pass that changes nothing).
    auto [last, fresh] = published_.try_emplace(n.node);
    if (!fresh && last->second.state == n.state && last->second.label == n.label) {
      continue;
    }
    last->second = {n.state, n.label};
    for (NodeState s : kStates) {
      metrics_->node_state.with({n.node, std::string(policy::to_string(s))})
          .set(s == n.state ? 1 : 0);
    }
    for (NodeState s : kStates) {
      const std::string value(policy::label_value(s));
      metrics_->node_profile_label.with({n.node, value}).set(value == n.label ? 1 : 0);
    }
  }
  for (const auto& name : previously_managed_) {
    if (!managed.contains(name)) {
      metrics_->remove_node(name);
      published_.erase(name);
    }
  }
}

void Reconciler::log_summary(const PassResult& result) const {
  constexpr std::size_t kMaxNamed = 20;
  std::string changed;
  std::size_t count = 0;
  std::int64_t deferred = 0;
  std::int64_t caps = 0;
  for (const auto& n : result.nodes) {
    if (n.result == GuardResult::deferred) {
      ++deferred;
    }
    if (!n.changed || !n.error.empty()) {
      continue;  // failed nodes are counted in `failed` and logged on their own
    }
    if (n.cap_only) {
      ++caps;
      continue;
    }
    if (count < kMaxNamed) {
      changed += (changed.empty() ? "" : ",") + n.node + "=" + n.label;
    }
    ++count;
  }
  if (count > kMaxNamed) {
    changed += fmt::format(",...(+{})", count - kMaxNamed);
  }
  std::string released;
  for (const auto& r : result.released) {
    released += (released.empty() ? "" : ",") + r;
  }
  std::string signals;
  for (const auto& sig : result.context.signals) {
    signals += (signals.empty() ? "" : ",") + sig.name + "=" + sig.health;
    if (sig.per_node && sig.health != "ok") {
      signals += fmt::format("({}/{} ok)", sig.ok, sig.ok + sig.stale + sig.missing + sig.error);
    }
  }
  log::info(
      "operator", result.dry_run ? "reconcile pass (dry run)" : "reconcile pass",
      {{"policy", result.policy},
       {"managed", result.managed},
       {"performance", result.performance},
       {"changed", changed.empty() ? std::string("none") : changed},
       {"deferred", deferred},
       {"caps", caps},
       {"released", released.empty() ? std::string("none") : released},
       {"writes", result.write_requests},
       {"failed", result.failed_nodes},
       {"pods_known", result.pods_known},
       {"duration_ms", std::round(result.seconds * 1e6) / 1e3},
       {"window", result.context.window.empty() ? std::string("none") : result.context.window},
       {"local_time", result.context.local_time},
       {"signals", signals.empty() ? std::string("none") : signals}});
}

}  // namespace joulie::operator_mode
