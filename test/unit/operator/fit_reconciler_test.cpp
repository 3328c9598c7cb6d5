// Fit-aware supply through the Reconciler: a pending performance pod that fits no node gets one
// rate-limited Event on the Pod (never in a dry run); pins and the pause switch give a node its
// hardware class's caps.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <string>
#include <vector>

#include "fixture.hpp"
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif
#include "joulie/operator/reconciler.hpp"
#include "joulie/operator/unschedulable_events.hpp"

using namespace std::chrono_literals;
using joulie::operator_mode::format_cpu;
using joulie::operator_mode::format_memory;
using joulie::operator_mode::Snapshot;
using joulie::operator_mode::UnschedulableEventOptions;
using joulie::operator_mode::UnschedulableNotifier;
using joulie::operator_mode::testing::Fixture;
using joulie::operator_mode::testing::kNodes;
namespace policy = joulie::policy;

namespace {

constexpr std::int64_t kGi = 1LL << 30;
const std::string kType = "node.kubernetes.io/instance-type";

// A managed node of an instance type with 32 cores, optionally pinned.
void typed_node(Fixture& f, const std::string& name, const std::string& type,
                const std::string& pin = "") {
  const std::string annotations = pin.empty() ? "" : R"("joulie.io/pin":")" + pin + "\"";
  f.api.put(
      kNodes,
      fmt::format(R"({{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{}","uid":"u-{}",)"
                  R"("labels":{{"joulie.io/managed":"true","{}":"{}"}},)"
                  R"("annotations":{{{}}}}},"spec":{{}},)"
                  R"("status":{{"allocatable":{{"cpu":"32","memory":"128Gi","pods":"110"}}}}}})",
                  name, name, kType, type, annotations));
}

void context_aware(Fixture& f) {
  policy::PolicyConfig& c = f.options.policy;
  c.kind = policy::PolicyKind::context_aware_v1;
  c.base_fraction = 0;
  c.min = 0;
  c.max = 100;
  c.perf_pods_per_node = 10;
  c.performance_cap_watts = 500;
  c.eco_cap_watts = 150;
  policy::HardwareClass big;
  big.name = "big";
  big.selector = *policy::parse_selector(kType + "=big");
  big.selector_text = kType + "=big";
  big.performance_cap = policy::CapValue{400, false};
  big.eco_cap = policy::CapValue{200, false};
  c.hardware_classes = {big};
  f.restart();
}

// A pending performance pod asking `cpus` cores of type `type`.
policy::PendingPod pending(const std::string& name, const std::string& type, std::int64_t cpus) {
  auto r = std::make_shared<policy::PodRequirement>();
  r->node_selector = {{kType, type}, {"joulie.io/power-profile", "performance"}};
  return {name, r, {cpus * 1000, kGi, 1}, "uid-" + name};
}

Snapshot with_pending(Fixture& f, const std::vector<policy::PendingPod>& pods) {
  Snapshot s = f.snapshot();
  s.context.workloads.pending_perf = pods;
  s.context.workloads.cluster.performance_only += static_cast<std::int64_t>(pods.size());
  s.context.workloads.pending_perf_sensitive += static_cast<std::int64_t>(pods.size());
  return s;
}

