// `joulie agent`: wires configuration, the Kubernetes client, the daemon (informers + node
// workers), the status writer, metrics/probes and signals together (docs/design.md#agent).
#include "joulie/agent/run.hpp"

#include <pthread.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
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
#include <optional>
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
#include "joulie/config/sync_exit.hpp"
#include "joulie/kube/client.hpp"
#include "joulie/kube/connect.hpp"
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

// Pool mode lists every node of the cluster in pages of multi-MiB JSON (real Node objects are
// ~9 KB: 500 per page is ~4.4 MB of body plus its parsed document). glibc raises its mmap
// threshold to the size of the largest block freed (up to 32 MiB), so after the first page the
// next pages' bodies come from the heap instead of fresh mappings; freed, they stay in the
// informer threads' arenas, fragmented, and RSS never comes down (measured: 77–80 MiB steady
// with real-size nodes, 54 MiB with the threshold held at its default; docs/benchmarks.md §5).
// Holding the threshold fixed keeps every block of 128 KiB or more in its own mapping, returned
// to the kernel when freed; small blocks are unaffected. Daemonset mode lists one node: no need.
constexpr int kPoolMmapThreshold = 128 * 1024;

void hold_mmap_threshold() {
#if defined(__GLIBC__)
  if (mallopt(M_MMAP_THRESHOLD, kPoolMmapThreshold) != 1) {
    log::debug("agent", "mallopt(M_MMAP_THRESHOLD) refused");  // only costs memory
  }
#endif
}

// The initial sync's pages (parsed documents, item copies) were freed into the heap; give what
// the allocator can spare back to the kernel once, when the caches are full (costs a few ms).
void release_freed_heap() {
#if defined(__GLIBC__)
  (void)malloc_trim(0);
#endif
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

// Daemonset mode runs for one named node, whose name also names its fail-safe record.
bool node_usable(const config::AgentConfig& config) {
  if (config.mode == config::AgentMode::pool) {
    return true;
  }
  if (config.node.empty()) {
    log::error("agent", "daemonset mode needs --node (NODE_NAME)");
    return false;
  }
  if (Status name_ok = validate_record_name(config.node); !name_ok.ok()) {
    log::error("agent", "unusable --node", {{"error", name_ok.error()}});
    return false;
  }
  return true;
}

// One `joulie agent` process: its parts as members, declared in the order they are built, so
// that they are destroyed in reverse (what a thread may still touch outlives that thread).
class AgentProcess {
 public:
  explicit AgentProcess(const config::AgentConfig& config)
      : config_(config), registry_(process_registry()) {}

  int run() {
    if (!connect()) {
      return config::kExitRuntimeError;
    }
    daemon_ =
        std::make_unique<AgentDaemon>(*connection_.client, daemon_options(config_, registry_));
    log_start();
    if (!start_probes()) {
      return config::kExitRuntimeError;
    }
    watch_signals();
    if (!daemon_->start(stopping_)) {
      return config::kExitOk;  // stopped before anything was applied
    }
    if (std::optional<int> exit = sync_caches()) {
      return *exit;
    }
    return config_.once ? run_once() : run_until_signal();
  }

 private:
  bool connect() {
    kube::ConnectOptions options = kube::connect_options("agent", config_.global, registry_);
    options.liveness_resource = kube::resources::node_power_profiles;
    options.probe_timeout = kProbeTimeout;
    auto connection = kube::connect(options);
    if (!connection) {
      return false;
    }
    connection_ = std::move(*connection);
    return true;
  }

  void log_start() {
    log::info("agent", "starting",
              {{"mode", config::agent_mode_name(config_.mode)},
               {"node", config_.node},
               {"interval", format_duration(config_.interval)},
               {"simulate_only", config_.simulate_only},
               {"once", config_.once},
               {"sysfs_root", config_.sysfs_root},
               {"state_dir", config_.state_dir},
               {"server", connection_.client->config().source}});
    if (config_.mode == config::AgentMode::pool) {
      log::info("agent", "pool mode",
                {{"selector", config_.pool_node_selector},
                 {"shards", config_.pool_shards},
                 {"shard_id", config_.pool_shard_id}});
    }
  }

  // A one-shot run serves no probes.
  bool start_probes() {
    return kube::start_probes(config_.once, connection_, "agent", config_.global.metrics_addr,
                              registry_, ready_when_synced(*daemon_), endpoint_);
  }

  void watch_signals() {
    signals_.start("agent", "signal received; restoring the node(s) and stopping", [this] {
      {
        std::lock_guard lock(stop_mutex_);
        stopping_ = true;
      }
      stop_cv_.notify_all();
    });
  }

  // nullopt once synced; otherwise the exit status. Only a one-shot run gives up waiting.
  std::optional<int> sync_caches() {
    const auto timeout = config_.once
                             ? std::optional<std::chrono::steady_clock::duration>(kOnceSyncTimeout)
                             : std::nullopt;
    const SyncWait how = sync_or_stop("agent", *daemon_, stopping_, timeout);
    if (how == SyncWait::synced) {
      log::info("agent", "caches synced", {{"nodes", daemon_->owned_nodes()}});
      if (config_.mode == config::AgentMode::pool) {
        release_freed_heap();
      }
    }
    return config::exit_status_after(how);
  }

  int run_once() {
    std::size_t errors = daemon_->run_pass(true);
    // Wait for the status writes in slices so that SIGTERM/SIGINT ends the wait at once.
    const auto flush_deadline = std::chrono::steady_clock::now() + kOnceFlushTimeout;
    bool flushed = false;
    while (!(flushed = daemon_->status_writer().flush(std::chrono::milliseconds(100))) &&
           !stopping_ && std::chrono::steady_clock::now() < flush_deadline) {
    }
    daemon_->stop();
    if (!flushed) {
      log::error("agent",
                 stopping_ ? "stopped by a signal before the status was written"
                           : "status could not be written",
                 {{"pending", daemon_->status_writer().pending()}});
    }
    log::info("agent", "one pass done; settings stay applied",
              {{"nodes", daemon_->owned_nodes()}, {"errors", errors}});
    return errors == 0 && flushed ? config::kExitOk : config::kExitRuntimeError;
  }

  // Runs the daemon until SIGTERM/SIGINT, then restores the node(s).
  int run_until_signal() {
    map_code_on_demand(false);
    std::thread runner([this] {
      daemon_->run_pass(false);
      map_code_on_demand(true);  // start-up code paths are done with
      daemon_->run();
    });
    {
      std::unique_lock lock(stop_mutex_);
      stop_cv_.wait(lock, [this] { return stopping_.load(); });
    }
    daemon_->stop();
    runner.join();
    return restore_on_shutdown(*daemon_, config_.restore_timeout);
  }

  const config::AgentConfig& config_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  std::atomic<bool> stopping_{false};
  SignalWatcher signals_;  // before any thread exists, so every thread inherits the mask
  metrics::Registry& registry_;
  kube::ClusterConnection connection_;
  std::unique_ptr<AgentDaemon> daemon_;
  std::unique_ptr<HttpEndpoint> endpoint_;
};

}  // namespace

int run_agent(const config::AgentConfig& config) {
  if (config.restore) {
    return restore_only(config);
  }
  if (!node_usable(config)) {
    return config::kExitUsage;
  }
  if (config.mode == config::AgentMode::pool) {
    hold_mmap_threshold();  // before any thread allocates
  }
  AgentProcess process(config);
  return process.run();
}

}  // namespace joulie::agent
