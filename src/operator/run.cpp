// `joulie operator`: wires the ContextProvider (informers), the Reconciler (policy + guard), the
// ActuationAdapter (writes), the Controller (triggers), leader election, events, metrics and
// signals together.
#include "joulie/operator/run.hpp"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <set>
#include <memory>
#include <string>
#include <thread>

#include "joulie/api/names.hpp"
#include "joulie/common/http_endpoint.hpp"
#include "joulie/common/log.hpp"
#include "joulie/common/metrics.hpp"
#include "joulie/common/process_setup.hpp"
#include "joulie/common/signal_watcher.hpp"
#include "joulie/common/strings.hpp"
#include "joulie/config/cli.hpp"
#include "joulie/kube/client.hpp"
#include "joulie/kube/config.hpp"
#include "joulie/kube/events.hpp"
#include "joulie/kube/leader.hpp"
#include "joulie/kube/liveness.hpp"
#include "joulie/operator/actuation.hpp"
#include "joulie/operator/context.hpp"
#include "joulie/operator/control.hpp"
#include "joulie/operator/controller.hpp"
#include "joulie/operator/metrics.hpp"
#include "joulie/operator/pass_report.hpp"
#include "joulie/operator/policy_reload.hpp"
#include "joulie/operator/reconciler.hpp"
#include "joulie/operator/signal_sources.hpp"
#include "joulie/policy/policies.hpp"
#include "joulie/policy/policy_file.hpp"
#include "joulie/policy/selector.hpp"

