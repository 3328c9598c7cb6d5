// `joulie operator`: wires the ContextProvider (informers), the Reconciler (policy + guard), the
// ActuationAdapter (writes), the Controller (triggers), leader election, events, metrics and
// signals together.
#include "joulie/operator/run.hpp"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
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
#include "joulie/config/sync_exit.hpp"
#include "joulie/kube/client.hpp"
#include "joulie/kube/connect.hpp"
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

// One `joulie operator` process: its parts as members, declared in the order they are built, so
// that they are destroyed in reverse (what a thread may still touch outlives that thread). Each
// step of run() is one method; they read top-down.
class OperatorProcess {
 public:
  OperatorProcess(const config::OperatorConfig& config, const RunHooks& hooks,
                  policy::PolicyConfig policy, policy::Selector selector)
      : config_(config),
        hooks_(hooks),
        policy_(std::move(policy)),
        selector_(std::move(selector)),
        registry_(process_registry()),
        operator_metrics_(registry_) {
    // A peer closing a connection must be an error value on that request, not a process kill.
    std::signal(SIGPIPE, SIG_IGN);
  }

  int run() {
    if (!connect()) {
      return config::kExitRuntimeError;
    }
    log_start();
    build_caches();
    build_signal_sources();
    wire_cache_triggers();
    if (!start_probes()) {
      return config::kExitRuntimeError;
    }
    watch_signals();
    if (std::optional<int> exit = sync_caches()) {
      return *exit;
    }
    sources_->start(config_.once);
    build_writers();
    build_policy_watcher();
    build_elector();
    return config_.once ? run_once() : run_loop();
  }

 private:
  // ---- Kubernetes clients -----------------------------------------------------------------------
  bool connect() {
    kube::ConnectOptions options = kube::connect_options("operator", config_.global, registry_);
    // One kept-alive connection per concurrent node writer, plus the informers' lists and the
    // pass's re-reads: fewer would close and reopen (TLS handshake) connections on every write.
    options.client.max_idle_connections =
        std::max<std::size_t>(options.client.max_idle_connections,
                              static_cast<std::size_t>(config_.max_concurrent_writes) + 2);
    options.liveness_resource = kube::resources::nodes;
    auto connection = kube::connect(options);
    if (!connection) {
      return false;
    }
    connection_ = std::move(*connection);
    // Events go through a client of their own (its own token bucket of the same size, as
    // client-go's event broadcaster has): recording the transitions of a large pass must not
    // take rate-limit tokens from the node writes (docs/design.md#upgrades-first,
    // docs/decisions.md).
    kube::ClientOptions event_client_options = options.client;
    event_client_options.max_idle_connections = 1;
    auto event_client = kube::Client::create(connection_.client->config(), event_client_options);
    if (!event_client.ok()) {
      log::error("operator", "cannot create the Kubernetes client",
                 {{"error", event_client.error()}});
      return false;
    }
    event_client_ = std::move(*event_client);
    // The pause switch lives beside the Lease, in the operator's namespace (kubectl joulie pause).
    operator_ns_ = config_.leader_election_namespace.empty() ? connection_.default_namespace
                                                             : config_.leader_election_namespace;
    self_ = pod_identity_from_environment(connection_.default_namespace);
    return true;
  }

  kube::Api& api() { return *connection_.client; }

  void log_start() {
    log::info("operator", "starting",
              {{"policy", policy::config_name(policy_.kind)},
               {"policy_config",
                config_.policy_config.empty() ? std::string("none") : config_.policy_config},
               {"time_zone", config_.policy_file ? config_.policy_file->zone.name() : "UTC"},
               {"interval", format_duration(config_.interval)},
               {"node_selector", selector_.to_string()},
               {"dry_run", config_.dry_run},
               {"once", config_.once},
               {"leader_elect", config_.leader_elect},
               {"server", connection_.client->config().source}});
    for (const std::string& setting : config_.overridden_by_file) {
      log::warn("operator", "setting overridden by the policy file",
                {{"setting", setting}, {"file", config_.policy_config}});
    }
  }

