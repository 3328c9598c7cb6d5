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
#include <utility>

#include "joulie/api/names.hpp"
#include "joulie/common/log.hpp"

namespace joulie::operator_mode {

namespace {

using policy::GuardResult;
using policy::NodeState;

// NodeOutcome::waiting between the two phases (docs/decisions.md).
constexpr std::string_view kWaitingForSettle = "eco cap: waiting for the eco label to settle";
constexpr std::string_view kWaitingForAgent =
    "performance label: waiting for the agent to apply the performance cap";

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
  for (const auto& [key, when] : wake_) {
    if (!earliest || when < *earliest) {
      earliest = when;
    }
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
  policy::Context context = make_policy_context(snapshot, options_.time_zone, transitions_);
  if (options_.enrich_context) {
    options_.enrich_context(context);
  }
  policy::PolicyInput input;
  input.managed_nodes = names;
  if (snapshot.pods_known) {
    input.perf_sensitive_pods = snapshot.cluster_perf_pods;
  }
  input.now = snapshot.now;
  input.context = &context;
  input.explain = options_.explain;
  auto planned = policy::plan(options_.policy, input);
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
  }
  plan_nodes_ = std::move(names);
  desired_.clear();
  for (std::size_t i = 0; i < plan_->nodes.size(); ++i) {
    desired_[plan_->nodes[i].node] = i;
  }
  plan_context_ = explain(context, *plan_);
  return *plan_;
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

void Reconciler::remember_transition(const std::string& node, NodeState state, SystemTime now) {
  auto [it, inserted] = transitions_.try_emplace(node, TransitionMemory{state, std::nullopt});
  if (!inserted && it->second.state != state) {
    it->second = {state, now};
  }
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

std::optional<NppInfo> Reconciler::resolve_profile(const std::string& name,
                                                   const Snapshot& snapshot, SteadyTime now) {
  std::optional<NppInfo> cached;
  if (auto it = snapshot.npps.find(name); it != snapshot.npps.end()) {
    cached = it->second;
  }
  auto it = expected_profile_.find(name);
  if (it == expected_profile_.end()) {
    return cached;
  }
  // The expectation holds the spec we wrote; the cache also carries generation and status.
  const auto& expected = it->second.value;
  const bool caught_up =
      expected.has_value() == cached.has_value() && (!expected || expected->same_spec(*cached));
  if (caught_up || now >= it->second.expires) {
    expected_profile_.erase(it);
    return cached;
  }
  return it->second.value;
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

Reconciler::NodeWork Reconciler::prepare_node(const ManagedNode& node, api::Profile desired,
                                              const Snapshot& snapshot, SteadyTime now) {
  NodeWork work;
  work.node = &node;
  wake_.erase(node.name);  // set again below if the node still waits
  work.label = resolve(expected_label_, node.name, node.label, now);
  const Text& label = work.label;
  const Text annotation = resolve(expected_annotation_, node.name, node.draining_since, now);
  const std::string profile_name = api::canonical_profile_name(node.name);
  const std::optional<NppInfo> profile = resolve_profile(profile_name, snapshot, now);

  policy::GuardInput in;
  in.current =
      policy::state_from_label(label ? std::optional<std::string_view>(*label) : std::nullopt);
  in.desired = desired;
  if (snapshot.pods_known) {
    in.perf_sensitive_pods = node.perf_pods;
  }
  if (annotation) {
    if (auto t = parse_rfc3339(*annotation); t.ok()) {
      in.draining_since = *t;
    }
  }
  in.drain_timeout = options_.drain_timeout;
  in.now = snapshot.now;
  remember_transition(node.name, in.current, snapshot.now);

  // Phase two of a downgrade (ReconcilerOptions::downgrade_settle): the node is labelled eco and
  // still has its performance cap. Once the label has settled, a performance-sensitive pod on
  // the node was bound while the scheduler still saw `performance`: the node is then, for the
  // guard, the performance node it still is, and drains.
  const std::string_view eco_profile = api::to_string(api::Profile::eco);
  bool cap_phase = false;
  bool forced_rest = false;
  const bool settling = options_.downgrade_settle.count() > 0 && !options_.dry_run &&
                        in.current == NodeState::active_eco && desired == api::Profile::eco &&
                        (!profile || profile->profile != eco_profile);
  if (!settling) {
    eco_since_.erase(node.name);
    forced_eco_.erase(node.name);
  } else if (forced_eco_.contains(node.name)) {
    // The rest of a forced drain whose cap write failed: forced, not settled again (a settle
    // would find the pods still there and start the drain over).
    forced_rest = true;
  } else {
    // First seen here without our write (a restart, a hand-set label): it settles from now.
    const SteadyTime due =
        eco_since_.try_emplace(node.name, now).first->second + options_.downgrade_settle;
    if (now < due) {
      work.hold = kWaitingForSettle;
      work.wake = due;
    } else if (!snapshot.pods_known) {
      work.hold = "eco cap: pod data unknown";
      work.wake = now + options_.retry_initial;
    } else if (node.perf_pods > 0) {
      in.current = NodeState::active_performance;
      eco_since_.erase(node.name);
    } else {
      cap_phase = true;
    }
  }
  work.decision = policy::evaluate_guard(in);
  work.current = in.current;
  const policy::GuardDecision& decision = work.decision;

  // The caps in force: a time window may lower the eco cap.
  const auto [performance_cap, eco_cap] = node_caps(node.name);
  const policy::DesiredWrite target =
      policy::desired_write(decision.next, performance_cap, eco_cap);
  NodeWriteInput wi;
  wi.node = node.name;
  wi.label = label;
  wi.draining_since = annotation;
  wi.profile = profile;
  wi.target_label = std::string(target.label);
  if (decision.next == NodeState::draining_performance) {
    wi.target_draining_since = decision.draining_since == policy::DrainingSinceWrite::set
                                   ? FieldChange::set(format_rfc3339(snapshot.now))
                                   : FieldChange::keep();
  } else {
    wi.target_draining_since = FieldChange::remove();
  }
  wi.target_spec.node_name = node.name;
  wi.target_spec.profile = target.profile;
  wi.target_spec.package_power_cap_watts = target.cap_watts;
  wi.target_spec.policy_name = std::string(policy::spec_name(options_.policy.kind));
  work.writes = plan_node_writes(wi);

  const bool downgrade_from_performance = decision.next == NodeState::active_eco &&
                                          in.current == NodeState::active_performance &&
                                          decision.result != GuardResult::forced;
  work.recheck_pods =
      cap_phase || (decision.next == NodeState::active_eco && in.current != NodeState::active_eco &&
                    decision.result != GuardResult::forced);
  if (options_.downgrade_settle.count() > 0 && !options_.dry_run && downgrade_from_performance &&
      (!profile || profile->profile != eco_profile)) {
    // Phase one: the eco label (the scheduler stops placing performance-only pods here); the eco
    // cap follows once the label has settled. A draining node needs no settling: its
    // draining-performance label has repelled those pods all along.
    std::erase_if(work.writes, [](const Write& w) { return w.kind != WriteKind::patch_node; });
    work.phase = NodeWork::Phase::eco_label;
  }

  // An upgrade whose node has an agent reporting on the profile: the performance label waits
  // until the agent has acted on the raised cap (ReconcilerOptions::upgrade_apply_timeout).
  const NppInfo* cached = nullptr;
  if (auto it = snapshot.npps.find(profile_name); it != snapshot.npps.end()) {
    cached = &it->second;
  }
  const std::string_view performance_label = policy::label_value(NodeState::active_performance);
  const bool publishes_performance =
      wi.target_label == performance_label && (!label || *label != performance_label);
  const bool raises_cap = std::any_of(work.writes.begin(), work.writes.end(), [](const Write& w) {
    return w.kind == WriteKind::create_profile || w.kind == WriteKind::patch_profile;
  });
  if (!publishes_performance || options_.upgrade_apply_timeout.count() == 0 || options_.dry_run) {
    apply_deadline_.erase(node.name);
  } else if (raises_cap) {
    if (cached != nullptr && cached->observed_generation) {
      // Phase one: the raised cap; the label once the agent reports it (or at the deadline).
      std::erase_if(work.writes, [](const Write& w) { return w.kind == WriteKind::patch_node; });
      work.phase = NodeWork::Phase::performance_cap;
    }
  } else {
    // The cap is already what an upgrade needs; has the node's agent acted on it? A profile no
    // agent has ever reported on is labelled at once. Asked from the cache, not only from this
    // process's memory: a restart, or a policy that flipped back between the two phases, must
    // not publish the label ahead of the agent either.
    const bool reported =
        cached != nullptr && profile && cached->same_spec(*profile) && cached->applied();
    auto it = apply_deadline_.find(node.name);
    const bool has_agent = cached != nullptr && cached->observed_generation.has_value();
    if (reported || (it == apply_deadline_.end() && !has_agent)) {
      if (it != apply_deadline_.end()) {
        apply_deadline_.erase(it);
      }
    } else {
      if (it == apply_deadline_.end()) {
        it = apply_deadline_.emplace(node.name, now + options_.upgrade_apply_timeout).first;
      }
      if (now < it->second) {
        work.hold = kWaitingForAgent;
        work.wake = it->second;
      } else {
        log::warn(
            "operator",
            "the node's agent has not reported the performance cap; publishing the "
            "performance label anyway",
            {{"node", node.name},
             {"timeout_ms", static_cast<std::int64_t>(options_.upgrade_apply_timeout.count())}});
        apply_deadline_.erase(it);
      }
    }
  }
  if (!work.hold.empty()) {
    work.writes.clear();
  }

  NodeOutcome& out = work.out;
  out.node = node.name;
  out.state = decision.next;
  out.profile = target.profile;
  out.label = wi.target_label;
  out.cap_watts = target.cap_watts;
  out.perf_pods = in.perf_sensitive_pods;
  out.changed = !work.writes.empty();
  out.result = decision.result;
  if (out.result == GuardResult::unchanged && out.changed) {
    out.result = GuardResult::applied;  // e.g. a first label or a recreated profile
  }
  out.waiting = work.hold;
  out.cap_only = (cap_phase || forced_rest || work.phase == NodeWork::Phase::performance_cap) &&
                 !work.writes.empty() &&
                 std::all_of(work.writes.begin(), work.writes.end(),
                             [](const Write& w) { return w.kind != WriteKind::patch_node; });
  work.send = !work.writes.empty() && !options_.dry_run && !in_backoff(node.name, now);
  if (work.wake) {
    wake_[node.name] = *work.wake;
  }
  return work;
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
    if (options_.live_perf_pods && w.recheck_pods) {
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
    if (w.phase != NodeWork::Phase::none) {
      // A long pass writes its last nodes seconds after it started: a settle or an agent's
      // deadline counts from the write, not from the pass's start.
      w.done_at = clock_.monotonic();
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
  // order (§4.6) while up to `workers` nodes are in flight; the client's token bucket is shared.
  // The pass thread records each node as soon as it and every node before it are done: the
  // records keep their fixed order, and Events leave as the writes progress rather than in one
  // burst at the end (the recorder's queue is bounded).
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

void Reconciler::record_node(NodeWork& work, const Snapshot& snapshot, SteadyTime now,
                             PassResult& result) {
  const ManagedNode& node = *work.node;
  const policy::GuardDecision& decision = work.decision;
  const std::vector<Write>& writes = work.writes;
  NodeOutcome& out = work.out;

  if (!work.hold.empty()) {
    // Between two phases: nothing written, nothing failed; the wake-up (or the agent's report)
    // brings the node back. An older retry time (a failed write, a raced downgrade) would
    // otherwise stay due in the past and spin the controller.
    retries_.erase(node.name);
    out.state = work.current;
    out.label = work.label.value_or("");
    out.result = GuardResult::unchanged;
    out.changed = false;
    result.nodes.push_back(std::move(out));
    return;
  }
  if (work.yielded || work.raced) {
    // Not attempted: reported as it stands, no error. Yielded: the waiting re-plan writes it.
    // Raced: a re-guard pass soon (the controller wakes at next_retry()) sees the pod and
    // drains the node.
    out.state = work.current;
    out.label = work.label.value_or("");
    out.result = GuardResult::unchanged;
    out.changed = false;
    if (work.yielded) {
      ++result.yielded_nodes;
    } else {
      ++result.raced_nodes;
      if (*work.raced >= 0) {
        out.perf_pods = *work.raced;
      }
      retries_[node.name] = Retry{0, now + options_.retry_initial};
      log::info("operator",
                "downgrade not started: a performance-sensitive pod reached the node "
                "after the pass's snapshot; the next pass drains it",
                {{"node", node.name}, {"perf_pods", *work.raced}});
    }
    result.nodes.push_back(std::move(out));
    return;
  }
  if (decision.result == GuardResult::forced && work.send) {
    forced_eco_.insert(node.name);  // if its cap write fails, the retry is still forced
  }
  bool effective = true;
  if (writes.empty()) {
    retries_.erase(node.name);  // nothing left to retry
  } else if (!options_.dry_run) {
    if (!work.send) {
      out.error = "waiting to retry after an earlier failure";
      effective = false;
    } else {
      const ExecuteOutcome& done = work.done;
      result.write_requests += done.requests;
      // Writes that took effect are remembered even if a later one failed.
      remember(std::vector<Write>(writes.begin(), writes.begin() + done.completed), now);
      if (!done.status.ok()) {
        out.error = done.status.error().describe();
        failed(node.name, done.status.error(), now);
        effective = false;
      } else {
        retries_.erase(node.name);
        const SteadyTime written = std::max(now, work.done_at);
        if (work.phase == NodeWork::Phase::eco_label) {
          eco_since_[node.name] = written;
          wake_[node.name] = written + options_.downgrade_settle;
          out.waiting = kWaitingForSettle;
          out.profile = api::Profile::performance;
          out.cap_watts = node_caps(node.name).first;
        } else if (work.phase == NodeWork::Phase::performance_cap) {
          const SteadyTime deadline = written + options_.upgrade_apply_timeout;
          apply_deadline_[node.name] = deadline;
          wake_[node.name] = deadline;
          out.waiting = kWaitingForAgent;
          out.label = work.label.value_or("");
          out.state = work.current;
        }
      }
    }
  } else {
    result.write_requests += writes.size();  // dry run: what would be sent
  }

  if (!effective) {
    ++result.failed_nodes;
    out.state = work.current;
    out.label = work.label.value_or("");
    out.result = GuardResult::unchanged;
  } else if (!options_.dry_run && work.phase != NodeWork::Phase::performance_cap) {
    // (An upgrade's first phase only raised the cap: the transition, its metric and its Event
    // come with the label.)
    if (decision.next != work.current) {
      transitions_[node.name] = {decision.next, snapshot.now};
    }
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
              event_message(decision, work.current, node.perf_pods,
                            policy::spec_name(options_.policy.kind)));
    }
  }
  result.nodes.push_back(std::move(out));
}

void Reconciler::release_nodes(const Snapshot& snapshot, SteadyTime now, PassResult& result) {
  std::unordered_set<std::string> managed;
  for (const auto& n : snapshot.managed) {
    managed.insert(n.name);
  }
  // Operator-managed profiles that must go, by the node they name.
  std::map<std::string, std::vector<std::string>> doomed;
  for (const auto& [name, cached] : snapshot.npps) {
    auto info = resolve_profile(name, snapshot, now);
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
    auto d = doomed.find(m.name);
    // Only nodes the operator evidently managed are cleaned; a label someone set by hand on a
    // node we never managed is left alone.
    const bool ours = d != doomed.end() || previously_managed_.contains(m.name) || annotation;
    if (!ours || (!label && !annotation && d == doomed.end())) {
      continue;
    }
    ReleaseInput r;
    r.node = m.name;
    r.label = label;
    r.draining_since = annotation;
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

PassResult Reconciler::run_pass(const Snapshot& snapshot, PassKind kind) {
  const SteadyTime started = clock_.monotonic();
  PassResult result;
  result.policy = std::string(policy::config_name(options_.policy.kind));
  result.dry_run = options_.dry_run;
  result.pods_known = snapshot.pods_known;

  const policy::PolicyPlan& plan = plan_for(snapshot, kind);
  result.managed = static_cast<std::int64_t>(snapshot.managed.size());
  result.performance = plan.performance_nodes;

  const SteadyTime now = clock_.monotonic();
  auto desired_of = [&](const ManagedNode& node) {
    auto it = desired_.find(node.name);
    return it == desired_.end() ? api::Profile::performance : plan.nodes[it->second].profile;
  };
  // Upgrades first (SPEC §8.6): nodes that must become (or stay) performance while their label
  // or profile says otherwise -- eco -> performance, a drain cancelled, a first label -- are
  // written before any downgrade, so a demand step is not queued behind the pass's downgrades
  // in the client rate limit. Within each group the name order is kept; the per-node write
  // order (§4.6) is plan_node_writes'. Outcomes are reported in the snapshot's (name) order.
  const std::string_view performance_label = policy::label_value(NodeState::active_performance);
  auto upgrade = [&](const ManagedNode& node) {
    if (desired_of(node) != api::Profile::performance) {
      return false;
    }
    const Text label = resolve(expected_label_, node.name, node.label, now);
    if (!label || *label != performance_label) {
      return true;
    }
    const auto profile = resolve_profile(api::canonical_profile_name(node.name), snapshot, now);
    return profile && profile->profile != api::to_string(api::Profile::performance);
  };
  std::vector<std::size_t> order(snapshot.managed.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  const auto upgrades = static_cast<std::size_t>(
      std::stable_partition(order.begin(), order.end(),
                            [&](std::size_t i) { return upgrade(snapshot.managed[i]); }) -
      order.begin());
  result.nodes.reserve(snapshot.managed.size());
  result.context = plan_context_;
  // Decide every node on this thread, then send the upgrades' writes (up to
  // max_concurrent_writes nodes at once) and record them, and only then the downgrades'. Records
  // are made in this order whatever the workers' timing, so logs, events and results are the same
  // with one worker or eight.
  std::vector<NodeWork> work;
  work.reserve(order.size());
  for (std::size_t i : order) {
    const ManagedNode& node = snapshot.managed[i];
    work.push_back(prepare_node(node, desired_of(node), snapshot, now));
  }
  auto record = [&](std::size_t k) {
    record_node(work[k], snapshot, now, result);
    auto it = desired_.find(work[k].node->name);
    if (it != desired_.end() && options_.explain) {
      result.nodes.back().reasons = plan.nodes[it->second].reasons;
    }
  };
  // An agent may report during this very pass: count the upgrades about to wait for one before
  // their writes go out, so the status update wakes a re-guard pass.
  const auto starting = std::count_if(work.begin(), work.end(), [](const NodeWork& w) {
    return w.send && w.phase == NodeWork::Phase::performance_cap;
  });
  awaiting_agents_ = apply_deadline_.size() + static_cast<std::size_t>(starting);
  execute_all(work, 0, upgrades, {}, record);
  execute_all(work, upgrades, work.size(), options_.yield_downgrades, record);
  std::vector<NodeOutcome> by_name(result.nodes.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    by_name[order[k]] = std::move(result.nodes[k]);
  }
  result.nodes = std::move(by_name);
  if (result.yielded_nodes > 0) {
    log::info("operator", "a re-plan is waiting: the pass's remaining downgrades are left for it",
              {{"left", static_cast<std::int64_t>(result.yielded_nodes)}});
  }
  release_nodes(snapshot, now, result);

  // Forget retry state of nodes that no longer exist anywhere.
  std::unordered_set<std::string> managed;
  for (const auto& n : snapshot.managed) {
    managed.insert(n.name);
  }
  std::erase_if(transitions_, [&](const auto& entry) { return !managed.contains(entry.first); });
  auto gone = [&](const auto& entry) { return !managed.contains(entry.first); };
  std::erase_if(eco_since_, gone);
  std::erase_if(forced_eco_, [&](const std::string& n) { return !managed.contains(n); });
  std::erase_if(apply_deadline_, gone);
  std::erase_if(wake_, gone);
  awaiting_agents_ = apply_deadline_.size();
  std::erase_if(retries_, [&](const auto& entry) {
    return !managed.contains(entry.first) &&
           std::none_of(snapshot.unmanaged_marked.begin(), snapshot.unmanaged_marked.end(),
                        [&](const MarkedNode& m) { return m.name == entry.first; }) &&
           std::none_of(snapshot.npps.begin(), snapshot.npps.end(),
                        [&](const auto& p) { return p.second.node_name == entry.first; });
  });

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