std::vector<Fixture::RecordedEvent> no_fit_events(const Fixture& f) {
  std::vector<Fixture::RecordedEvent> out;
  for (const auto& e : f.events) {
    if (e.reason == "NoPerformanceNodeFits") {
      out.push_back(e);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("fit events: a pod that fits no node gets one Event on the Pod, not one per pass",
          "[fit]") {
  Fixture f;
  typed_node(f, "a1", "small");
  typed_node(f, "a2", "small");
  context_aware(f);
  const std::vector<policy::PendingPod> pods = {pending("ml/huge", "small", 64)};
  for (int pass = 0; pass < 4; ++pass) {
    f.reconciler->run_pass(with_pending(f, pods), joulie::operator_mode::PassKind::replan);
    f.clock.advance(5min);
  }
  auto events = no_fit_events(f);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "Pod");
  CHECK(events[0].ns == "ml");
  CHECK(events[0].node == "huge");
  CHECK(events[0].uid == "uid-ml/huge");
  CHECK(events[0].message ==
        "fits no managed node even at performance, so no node is made performance for it: 0/2 "
        "nodes are available: 2 Insufficient cpu. It requests cpu 64, memory 1Gi; nodeSelector "
        "node.kubernetes.io/instance-type=small. Of the 2 node(s) matching its placement, the "
        "most free has cpu 32, memory 128Gi (allocatable minus the bound pods' requests).");
  // A pod no node's labels accept says so instead.
  f.reconciler->run_pass(with_pending(f, {pending("ml/typo", "smal", 1)}),
                         joulie::operator_mode::PassKind::replan);
  REQUIRE(no_fit_events(f).size() == 2);
  CHECK(no_fit_events(f)[1].message.ends_with(
      "nodeSelector node.kubernetes.io/instance-type=smal. No managed node matches its placement "
      "(labels, affinity, taints)."));
  f.events.clear();
  // Nothing was upgraded for it: both nodes eco at their default cap.
  CHECK(f.label("a1") == "eco");
  CHECK(f.label("a2") == "eco");
  // An interval later, still pending: told again, once.
  f.clock.advance(1h);
  f.reconciler->run_pass(with_pending(f, pods), joulie::operator_mode::PassKind::replan);
  f.reconciler->run_pass(with_pending(f, pods), joulie::operator_mode::PassKind::replan);
  CHECK(no_fit_events(f).size() == 1);
}

TEST_CASE("fit events: a dry run records no Event", "[fit]") {
  Fixture f;
  typed_node(f, "a1", "small");
  f.options.dry_run = true;
  context_aware(f);
  f.reconciler->run_pass(with_pending(f, {pending("ml/huge", "small", 64)}),
                         joulie::operator_mode::PassKind::replan);
  CHECK(f.events.empty());
}

TEST_CASE("fit events: many unschedulable pods are told a few per pass, memory bounded", "[fit]") {
  std::vector<policy::UnschedulablePod> pods;
  for (int i = 0; i < 50; ++i) {
    pods.push_back({fmt::format("ns/p{:02}", i), "0/1 nodes are available: 1 Insufficient cpu."});
  }
  UnschedulableNotifier n(UnschedulableEventOptions{1h, 20, 30});
  joulie::SteadyTime t{};
  CHECK(n.due(pods, t).size() == 20);  // the per-pass cap
  const auto second = n.due(pods, t + 1s);
  REQUIRE(second.size() == 10);  // then the memory bound: 30 pods remembered
  CHECK(second[0]->pod == "ns/p20");
  CHECK(n.due(pods, t + 2s).empty());
  CHECK(n.remembered() == 30);
  // An interval after the first ones: they expire, and the pods not yet told go first.
  const auto later = n.due(pods, t + 1h);
  REQUIRE(later.size() == 20);
  CHECK(later[0]->pod == "ns/p00");
  CHECK(n.remembered() == 20 + 10);
  // Pods that left (scheduled, deleted) are forgotten after one interval: memory returns to 0.
  CHECK(n.due({}, t + 3h).empty());
  CHECK(n.remembered() == 0);
}

TEST_CASE("fit events: the Events sent, held back by the rate limit and failed are counted",
          "[fit]") {
  Fixture f;
  typed_node(f, "a1", "small");
  context_aware(f);
  std::vector<policy::PendingPod> pods;
  for (int i = 0; i < 25; ++i) {
    pods.push_back(pending(fmt::format("ml/huge-{:02}", i), "small", 64));
  }
  auto count = [&](const char* result) {
    return f.metrics.unschedulable_events.with({result}).value();
  };
  CHECK(count("sent") == 0);  // the series exist before the first Event
  f.reconciler->run_pass(with_pending(f, pods), joulie::operator_mode::PassKind::replan);
  CHECK(no_fit_events(f).size() == 20);  // at most 20 per re-plan
  CHECK(count("sent") == 20);
  CHECK(count("held") == 5);
  // The next re-plan tells the five held back; the twenty already told are not owed another.
  f.clock.advance(1min);
  f.reconciler->run_pass(with_pending(f, pods), joulie::operator_mode::PassKind::replan);
  CHECK(no_fit_events(f).size() == 25);
  CHECK(count("sent") == 25);
  CHECK(count("held") == 5);
  CHECK(count("failed") == 0);
  // A recorder that refuses the Event: counted as failed, and the pass still completes.
  f.reconciler = std::make_unique<joulie::operator_mode::Reconciler>(
      f.options, *f.actuation, &f.metrics,
      [](const joulie::kube::NodeRef&, joulie::kube::EventType, std::string, std::string) {
        throw std::runtime_error("event queue refused");
      },
      f.clock);
  const auto r =
      f.reconciler->run_pass(with_pending(f, {pods[0]}), joulie::operator_mode::PassKind::replan);
  CHECK(r.managed == 1);
  CHECK(count("failed") == 1);
  CHECK(count("sent") == 25);
}

TEST_CASE("fit events: quantities read as a user writes them") {
  CHECK(format_cpu(64000) == "64");
  CHECK(format_cpu(500) == "500m");
  CHECK(format_memory(kGi) == "1Gi");
  CHECK(format_memory(1536LL << 20) == "1536Mi");
  CHECK(format_memory(1000000123) == "1000000123");
  CHECK(format_memory(0) == "0");
}

TEST_CASE("hardware classes: pins and the pause switch keep the class's caps", "[fit]") {
  Fixture f;
  typed_node(f, "big-1", "big", "performance");
  typed_node(f, "big-2", "big", "eco");
  typed_node(f, "big-3", "big");
  typed_node(f, "small-1", "small", "performance");
  typed_node(f, "small-2", "small");
  context_aware(f);
  auto caps = [&] {
    std::map<std::string, std::pair<std::string, double>> out;
    for (const char* n : {"big-1", "big-2", "big-3", "small-1", "small-2"}) {
      auto p = f.profile(n);
      REQUIRE(p);
      out[n] = {p->profile, p->cap_watts.value_or(-1)};
    }
    return out;
  };
  f.pass();
  using P = std::pair<std::string, double>;
  // No demand: the policy wants every node eco; the pins decide big-1 and small-1. Pinned
  // performance is the class's performance cap, pinned eco its eco cap; outside the class the
  // defaults.
  CHECK(caps() == std::map<std::string, P>{{"big-1", {"performance", 400}},
                                           {"big-2", {"eco", 200}},
                                           {"big-3", {"eco", 200}},
                                           {"small-1", {"performance", 500}},
                                           {"small-2", {"eco", 150}}});
  // Paused: every node performance at its class's performance cap (pins not applied).
  Snapshot s = f.snapshot();
  s.control.paused = true;
  f.reconciler->run_pass(s, joulie::operator_mode::PassKind::replan);
  CHECK(caps() == std::map<std::string, P>{{"big-1", {"performance", 400}},
                                           {"big-2", {"performance", 400}},
                                           {"big-3", {"performance", 400}},
                                           {"small-1", {"performance", 500}},
                                           {"small-2", {"performance", 500}}});
}

// A benchmark, not a test (hidden: run with `build/test/unit_operator "[.bench]"`): the whole
// reconcile pass with fit-aware supply at the scale of docs/benchmarks.md — 5 000 nodes of three
// types (one tainted, three hardware classes), 150 000 bound pods counted per node as the
// ContextProvider counts them, 2 000 pending performance pods of 20 requirements (10 of them too
// big for any node). Timed: the per-pass Context (pod sums copied, per-node context, the pending
// list) and the pass (plan with the packing, guard) — thread CPU time, since the machine is shared.
TEST_CASE("bench: fit-aware pass at 5000 nodes, 150 000 pods, 2 000 pending", "[.bench]") {
  Fixture f;
  const char* types[] = {"A", "B", "C"};
  const int cores[] = {32, 64, 96};
  for (int i = 0; i < 5000; ++i) {
    const int t = i % 3;
    const std::string taint =
        t == 2 ? R"("taints":[{"key":"pool","value":"c","effect":"NoSchedule"}])" : "";
    f.api.put(kNodes,
              fmt::format(R"({{"apiVersion":"v1","kind":"Node","metadata":{{"name":"node-{:05}",)"
                          R"("uid":"u{}","labels":{{"joulie.io/managed":"true","{}":"{}"}}}},)"
                          R"("spec":{{{}}},"status":{{"allocatable":{{"cpu":"{}",)"
                          R"("memory":"256Gi","pods":"110"}}}}}})",
                          i, i, kType, types[t], taint, cores[t]));
  }
  context_aware(f);
  policy::PolicyConfig& c = f.options.policy;
  c.hardware_classes.clear();
  for (const char* t : types) {
    policy::HardwareClass cls;
    cls.name = std::string("type-") + t;
    cls.selector = *policy::parse_selector(kType + "=" + t);
    cls.selector_text = kType + "=" + t;
    cls.performance_cap = policy::CapValue{1.0, true};
    cls.eco_cap = policy::CapValue{0.5, true};
    c.hardware_classes.push_back(cls);
  }
  f.options.explain = false;  // as in the long-running loop
  f.restart();
  // 150 000 bound pods, 30 per node, 0.5–1 CPU and 1–4 GiB each.
  joulie::kube::StringInterner strings;
  joulie::operator_mode::PodCounts counts;
  for (int p = 0; p < 150000; ++p) {
    joulie::operator_mode::PodInfo info;
    info.node = strings.intern(fmt::format("node-{:05}", p % 5000));
    info.pod_class = p % 50 == 0 ? policy::PodClass::performance_only : policy::PodClass::general;
    info.counted = true;
    info.cpu_milli = 500 + static_cast<std::uint64_t>(p % 6) * 100;
    info.memory_mib = 1024 + static_cast<std::uint64_t>(p % 4) * 1024;
    counts.add(info);
  }
  std::vector<policy::PendingPod> pods;
  std::vector<std::shared_ptr<policy::PodRequirement>> reqs;
  for (int g = 0; g < 20; ++g) {
    auto r = std::make_shared<policy::PodRequirement>();
    // 20 groups (the packing groups by interned requirement; the cost follows groups).
    r->node_selector = {{kType, types[g % 3]}, {"joulie.io/power-profile", "performance"}};
    if (g % 3 == 2) {
      r->tolerations = {{"pool", false, "c", policy::TaintEffect::no_schedule}};
    }
    reqs.push_back(r);
  }
  for (int p = 0; p < 2000; ++p) {
    const std::int64_t cpus = p < 10 ? 500 : 1 + p % 8;
    pods.push_back({fmt::format("ml/job-{:04}", p),
                    reqs[static_cast<std::size_t>(p % 20)],
                    {cpus * 1000, 4 * kGi, 1},
                    "u"});
  }
  auto snapshot = [&] {
    Snapshot s = f.snapshot();
    fill_policy_context(s, counts.by_class());
    s.context.workloads.pending_perf = pods;
    return s;
  };
  f.reconciler->run_pass(snapshot(), joulie::operator_mode::PassKind::replan);  // converge
  f.clock.advance(1min);
  f.reconciler->run_pass(snapshot(), joulie::operator_mode::PassKind::replan);
  // Page faults are sys time inside the thread's CPU time: a pass that maps fresh memory pays
  // for it on every pass.
  auto minor_faults = [] {
    rusage u{};
    getrusage(RUSAGE_THREAD, &u);
    return u.ru_minflt;
  };
  auto cpu_ms = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
  };
  std::vector<double> ms;
  std::int64_t performance = 0;
  std::size_t unschedulable = 0;
  for (int i = 0; i < 10; ++i) {
    f.clock.advance(1min);
    Snapshot s = f.snapshot();        // the informer caches' node and profile maps, not the pass's
    CALLGRIND_START_INSTRUMENTATION;  // valgrind --tool=callgrind --instr-atstart=no: the passes
    const long faults = minor_faults();
    const double start = cpu_ms();
    const auto classes = counts.by_class();
    const double t1 = cpu_ms();
    fill_policy_context(s, classes);
    s.context.workloads.pending_perf = pods;
    const double t2 = cpu_ms();
    auto r = f.reconciler->run_pass(s, joulie::operator_mode::PassKind::replan);
    ms.push_back(cpu_ms() - start);
    CALLGRIND_STOP_INSTRUMENTATION;
    fmt::print("  pod sums {:.2f} ms, per-node context {:.2f} ms, pass {:.2f} ms, {} page faults\n",
               t1 - start, t2 - t1, cpu_ms() - t2, minor_faults() - faults);
    CHECK(r.write_requests == 0);
    performance = r.performance;
  }
  unschedulable = static_cast<std::size_t>(f.metrics.unschedulable_perf_pods.with({}).value());
  std::sort(ms.begin(), ms.end());
  fmt::print(
      "fit-aware pass, 5000 nodes, 150000 bound pods, 2000 pending (20 requirements): min "
      "{:.2f} ms, median {:.2f} ms, max {:.2f} ms CPU (10 passes); {} performance, {} "
      "unschedulable\n",
      ms.front(), ms[ms.size() / 2], ms.back(), performance, unschedulable);
  CHECK(unschedulable == 10);
}