  // ---- caches -----------------------------------------------------------------------------------
  void build_caches() {
    context_options_.nodes = {selector_, config_.reserved_label, config_.profile_label};
    // The node labels the policy file's topology block names are read when a Node is decoded:
    // a reload that changes them takes effect after a restart (logged then).
    if (config_.policy_file && config_.policy_file->file.topology) {
      const auto& topology = *config_.policy_file->file.topology;
      context_options_.nodes.zone_label = topology.zone_label;
      if (!topology.rack_label.empty()) {
        context_options_.nodes.rack_label = topology.rack_label;
      }
    }
    context_options_.metrics = &registry_;
    context_options_.page_size = config_.global.kube_list_page_size;
    if (control_readable(api(), operator_ns_)) {
      context_options_.control_namespace = operator_ns_;
    }
    context_ = std::make_unique<ContextProvider>(api(), context_options_);
  }

  // The policy file's signals, queried off the reconcile path.
  void build_signal_sources() {
    SignalSourcesOptions options;
    if (config_.policy_file) {
      options.signals = config_.policy_file->file.signals;
    }
    options.metrics = &registry_;
    options.interval = config_.context_interval;
    options.demand = [this] { return static_cast<double>(context_->pod_counts().cluster()); };
    options.record_events = !config_.dry_run;
    options.pod_name = self_.name;
    options.pod_namespace = self_.ns;
    sources_ = std::make_unique<SignalSources>(api(), options);
    context_->set_signals(&sources_->collector());
  }

  // What the informers see that cannot wait for the next tick.
  void wire_cache_triggers() {
    context_->on_managed_set_changed([this] { request_replan(); });
    context_->on_profile_applied([this](const std::string&) {
      const Reconciler* r = reconciler_ptr_.load();
      if (r != nullptr && r->awaiting_agent()) {
        request_reguard();
      }
    });
    // A pause, a resume or a pin re-plans at once (not at the next tick).
    context_->on_overrides_changed([this] { request_replan(); });
    // A deleted or edited profile is put back by a guard pass now, not at the next tick; the
    // pass first drops the expectation of our own earlier write that would hide the change.
    context_->on_profile_changed([this](const std::string& name) {
      {
        std::lock_guard lock(changed_profiles_mutex_);
        changed_profiles_.insert(name);
      }
      request_reguard();
    });
    context_->on_drain_complete([this](const std::string& node) {
      log::debug("operator", "last performance-sensitive pod left a draining node",
                 {{"node", node}});
      request_reguard();
    });
  }

  void request_replan() {
    if (Controller* c = controller_.load()) {
      c->request_replan();
    }
  }
  void request_reguard() {
    if (Controller* c = controller_.load()) {
      c->request_reguard();
    }
  }

  // ---- probes, signals, sync --------------------------------------------------------------------
  // A one-shot run serves no probes.
  bool start_probes() {
    return kube::start_probes(config_.once, connection_, "operator", config_.global.metrics_addr,
                              registry_, ready_when_synced(*context_), endpoint_);
  }

  void watch_signals() {
    signals_.start("operator", "signal received; stopping", [this] {
      stopping_ = true;
      if (Controller* c = controller_.load()) {
        c->stop();
      }
    });
  }

  // nullopt once synced; otherwise the exit status.
  std::optional<int> sync_caches() {
    context_->start();
    const SyncWait how = sync_or_stop("operator", *context_, stopping_, kSyncTimeout);
    if (how == SyncWait::synced) {
      log::info("operator", "caches synced");
    }
    return config::exit_status_after(how);
  }

  // ---- writers ----------------------------------------------------------------------------------
  void build_writers() {
    if (!config_.dry_run) {
      kube::EventRecorderOptions event_options;
      event_options.component = "joulie-operator";
      recorder_ = std::make_unique<kube::EventRecorder>(*event_client_, event_options);
      recorder_->start();
    }
    actuation_ = std::make_unique<ActuationAdapter>(api(), config_.profile_label, [this] {
      return !stopping_.load() && !lost_leadership_.load() && (!elector_ || elector_->is_leader());
    });
    EventSink events;
    if (recorder_) {
      events = [this](const kube::NodeRef& node, kube::EventType type, std::string reason,
                      std::string message) {
        recorder_->record(node, type, std::move(reason), std::move(message));
      };
    }
    reconciler_ = std::make_unique<Reconciler>(reconciler_options(), *actuation_,
                                               &operator_metrics_, events, RealClock::instance());
    pause_reporter_ = std::make_unique<PauseReporter>(registry_, operator_ns_, events);
    published_extra_ = {!context_options_.control_namespace.empty(), operator_ns_};
    if (!hooks_.invocation.empty()) {
      published_.set(std::string(api::kConfigAnnotation), hooks_.invocation);
    }
    published_.set(std::string(api::kPolicyFileAnnotation),
                   config_.policy_file ? config_.policy_file->content : std::string());
    reconciler_ptr_ = reconciler_.get();
  }

