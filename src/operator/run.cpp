// `joulie operator`: wires the ContextProvider (informers), the Reconciler (policy + guard), the
// ActuationAdapter (writes), the Controller (triggers), leader election, events, metrics and
// signals together.
#include "joulie/operator/run.hpp"

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <thread>

#include "joulie/common/http_endpoint.hpp"
#include "joulie/common/log.hpp"
#include "joulie/common/signal_watcher.hpp"
#include "joulie/common/strings.hpp"
#include "joulie/common/metrics.hpp"
#include "joulie/config/cli.hpp"
#include "joulie/kube/client.hpp"
#include "joulie/kube/config.hpp"
#include "joulie/kube/events.hpp"
#include "joulie/kube/leader.hpp"
#include "joulie/operator/actuation.hpp"
#include "joulie/operator/context.hpp"
#include "joulie/operator/controller.hpp"
#include "joulie/operator/metrics.hpp"
#include "joulie/operator/pass_report.hpp"
#include "joulie/operator/reconciler.hpp"
#include "joulie/policy/policies.hpp"
#include "joulie/policy/policy_file.hpp"
#include "joulie/policy/selector.hpp"

namespace joulie::operator_mode {

namespace {

constexpr auto kSyncTimeout = std::chrono::seconds(60);
constexpr auto kLeaderWaitOnce = std::chrono::seconds(60);
constexpr auto kEventFlushTimeout = std::chrono::seconds(5);

policy::PolicyKind policy_kind(config::PolicyType type) {
  switch (type) {
    case config::PolicyType::static_partition:
      return policy::PolicyKind::static_partition;
    case config::PolicyType::queue_aware_v1:
      return policy::PolicyKind::queue_aware_v1;
    case config::PolicyType::rule_swap_v1:
      return policy::PolicyKind::rule_swap_v1;
    case config::PolicyType::context_aware_v1:
      return policy::PolicyKind::context_aware_v1;
  }
  return policy::PolicyKind::static_partition;
}

policy::PolicyConfig policy_config(const config::OperatorConfig& c) {
  policy::PolicyConfig p;
  p.kind = policy_kind(c.policy);
  p.static_hp_frac = c.static_hp_frac;
  p.queue_hp_base_frac = c.queue_hp_base_frac;
  p.queue_hp_min = c.queue_hp_min;
  p.queue_hp_max = c.queue_hp_max;
  p.queue_perf_per_hp_node = c.queue_perf_per_hp_node;
  p.interval = c.interval;
  p.performance_cap_watts = c.performance_cap_watts;
  p.eco_cap_watts = c.eco_cap_watts;
  if (c.policy_file) {
    p = policy::apply_file(std::move(p), c.policy_file->file);
  }
  return p;
}

}  // namespace

int run_operator(const config::OperatorConfig& config) {
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
  const std::string default_namespace = cluster->default_namespace;
  auto client = kube::Client::create(std::move(*cluster), client_options);
  if (!client.ok()) {
    log::error("operator", "cannot create the Kubernetes client", {{"error", client.error()}});
    return config::kExitRuntimeError;
  }
  kube::Api& api = **client;
  log::info("operator", "starting",
            {{"policy", policy::config_name(policy.kind)},
             {"interval", format_duration(config.interval)},
             {"node_selector", selector->to_string()},
             {"dry_run", config.dry_run},
             {"once", config.once},
             {"leader_elect", config.leader_elect},
             {"server", (*client)->config().source}});

  // ---- caches -----------------------------------------------------------------------------------
  ContextOptions context_options;
  context_options.nodes = {*selector, config.reserved_label, config.profile_label};
  context_options.metrics = &registry;
  context_options.page_size = config.global.kube_list_page_size;
  ContextProvider context(api, context_options);

  std::unique_ptr<kube::LeaderElector> elector;
  context.on_managed_set_changed([&] {
    if (Controller* c = controller.load()) {
      c->request_replan();
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
    endpoint = std::make_unique<HttpEndpoint>(config.global.metrics_addr, registry, [&context] {
      if (context.synced()) {
        return Readiness{true, ""};
      }
      return Readiness{false, "caches not synced: " + context.sync_status()};
    });
    if (Status s = endpoint->start(); !s.ok()) {
      log::error("operator", "cannot serve metrics", {{"error", s.error()}});
      return config::kExitRuntimeError;
    }
    log::info("operator", "serving /metrics, /healthz, /readyz",
              {{"addr", config.global.metrics_addr}, {"port", endpoint->port()}});
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

  // ---- writers ----------------------------------------------------------------------------------
  std::unique_ptr<kube::EventRecorder> recorder;
  if (!config.dry_run) {
    kube::EventRecorderOptions event_options;
    event_options.component = "joulie-operator";
    recorder = std::make_unique<kube::EventRecorder>(api, event_options);
    recorder->start();
  }
  auto may_write = [&] {
    return !stopping.load() && !lost_leadership.load() && (!elector || elector->is_leader());
  };
  ActuationAdapter actuation(api, config.profile_label, may_write);
  ReconcilerOptions reconciler_options;
  reconciler_options.policy = policy;
  reconciler_options.drain_timeout = config.drain_timeout;
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
  std::mutex pass_mutex;  // passes run on the controller thread; --once runs one inline

  auto shutdown = [&] {
    if (elector) {
      elector->stop();
    }
    if (recorder) {
      recorder->flush(kEventFlushTimeout);
      recorder->stop();
    }
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
    std::string text = config.output == config::OutputFormat::json ? format_pass_json(result) + "\n"
                                                                   : format_pass_text(result);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
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
        reconciler.run_pass(context.snapshot(std::chrono::system_clock::now()), kind);
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