namespace joulie::operator_mode {

namespace {

constexpr auto kSyncTimeout = std::chrono::seconds(60);
constexpr auto kLeaderWaitOnce = std::chrono::seconds(60);
constexpr auto kEventFlushTimeout = std::chrono::seconds(5);
constexpr auto kFirstSignalsWait = std::chrono::seconds(15);

// The flags' settings with the policy file's keys applied over them.
policy::PolicyConfig policy_config(const config::OperatorConfig& c) {
  policy::PolicyConfig p = c.policy;
  if (c.policy_file) {
    p = policy::apply_file(std::move(p), c.policy_file->file);
  }
  return p;
}

}  // namespace

int run_operator(const config::OperatorConfig& config, const RunHooks& hooks) {
  // ---- configuration that only this area can check --------------------------------------------
  auto selector = policy::parse_selector(config.node_selector);
  if (!selector.ok()) {
    std::fprintf(stderr, "joulie: --node-selector/NODE_SELECTOR %s: %s\n",
                 config.node_selector.c_str(), selector.error().message.c_str());
    return config::kExitUsage;
  }
  const policy::PolicyConfig policy = policy_config(config);
  if (Status s = policy::validate(policy); !s.ok()) {
    std::fprintf(stderr, "joulie: %s\n", s.error().message.c_str());
    return config::kExitUsage;
  }

  // Declared before everything that threads may still touch while this function unwinds.
  std::atomic<bool> stopping{false};
  std::atomic<bool> lost_leadership{false};
  std::atomic<Controller*> controller{nullptr};  // set once the controller exists
  SignalWatcher signals;  // before any thread exists, so every thread inherits the mask
  // A peer closing a connection must be an error value on that request, not a process kill.
  std::signal(SIGPIPE, SIG_IGN);

  metrics::Registry& registry = metrics::default_registry();
  registry.add_process_metrics();
  OperatorMetrics operator_metrics(registry);

  // ---- Kubernetes client ------------------------------------------------------------------------
  auto cluster = kube::load_config(kube::ConfigSources::from_environment(
      join(config.global.kubeconfig, ':'), config.global.context));
  if (!cluster.ok()) {
    log::error("operator", "cannot load the Kubernetes configuration",
               {{"error", cluster.error()}});
    return config::kExitRuntimeError;
  }
  kube::ClientOptions client_options;
  client_options.qps = config.global.kube_qps;
  client_options.burst = config.global.kube_burst;
  client_options.metrics = &registry;
  // One kept-alive connection per concurrent node writer, plus the informers' lists and the
  // pass's re-reads: fewer would close and reopen (TLS handshake) connections on every write.
  client_options.max_idle_connections = std::max<std::size_t>(
      client_options.max_idle_connections,
      static_cast<std::size_t>(config.max_concurrent_writes) + 2);
  const std::string default_namespace = cluster->default_namespace;
  // Events go through a client of their own (its own token bucket of the same size, as
  // client-go's event broadcaster has): recording the transitions of a large pass must not
  // take rate-limit tokens from the node writes (docs/design.md#upgrades-first, docs/decisions.md).
  kube::ClientOptions event_client_options = client_options;
  event_client_options.max_idle_connections = 1;
  auto event_client = kube::Client::create(*cluster, event_client_options);
  if (!event_client.ok()) {
    log::error("operator", "cannot create the Kubernetes client", {{"error", event_client.error()}});
    return config::kExitRuntimeError;
  }
  auto client = kube::Client::create(std::move(*cluster), client_options);
  if (!client.ok()) {
    log::error("operator", "cannot create the Kubernetes client", {{"error", client.error()}});
    return config::kExitRuntimeError;
  }
  kube::Api& api = **client;
  auto probe_client = kube::make_probe_client((*client)->config(), std::chrono::seconds(5));
  if (!probe_client.ok()) {
    log::error("operator", "cannot create the Kubernetes client",
               {{"error", probe_client.error()}});
    return config::kExitRuntimeError;
  }
  kube::LivenessOptions liveness_options;
  liveness_options.resource = kube::resources::nodes;
  liveness_options.component = "operator";
  liveness_options.metrics = &registry;
  kube::ApiLiveness liveness(**probe_client, liveness_options);
  log::info("operator", "starting",
            {{"policy", policy::config_name(policy.kind)},
             {"policy_config", config.policy_config.empty() ? std::string("none")
                                                            : config.policy_config},
             {"time_zone", config.policy_file ? config.policy_file->zone.name() : "UTC"},
             {"interval", format_duration(config.interval)},
             {"node_selector", selector->to_string()},
             {"dry_run", config.dry_run},
             {"once", config.once},
             {"leader_elect", config.leader_elect},
             {"server", (*client)->config().source}});

  // ---- caches -----------------------------------------------------------------------------------
  ContextOptions context_options;
  context_options.nodes = {*selector, config.reserved_label, config.profile_label};
  // The node labels the policy file's topology block names are read when a Node is decoded:
  // a reload that changes them takes effect after a restart (logged then).
  if (config.policy_file && config.policy_file->file.topology) {
    context_options.nodes.zone_label = config.policy_file->file.topology->zone_label;
    if (!config.policy_file->file.topology->rack_label.empty()) {
      context_options.nodes.rack_label = config.policy_file->file.topology->rack_label;
    }
  }
  context_options.metrics = &registry;
  context_options.page_size = config.global.kube_list_page_size;
  // The pause switch lives beside the Lease, in the operator's namespace (kubectl joulie pause).
  const std::string operator_ns = config.leader_election_namespace.empty()
                                      ? default_namespace
                                      : config.leader_election_namespace;
  if (control_readable(api, operator_ns)) {
    context_options.control_namespace = operator_ns;
  }
  ContextProvider context(api, context_options);

  // ---- signal sources (the policy file's signals; queried off the reconcile path) --------------
  SignalSourcesOptions sources_options;
  if (config.policy_file) {
    sources_options.signals = config.policy_file->file.signals;
  }
  sources_options.metrics = &registry;
  sources_options.interval = config.context_interval;
  sources_options.demand = [&context] {
    return static_cast<double>(context.pod_counts().cluster());
  };
  sources_options.record_events = !config.dry_run;
  const PodIdentity self = pod_identity_from_environment(default_namespace);
  sources_options.pod_name = self.name;
  sources_options.pod_namespace = self.ns;
  SignalSources sources(api, sources_options);
  context.set_signals(&sources.collector());

  std::unique_ptr<kube::LeaderElector> elector;
  context.on_managed_set_changed([&] {
    if (Controller* c = controller.load()) {
      c->request_replan();
    }
  });
  std::atomic<const Reconciler*> reconciler_ptr{nullptr};  // set once the reconciler exists
  context.on_profile_applied([&](const std::string&) {
    const Reconciler* r = reconciler_ptr.load();
    Controller* c = controller.load();
    if (r != nullptr && c != nullptr && r->awaiting_agent()) {
      c->request_reguard();
    }
  });
  // A pause, a resume or a pin re-plans at once (not at the next tick).
  context.on_overrides_changed([&] {
    if (Controller* c = controller.load()) {
      c->request_replan();
    }
  });
  // A deleted or edited profile is put back by a guard pass now, not at the next tick; the pass
  // first drops the expectation of our own earlier write that would hide the change.
  std::mutex changed_profiles_mutex;
  std::set<std::string> changed_profiles;
  context.on_profile_changed([&](const std::string& name) {
    {
      std::lock_guard lock(changed_profiles_mutex);
      changed_profiles.insert(name);
    }
    if (Controller* c = controller.load()) {
      c->request_reguard();
    }
  });
  context.on_drain_complete([&](const std::string& node) {
    log::debug("operator", "last performance-sensitive pod left a draining node", {{"node", node}});
    if (Controller* c = controller.load()) {
      c->request_reguard();
    }
  });

  // ---- probes and metrics (a one-shot run serves none) ------------------------------------------
  std::unique_ptr<HttpEndpoint> endpoint;
  if (!config.once) {
    endpoint =
        serve_probes("operator", config.global.metrics_addr, registry,
                     ready_unless_stale(liveness, ready_when_synced(context)));
    if (!endpoint) {
      return config::kExitRuntimeError;
    }
    liveness.start();
  }

  signals.start([&](int sig) {
    log::info("operator", "signal received; stopping",
              {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    stopping = true;
    if (Controller* c = controller.load()) {
      c->stop();
    }
  });

  context.start();
  const auto sync_deadline = std::chrono::steady_clock::now() + kSyncTimeout;
  while (!context.wait_synced(std::chrono::milliseconds(100))) {
    if (stopping) {
      context.stop();
      return config::kExitOk;
    }
    if (std::chrono::steady_clock::now() >= sync_deadline) {
      log::error("operator",
                 "caches did not sync in time; is the API server reachable and are "
                 "the CRDs installed?",
                 {{"timeout", format_duration(kSyncTimeout)}, {"synced", context.sync_status()}});
      context.stop();
      return config::kExitRuntimeError;
    }
  }
  log::info("operator", "caches synced");
  sources.start(config.once);

  // ---- writers ----------------------------------------------------------------------------------
  std::unique_ptr<kube::EventRecorder> recorder;
  if (!config.dry_run) {
    kube::EventRecorderOptions event_options;
    event_options.component = "joulie-operator";
    recorder = std::make_unique<kube::EventRecorder>(**event_client, event_options);
    recorder->start();
  }
  auto may_write = [&] {
    return !stopping.load() && !lost_leadership.load() && (!elector || elector->is_leader());
  };
  ActuationAdapter actuation(api, config.profile_label, may_write);
  ReconcilerOptions reconciler_options;
  reconciler_options.policy = policy;
  if (config.policy_file) {
    reconciler_options.time_zone = config.policy_file->zone;
    reconciler_options.signals = config.policy_file->file.signals;
  }
  reconciler_options.drain_timeout = config.drain_timeout;
  reconciler_options.max_concurrent_writes = static_cast<int>(config.max_concurrent_writes);
  // A demand step noticed by a tick (or a managed-set change) while a long run of downgrades is
  // being written stops that run: the next pass starts at once with its upgrades.
  reconciler_options.yield_downgrades = [&controller] {
    const Controller* c = controller.load();
    return c != nullptr && c->replan_pending();
  };
  reconciler_options.live_perf_pods = [&context](const std::string& node) {
    return context.pods_known() ? std::optional<std::int64_t>(context.pod_counts().on_node(node))
                                : std::nullopt;
  };
  // Two-phase downgrades and upgrades span passes; a one-shot run that writes makes both phases
  // at once. A dry run keeps them: it reports the pass the running operator would make, from the
  // per-node memory in the API (kubectl joulie plan and explain rehearse exactly that).
  if (!config.once || config.dry_run) {
    reconciler_options.downgrade_settle =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.downgrade_settle);
    reconciler_options.upgrade_apply_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.upgrade_apply_timeout);
  }
  reconciler_options.explain = config.once;  // only --once prints them
  reconciler_options.dry_run = config.dry_run;
  EventSink events;
  if (recorder) {
    events = [&recorder](const kube::NodeRef& node, kube::EventType type, std::string reason,
                         std::string message) {
      recorder->record(node, type, std::move(reason), std::move(message));
    };
  }
  Reconciler reconciler(reconciler_options, actuation, &operator_metrics, events,
                        RealClock::instance());
  PauseReporter pause_reporter(registry, operator_ns, events);
  LeaseAnnotations published;  // written on the Lease by the elector (kubectl joulie status)
  const PublishedStatus published_extra{!context_options.control_namespace.empty(), operator_ns};
  if (!hooks.invocation.empty()) {
    published.set(std::string(api::kConfigAnnotation), hooks.invocation);
  }
  published.set(std::string(api::kPolicyFileAnnotation),
                config.policy_file ? config.policy_file->content : std::string());
  reconciler_ptr = &reconciler;
  std::mutex pass_mutex;  // passes run on the controller thread; --once runs one inline

  // ---- policy file hot reload (docs/design.md#policy-file) --------------------------------------
  // Events about the file go to the operator's own Pod (POD_NAME in POD_NAMESPACE, from the
  // downward API); without them (a local run) the log line and the metric remain.
  kube::NodeRef self_pod;
  if (!self.name.empty()) {
    self_pod.name = self.name;
    self_pod.kind = "Pod";
    self_pod.ns = self.ns;
  }
  auto pod_event = [&](kube::EventType type, std::string reason, std::string message) {
    if (recorder && !self_pod.name.empty()) {
      recorder->record(self_pod, type, std::move(reason), std::move(message));
    }
  };
  std::unique_ptr<PolicyFileWatcher> watcher;
  if (!config.once && !config.policy_config.empty()) {
    const policy::PolicyConfig flags_only = config.policy;
    watcher = std::make_unique<PolicyFileWatcher>(
        config.policy_config, config.zoneinfo_root,
        config.policy_file ? config.policy_file->content : std::string(),
        [&, flags_only](const config::LoadedPolicyFile& file) -> Status {
          policy::PolicyConfig next = policy::apply_file(flags_only, file.file);
          if (Status s = policy::validate(next); !s.ok()) {
            return s;
          }
          {
            std::lock_guard lock(pass_mutex);
            reconciler.set_policy(next, file.zone, file.file.signals);
          }
          sources.reconfigure(file.file.signals);
          const std::string zone_label =
              file.file.topology ? file.file.topology->zone_label : "topology.kubernetes.io/zone";
          if (zone_label != context_options.nodes.zone_label) {
            log::warn("operator",
                      "topology.zoneLabel changed: the zone label is read when nodes are "
                      "decoded; restart the operator for it to take effect",
                      {{"in_use", context_options.nodes.zone_label}, {"file", zone_label}});
          }
          published.set(std::string(api::kPolicyFileAnnotation), file.content);
          operator_metrics.config_reloads.with({}).inc();
          log::info("operator", "policy file reloaded",
                    {{"file", config.policy_config},
                     {"policy", policy::config_name(next.kind)},
                     {"time_zone", file.zone.name()},
                     {"windows", static_cast<std::int64_t>(next.windows.size())}});
          pod_event(kube::EventType::normal, "PolicyConfigReloaded",
                    fmt::format("policy file {} reloaded: policy {}", config.policy_config,
                                policy::config_name(next.kind)));
          if (Controller* c = controller.load()) {
            c->request_replan();
          }
          return Status::success();
        },
        [&](const std::string& message) {
          operator_metrics.config_reload_failures.with({}).inc();
          log::error("operator", "policy file change refused; the last good version stays",
                     {{"file", config.policy_config}, {"error", message}});
          pod_event(kube::EventType::warning, "PolicyConfigRejected",
                    "policy file change refused; the last good version stays: " + message);
        });
  }

  auto shutdown = [&] {
    liveness.stop();
    if (watcher) {
      watcher->stop();
    }
    if (elector) {
      elector->stop();
    }
    if (recorder) {
      recorder->flush(kEventFlushTimeout);
      recorder->stop();
    }
    sources.stop();
    context.stop();
    if (endpoint) {
      endpoint->stop();
    }
  };

  // ---- leader election --------------------------------------------------------------------------
  reconciler.set_leader(!config.leader_elect);
  if (config.leader_elect) {
    kube::LeaderElectionOptions le;
    le.ns = config.leader_election_namespace.empty() ? default_namespace
                                                     : config.leader_election_namespace;
    le.name = config.leader_election_id;
    le.lease_duration = std::chrono::duration_cast<std::chrono::milliseconds>(config.lease_duration);
    le.renew_deadline = std::chrono::duration_cast<std::chrono::milliseconds>(config.renew_deadline);
    le.retry_period = std::chrono::duration_cast<std::chrono::milliseconds>(config.retry_period);
    le.annotations = [&published] { return published.get(); };
    kube::LeaderCallbacks callbacks;
    callbacks.started_leading = [&] {
      log::info("operator", "became the leader; starting to reconcile",
                {{"identity", elector ? elector->identity() : std::string()}});
      reconciler.set_leader(true);
      if (Controller* c = controller.load()) {
        c->notify();
      }
    };
    callbacks.stopped_leading = [&] {
      reconciler.set_leader(false);
      if (stopping) {
        return;  // our own clean stop released the lease
      }
      log::error("operator", "lost leadership; stopped writing and exiting to restart clean");
      lost_leadership = true;
      if (Controller* c = controller.load()) {
        c->stop();
      }
    };
    callbacks.new_leader = [](const std::string& holder) {
      log::info("operator", "leader observed", {{"holder", holder.empty() ? "<none>" : holder}});
    };
    elector = std::make_unique<kube::LeaderElector>(api, le, callbacks);
    log::info("operator", "leader election enabled",
              {{"lease", le.ns + "/" + le.name}, {"identity", elector->identity()}});
  }

  // ---- one pass ---------------------------------------------------------------------------------
  if (config.once) {
    if (elector) {
      elector->start();
      const auto deadline = std::chrono::steady_clock::now() + kLeaderWaitOnce;
      while (!elector->is_leader()) {
        if (stopping || std::chrono::steady_clock::now() >= deadline) {
          log::error("operator", "--once: did not become the leader",
                     {{"holder", elector->leader()}});
          shutdown();
          return stopping ? config::kExitOk : config::kExitRuntimeError;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a condition
      }
    }
    PassResult result =
        reconciler.run_pass(context.snapshot(std::chrono::system_clock::now()), PassKind::replan);
    if (hooks.once_result) {
      hooks.once_result(result);
    } else {
      std::string text = config.output == config::OutputFormat::json
                             ? format_pass_json(result) + "\n"
                             : format_pass_text(result);
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    }
    shutdown();
    return result.failed_nodes == 0 ? config::kExitOk : config::kExitRuntimeError;
  }

  // ---- the loop ---------------------------------------------------------------------------------
  ControllerOptions controller_options;
  controller_options.interval = config.interval;
  Controller loop(
      controller_options,
      [&](PassKind kind) {
        std::lock_guard lock(pass_mutex);
        {
          std::lock_guard changed_lock(changed_profiles_mutex);
          for (const std::string& name : changed_profiles) {
            reconciler.forget_profile_expectation(name);
          }
          changed_profiles.clear();
        }
        const SystemTime now = std::chrono::system_clock::now();
        Snapshot snapshot = context.snapshot(now);
        // A silent API server: the pod cache may be stale, so pod data counts as unavailable
        // (nothing is downgraded on it), as when the pod watch is broken.
        snapshot.pods_known = snapshot.pods_known && !liveness.stale();
        pause_reporter.observe(snapshot);
        const PassResult result = reconciler.run_pass(snapshot, kind);
        published.set(std::string(api::kStatusAnnotation),
                      status_json(result, snapshot, published_extra, now));
        // A time window that starts or ends before the next tick: re-plan at its boundary.
        if (auto change = policy::next_window_change(reconciler.policy().windows,
                                                     reconciler.time_zone(), now,
                                                     config.interval)) {
          if (Controller* c = controller.load()) {
            c->request_replan_at(std::chrono::steady_clock::now() +
                                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     *change - now) +
                                 std::chrono::milliseconds(200));
          }
        }
        return reconciler.next_retry();
      },
      [&] { return !elector || elector->is_leader(); });
  controller = &loop;
  if (stopping) {  // a signal that arrived before the controller existed
    shutdown();
    return config::kExitOk;
  }
  if (elector) {
    elector->start();
  }
  if (watcher) {
    watcher->start(config.policy_config_poll);
  }
  // The first plan waits (bounded) for the collector's first round: planning an unlabelled
  // cluster before any signal arrived would move nodes by name and then again by signal.
  if (config.policy_file && config.policy_file->file.signals.any()) {
    const auto deadline = std::chrono::steady_clock::now() + kFirstSignalsWait;
    while (sources.collector().rounds() == 0 && !stopping &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition
    }
    log::info("operator", sources.collector().rounds() > 0
                              ? "first signal round done; planning"
                              : "no signal round within the wait; planning without signals",
              {{"waited_max", format_duration(kFirstSignalsWait)}});
  }
  loop.run();

  const bool lost = lost_leadership.load();
  shutdown();
  controller = nullptr;
  if (lost) {
    return config::kExitRuntimeError;
  }
  log::info("operator", "stopped");
  return config::kExitOk;
}

}  // namespace joulie::operator_mode