  ReconcilerOptions reconciler_options() {
    ReconcilerOptions o;
    o.policy = policy_;
    if (config_.policy_file) {
      o.time_zone = config_.policy_file->zone;
      o.signals = config_.policy_file->file.signals;
    }
    o.drain_timeout = config_.drain_timeout;
    o.max_concurrent_writes = static_cast<int>(config_.max_concurrent_writes);
    // A demand step noticed by a tick (or a managed-set change) while a long run of downgrades
    // is being written stops that run: the next pass starts at once with its upgrades.
    o.yield_downgrades = [this] {
      const Controller* c = controller_.load();
      return c != nullptr && c->replan_pending();
    };
    o.live_perf_pods = [this](const std::string& node) {
      return context_->pods_known()
                 ? std::optional<std::int64_t>(context_->pod_counts().on_node(node))
                 : std::nullopt;
    };
    // Two-phase downgrades and upgrades span passes; a one-shot run that writes makes both
    // phases at once. A dry run keeps them: it reports the pass the running operator would make,
    // from the per-node memory in the API (kubectl joulie plan and explain rehearse exactly that).
    if (!config_.once || config_.dry_run) {
      o.downgrade_settle =
          std::chrono::duration_cast<std::chrono::milliseconds>(config_.downgrade_settle);
      o.upgrade_apply_timeout =
          std::chrono::duration_cast<std::chrono::milliseconds>(config_.upgrade_apply_timeout);
    }
    o.explain = config_.once;  // only --once prints them
    o.dry_run = config_.dry_run;
    return o;
  }

  // ---- policy file hot reload (docs/design.md#policy-file) --------------------------------------
  void build_policy_watcher() {
    // Events about the file go to the operator's own Pod (POD_NAME in POD_NAMESPACE, from the
    // downward API); without them (a local run) the log line and the metric remain.
    if (!self_.name.empty()) {
      self_pod_.name = self_.name;
      self_pod_.kind = "Pod";
      self_pod_.ns = self_.ns;
    }
    if (config_.once || config_.policy_config.empty()) {
      return;
    }
    watcher_ = std::make_unique<PolicyFileWatcher>(
        config_.policy_config, config_.zoneinfo_root,
        config_.policy_file ? config_.policy_file->content : std::string(),
        [this](const config::LoadedPolicyFile& file) { return apply_policy_file(file); },
        [this](const std::string& message) { reject_policy_file(message); });
  }

  void pod_event(kube::EventType type, std::string reason, std::string message) {
    if (recorder_ && !self_pod_.name.empty()) {
      recorder_->record(self_pod_, type, std::move(reason), std::move(message));
    }
  }

  Status apply_policy_file(const config::LoadedPolicyFile& file) {
    policy::PolicyConfig next = config::policy_settings(config_, &file.file);
    if (Status s = policy::validate(next); !s.ok()) {
      return s;
    }
    {
      std::lock_guard lock(pass_mutex_);
      reconciler_->set_policy(next, file.zone, file.file.signals);
    }
    sources_->reconfigure(file.file.signals);
    const std::string zone_label =
        file.file.topology ? file.file.topology->zone_label : "topology.kubernetes.io/zone";
    if (zone_label != context_options_.nodes.zone_label) {
      log::warn("operator",
                "topology.zoneLabel changed: the zone label is read when nodes are "
                "decoded; restart the operator for it to take effect",
                {{"in_use", context_options_.nodes.zone_label}, {"file", zone_label}});
    }
    published_.set(std::string(api::kPolicyFileAnnotation), file.content);
    operator_metrics_.config_reloads.with({}).inc();
    log::info("operator", "policy file reloaded",
              {{"file", config_.policy_config},
               {"policy", policy::config_name(next.kind)},
               {"time_zone", file.zone.name()},
               {"windows", static_cast<std::int64_t>(next.windows.size())}});
    pod_event(kube::EventType::normal, "PolicyConfigReloaded",
              fmt::format("policy file {} reloaded: policy {}", config_.policy_config,
                          policy::config_name(next.kind)));
    request_replan();
    return Status::success();
  }

