// `joulie agent`: wires configuration, the Kubernetes client, the daemon (informers + node
// workers), the status writer, metrics/probes and signals together (docs/design.md#agent).
#include "joulie/agent/run.hpp"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "joulie/agent/daemon.hpp"
#include "joulie/agent/failsafe.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/common/http_endpoint.hpp"
#include "joulie/common/log.hpp"
#include "joulie/common/metrics.hpp"
#include "joulie/common/process_setup.hpp"
#include "joulie/common/signal_watcher.hpp"
#include "joulie/common/strings.hpp"
#include "joulie/config/cli.hpp"
#include "joulie/kube/client.hpp"
#include "joulie/kube/config.hpp"
#include "joulie/kube/liveness.hpp"

// Bounds of the executable's code, defined by the GNU linker.
extern "C" char __executable_start;  // NOLINT(bugprone-reserved-identifier)
extern "C" char etext;

namespace joulie::agent {

namespace {

constexpr auto kOnceSyncTimeout = std::chrono::seconds(60);
constexpr auto kOnceFlushTimeout = std::chrono::seconds(15);
constexpr auto kShutdownFlushTimeout = std::chrono::seconds(2);
// The API-server liveness probe's timeout (see kube/liveness.hpp for the period and threshold).
constexpr auto kProbeTimeout = std::chrono::milliseconds(5000);
// Pool mode drives thousands of simulated nodes over HTTP: a few requests in flight hide the
// simulator's latency (measured: see docs/benchmarks.md). Daemonset mode has one node.
constexpr std::size_t kPoolWorkers = 8;

// The kernel maps up to 64 KiB of the executable around every code page fault ("fault-around").
// The agent touches little of its (static, OpenSSL-carrying) code in steady state, yet that
// policy keeps most of the text resident: several MiB of RSS on every node of the cluster.
// Mapping text pages only as they are used, and letting go of the start-up ones once, keeps
// the daemon's footprint to what it runs (docs/design.md#quality-bars: ≤ 8 MiB). Failure only costs
// memory.
void map_code_on_demand(bool drop_resident) {
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) {
    return;
  }
  auto start = reinterpret_cast<std::uintptr_t>(&__executable_start) &
               ~(static_cast<std::uintptr_t>(page) - 1);
  auto end = reinterpret_cast<std::uintptr_t>(&etext);
  if (end <= start) {
    return;
  }
  void* base = reinterpret_cast<void*>(start);
  if (madvise(base, end - start, MADV_RANDOM) != 0) {
    log::debug("agent", "madvise(MADV_RANDOM) on the code failed", {{"errno", errno}});
    return;
  }
  if (drop_resident) {
    // Clean, read-only file pages: they come back from the page cache when next used.
    (void)madvise(base, end - start, MADV_DONTNEED);
  }
}

// Exit status of a restore (SIGTERM or --restore): 0 every recorded original is back; 3 the
// originals were unknown (unusable record) and every cap was lifted to the hardware maximum;
// 1 something is still as the agent left it (named in the last log line).
constexpr int kExitOriginalsUnknown = 3;

std::string joined(const std::vector<std::string>& items) {
  return items.empty() ? std::string("none") : fmt::format("{}", fmt::join(items, ","));
}

int restore_only(const config::AgentConfig& config) {
  if (config.node.empty()) {
    log::error("agent", "--restore needs --node (NODE_NAME): the state record is per node");
    return config::kExitUsage;
  }
  RestoreSummary summary = restore_from_state_dir(config.sysfs_root, config.state_dir, config.node);
  std::vector<std::string> not_restored = summary.not_restored;
  not_restored.insert(not_restored.end(), summary.unknown.begin(), summary.unknown.end());
  if (!summary.complete()) {
    log::error("agent", "settings NOT restored; the node may be left capped",
               {{"node", config.node},
                {"state_dir", config.state_dir},
                {"restored", joined(summary.restored)},
                {"not_restored", joined(not_restored)},
                {"error", summary.error}});
    return config::kExitRuntimeError;
  }
  if (summary.originals_unknown) {
    log::warn("agent",
              "originals unknown (unusable fail-safe record): settings set to the hardware "
              "maximum",
              {{"node", config.node}, {"restored", joined(summary.restored)}});
    return kExitOriginalsUnknown;
  }
  log::info("agent", "original settings restored (or nothing was recorded)",
            {{"node", config.node},
             {"state_dir", config.state_dir},
             {"restored", joined(summary.restored)}});
  return config::kExitOk;
}

// SIGTERM: restore every node, retrying what failed with backoff until `timeout`; the last log
// line and the exit status say what is back and what is not.
int restore_on_shutdown(AgentDaemon& daemon, std::chrono::nanoseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto delay = std::chrono::milliseconds(500);
  std::vector<std::string> restored;
  std::vector<std::string> unknown_nodes;
  ReleaseSummary summary;
  while (true) {
    summary = daemon.release_all();
    restored.insert(restored.end(), summary.restored.begin(), summary.restored.end());
    unknown_nodes.insert(unknown_nodes.end(), summary.originals_unknown_nodes.begin(),
                         summary.originals_unknown_nodes.end());
    auto now = std::chrono::steady_clock::now();
    if (summary.complete() || now >= deadline) {
      break;
    }
    auto wait = std::min<std::chrono::nanoseconds>(delay, deadline - now);
    log::warn("agent", "settings not restored yet; retrying",
              {{"not_restored", joined(summary.not_restored)},
               {"errors", joined(summary.errors)},
               {"retry_in", format_duration(wait)}});
    std::this_thread::sleep_for(wait);  // the process is stopping: nothing else to wake for
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
  (void)daemon.status_writer().flush(kShutdownFlushTimeout);
  if (!summary.complete()) {
    log::error("agent",
               "giving up: settings NOT restored, the node may be left capped; the fail-safe "
               "record is kept for `joulie agent --restore`; exiting",
               {{"restored", joined(restored)},
                {"not_restored", joined(summary.not_restored)},
                {"errors", joined(summary.errors)}});
    return config::kExitRuntimeError;
  }
  if (!unknown_nodes.empty()) {
    log::warn("agent",
              "originals unknown (unusable fail-safe record): settings set to the hardware "
              "maximum; exiting",
              {{"nodes", joined(unknown_nodes)}, {"restored", joined(restored)}});
    return kExitOriginalsUnknown;
  }
  log::info("agent", "original settings restored; exiting", {{"restored", joined(restored)}});
  return config::kExitOk;
}

DaemonOptions daemon_options(const config::AgentConfig& config, metrics::Registry& registry) {
  DaemonOptions o;
  o.pool_mode = config.mode == config::AgentMode::pool;
  o.node = config.node;
  o.pool_node_selector = config.pool_node_selector;
  o.pool_shards = static_cast<std::uint32_t>(std::max(1, config.pool_shards));
  o.pool_shard_id = static_cast<std::uint32_t>(std::max(0, config.pool_shard_id));
  o.workers = o.pool_mode ? kPoolWorkers : 1;
  o.registry = &registry;
  o.list_page_size = config.global.kube_list_page_size;
  NodeControllerContext& n = o.controller;
  n.simulate_only = config.simulate_only;
  n.interval = config.interval;
  n.actuator.sysfs_root = config.sysfs_root;
  n.actuator.state_dir = config.state_dir;
  n.actuator.dvfs_min_freq_khz =
      static_cast<uint64_t>(std::max<int64_t>(0, config.dvfs_min_freq_khz));
  n.actuator.dvfs.ema_alpha = config.dvfs_ema_alpha;
  n.actuator.dvfs.high_margin_w = config.dvfs_high_margin_w;
  n.actuator.dvfs.low_margin_w = config.dvfs_low_margin_w;
  n.actuator.dvfs.step_pct = config.dvfs_step_pct;
  n.actuator.dvfs.cooldown = config.dvfs_cooldown;
  n.actuator.dvfs.trip_count = config.dvfs_trip_count;
  n.actuator.dvfs.telemetry_ttl = config.telemetry_ttl;
  return o;
}

}  // namespace

int run_agent(const config::AgentConfig& config) {
  if (config.restore) {
    return restore_only(config);
  }
  const bool pool_mode = config.mode == config::AgentMode::pool;
  if (!pool_mode) {
    if (config.node.empty()) {
      log::error("agent", "daemonset mode needs --node (NODE_NAME)");
      return config::kExitUsage;
    }
    if (Status name_ok = validate_record_name(config.node); !name_ok.ok()) {
      log::error("agent", "unusable --node", {{"error", name_ok.error()}});
      return config::kExitUsage;
    }
  }

  // Declared before everything that threads may still touch while this function unwinds.
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  std::atomic<bool> stopping{false};
  SignalWatcher signals;  // before any thread exists, so every thread inherits the mask

  metrics::Registry& registry = metrics::default_registry();
  registry.add_process_metrics();

  // ---- Kubernetes client ------------------------------------------------------------------------
  auto cluster = kube::load_config(kube::ConfigSources::from_environment(
      join(config.global.kubeconfig, ':'), config.global.context));
  if (!cluster.ok()) {
    log::error("agent", "cannot load the Kubernetes configuration", {{"error", cluster.error()}});
    return config::kExitRuntimeError;
  }
  kube::ClientOptions client_options;
  client_options.qps = config.global.kube_qps;
  client_options.burst = config.global.kube_burst;
  client_options.metrics = &registry;
  auto client = kube::Client::create(std::move(*cluster), client_options);
  if (!client.ok()) {
    log::error("agent", "cannot create the Kubernetes client", {{"error", client.error()}});
    return config::kExitRuntimeError;
  }

  auto probe_client = kube::make_probe_client((*client)->config(), kProbeTimeout);
  if (!probe_client.ok()) {
    log::error("agent", "cannot create the Kubernetes client", {{"error", probe_client.error()}});
    return config::kExitRuntimeError;
  }
  kube::LivenessOptions liveness_options;
  liveness_options.resource = kube::resources::node_power_profiles;
  liveness_options.component = "agent";
  liveness_options.metrics = &registry;
  kube::ApiLiveness liveness(**probe_client, liveness_options);

  AgentDaemon daemon(**client, daemon_options(config, registry));
  log::info("agent", "starting",
            {{"mode", config::agent_mode_name(config.mode)},
             {"node", config.node},
             {"interval", format_duration(config.interval)},
             {"simulate_only", config.simulate_only},
             {"once", config.once},
             {"sysfs_root", config.sysfs_root},
             {"state_dir", config.state_dir},
             {"server", (*client)->config().source}});
  if (pool_mode) {
    log::info("agent", "pool mode",
              {{"selector", config.pool_node_selector},
               {"shards", config.pool_shards},
               {"shard_id", config.pool_shard_id}});
  }

  // ---- probes and metrics (a one-shot run serves none) ------------------------------------------
  std::unique_ptr<HttpEndpoint> endpoint;
  if (!config.once) {
    endpoint = serve_probes("agent", config.global.metrics_addr, registry,
                            ready_unless_stale(liveness, ready_when_synced(daemon)));
    if (!endpoint) {
      return config::kExitRuntimeError;
    }
    liveness.start();
  }

  signals.start([&](int sig) {
    log::info("agent", "signal received; restoring the node(s) and stopping",
              {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    {
      std::lock_guard lock(stop_mutex);
      stopping = true;
    }
    stop_cv.notify_all();
  });

  if (!daemon.start(stopping)) {
    return config::kExitOk;  // stopped before anything was applied
  }
  const auto sync_deadline = std::chrono::steady_clock::now() + kOnceSyncTimeout;
  while (!daemon.wait_synced(std::chrono::milliseconds(100))) {
    if (stopping) {
      daemon.stop();
      return config::kExitOk;
    }
    if (config.once && std::chrono::steady_clock::now() >= sync_deadline) {
      log::error("agent",
                 "caches did not sync in time; is the API server reachable and are the "
                 "CRDs installed?",
                 {{"synced", daemon.sync_status()}});
      daemon.stop();
      return config::kExitRuntimeError;
    }
  }
  log::info("agent", "caches synced", {{"nodes", daemon.owned_nodes()}});

  if (config.once) {
    std::size_t errors = daemon.run_pass(true);
    // Wait for the status writes in slices so that SIGTERM/SIGINT ends the wait at once.
    const auto flush_deadline = std::chrono::steady_clock::now() + kOnceFlushTimeout;
    bool flushed = false;
    while (!(flushed = daemon.status_writer().flush(std::chrono::milliseconds(100))) && !stopping &&
           std::chrono::steady_clock::now() < flush_deadline) {
    }
    daemon.stop();
    if (!flushed) {
      log::error("agent",
                 stopping ? "stopped by a signal before the status was written"
                          : "status could not be written",
                 {{"pending", daemon.status_writer().pending()}});
    }
    log::info("agent", "one pass done; settings stay applied",
              {{"nodes", daemon.owned_nodes()}, {"errors", errors}});
    return errors == 0 && flushed ? config::kExitOk : config::kExitRuntimeError;
  }

  map_code_on_demand(false);
  std::thread runner([&daemon] {
    daemon.run_pass(false);
    map_code_on_demand(true);  // start-up code paths are done with
    daemon.run();
  });
  {
    std::unique_lock lock(stop_mutex);
    stop_cv.wait(lock, [&] { return stopping.load(); });
  }
  daemon.stop();
  runner.join();
  return restore_on_shutdown(daemon, config.restore_timeout);
}

}  // namespace joulie::agent