  void reject_policy_file(const std::string& message) {
    operator_metrics_.config_reload_failures.with({}).inc();
    log::error("operator", "policy file change refused; the last good version stays",
               {{"file", config_.policy_config}, {"error", message}});
    pod_event(kube::EventType::warning, "PolicyConfigRejected",
              "policy file change refused; the last good version stays: " + message);
  }

  // ---- leader election --------------------------------------------------------------------------
  void build_elector() {
    reconciler_->set_leader(!config_.leader_elect);
    if (!config_.leader_elect) {
      return;
    }
    kube::LeaderElectionOptions le;
    le.ns = operator_ns_;
    le.name = config_.leader_election_id;
    le.lease_duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.lease_duration);
    le.renew_deadline =
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.renew_deadline);
    le.retry_period = std::chrono::duration_cast<std::chrono::milliseconds>(config_.retry_period);
    le.annotations = [this] { return published_.get(); };
    kube::LeaderCallbacks callbacks;
    callbacks.started_leading = [this] {
      log::info("operator", "became the leader; starting to reconcile",
                {{"identity", elector_ ? elector_->identity() : std::string()}});
      reconciler_->set_leader(true);
      if (Controller* c = controller_.load()) {
        c->notify();
      }
    };
    callbacks.stopped_leading = [this] {
      reconciler_->set_leader(false);
      if (stopping_) {
        return;  // our own clean stop released the lease
      }
      log::error("operator", "lost leadership; stopped writing and exiting to restart clean");
      lost_leadership_ = true;
      if (Controller* c = controller_.load()) {
        c->stop();
      }
    };
    callbacks.new_leader = [](const std::string& holder) {
      log::info("operator", "leader observed", {{"holder", holder.empty() ? "<none>" : holder}});
    };
    elector_ = std::make_unique<kube::LeaderElector>(api(), le, callbacks);
    log::info("operator", "leader election enabled",
              {{"lease", le.ns + "/" + le.name}, {"identity", elector_->identity()}});
  }

  // ---- one pass (--once) ------------------------------------------------------------------------
  int run_once() {
    if (elector_ && !wait_for_leadership()) {
      shutdown();
      return stopping_ ? config::kExitOk : config::kExitRuntimeError;
    }
    PassResult result = reconciler_->run_pass(context_->snapshot(std::chrono::system_clock::now()),
                                              PassKind::replan);
    if (hooks_.once_result) {
      hooks_.once_result(result);
    } else {
      std::string text = config_.output == config::OutputFormat::json
                             ? format_pass_json(result) + "\n"
                             : format_pass_text(result);
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    }
    shutdown();
    return result.failed_nodes == 0 ? config::kExitOk : config::kExitRuntimeError;
  }

  bool wait_for_leadership() {
    elector_->start();
    const auto deadline = std::chrono::steady_clock::now() + kLeaderWaitOnce;
    while (!elector_->is_leader()) {
      if (stopping_ || std::chrono::steady_clock::now() >= deadline) {
        log::error("operator", "--once: did not become the leader",
                   {{"holder", elector_->leader()}});
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a condition
    }
    return true;
  }

  // ---- the loop ---------------------------------------------------------------------------------
  int run_loop() {
    ControllerOptions controller_options;
    controller_options.interval = config_.interval;
    Controller loop(
        controller_options, [this](PassKind kind) { return pass(kind); },
        [this] { return !elector_ || elector_->is_leader(); });
    controller_ = &loop;
    if (stopping_) {  // a signal that arrived before the controller existed
      shutdown();
      return config::kExitOk;
    }
    if (elector_) {
      elector_->start();
    }
    if (watcher_) {
      watcher_->start(config_.policy_config_poll);
    }
    wait_for_first_signals();
    loop.run();

    const bool lost = lost_leadership_.load();
    shutdown();
    controller_ = nullptr;
    if (lost) {
      return config::kExitRuntimeError;
    }
    log::info("operator", "stopped");
    return config::kExitOk;
  }

  // The first plan waits (bounded) for the collector's first round: planning an unlabelled
  // cluster before any signal arrived would move nodes by name and then again by signal.
  void wait_for_first_signals() {
    if (!config_.policy_file || !config_.policy_file->file.signals.any()) {
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + kFirstSignalsWait;
    while (sources_->collector().rounds() == 0 && !stopping_ &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition
    }
    log::info("operator",
              sources_->collector().rounds() > 0
                  ? "first signal round done; planning"
                  : "no signal round within the wait; planning without signals",
              {{"waited_max", format_duration(kFirstSignalsWait)}});
  }

  // One pass on the controller thread; returns when the reconciler wants to be called again.
  std::optional<SteadyTime> pass(PassKind kind) {
    std::lock_guard lock(pass_mutex_);
    {
      std::lock_guard changed_lock(changed_profiles_mutex_);
      for (const std::string& name : changed_profiles_) {
        reconciler_->forget_profile_expectation(name);
      }
      changed_profiles_.clear();
    }
    const SystemTime now = std::chrono::system_clock::now();
    Snapshot snapshot = context_->snapshot(now);
    // A silent API server: the pod cache may be stale, so pod data counts as unavailable
    // (nothing is downgraded on it), as when the pod watch is broken.
    snapshot.pods_known = snapshot.pods_known && !connection_.liveness->stale();
    pause_reporter_->observe(snapshot);
    const PassResult result = reconciler_->run_pass(snapshot, kind);
    published_.set(std::string(api::kStatusAnnotation),
                   status_json(result, snapshot, published_extra_, now));
    // A time window that starts or ends before the next tick: re-plan at its boundary.
    if (auto change = policy::next_window_change(reconciler_->policy().windows,
                                                 reconciler_->time_zone(), now, config_.interval)) {
      if (Controller* c = controller_.load()) {
        c->request_replan_at(
            std::chrono::steady_clock::now() +
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(*change - now) +
            std::chrono::milliseconds(200));
      }
    }
    return reconciler_->next_retry();
  }

  void shutdown() {
    connection_.liveness->stop();
    if (watcher_) {
      watcher_->stop();
    }
    if (elector_) {
      elector_->stop();
    }
    if (recorder_) {
      recorder_->flush(kEventFlushTimeout);
      recorder_->stop();
    }
    sources_->stop();
    context_->stop();
    if (endpoint_) {
      endpoint_->stop();
    }
  }

  const config::OperatorConfig& config_;
  const RunHooks& hooks_;
  const policy::PolicyConfig policy_;
  const policy::Selector selector_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> lost_leadership_{false};
  std::atomic<Controller*> controller_{nullptr};  // set while the loop runs
  SignalWatcher signals_;  // before any thread exists, so every thread inherits the mask
  metrics::Registry& registry_;
  OperatorMetrics operator_metrics_;
  kube::ClusterConnection connection_;
  std::unique_ptr<kube::Client> event_client_;
  std::string operator_ns_;  // the Lease's and the pause switch's namespace
  PodIdentity self_;
  ContextOptions context_options_;
  std::unique_ptr<ContextProvider> context_;
  std::unique_ptr<SignalSources> sources_;
  std::unique_ptr<kube::LeaderElector> elector_;
  std::atomic<const Reconciler*> reconciler_ptr_{nullptr};  // set once the reconciler exists
  std::mutex changed_profiles_mutex_;
  std::set<std::string> changed_profiles_;  // edited or deleted by others since the last pass
  std::unique_ptr<HttpEndpoint> endpoint_;
  std::unique_ptr<kube::EventRecorder> recorder_;
  std::unique_ptr<ActuationAdapter> actuation_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<PauseReporter> pause_reporter_;
  LeaseAnnotations published_;  // written on the Lease by the elector (kubectl joulie status)
  PublishedStatus published_extra_;
  std::mutex pass_mutex_;  // passes run on the controller thread; --once runs one inline
  kube::NodeRef self_pod_;
  std::unique_ptr<PolicyFileWatcher> watcher_;
};

}  // namespace

int run_operator(const config::OperatorConfig& config, const RunHooks& hooks) {
  // Configuration that only this area can check.
  auto selector = policy::parse_selector(config.node_selector);
  if (!selector.ok()) {
    std::fprintf(stderr, "joulie: --node-selector/NODE_SELECTOR %s: %s\n",
                 config.node_selector.c_str(), selector.error().message.c_str());
    return config::kExitUsage;
  }
  policy::PolicyConfig policy =
      config::policy_settings(config, config.policy_file ? &config.policy_file->file : nullptr);
  if (Status s = policy::validate(policy); !s.ok()) {
    std::fprintf(stderr, "joulie: %s\n", s.error().message.c_str());
    return config::kExitUsage;
  }
  OperatorProcess process(config, hooks, std::move(policy), std::move(*selector));
  return process.run();
}

}  // namespace joulie::operator_mode
