#include "joulie/common/process_setup.hpp"

#include <httplib.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <string>

#include "joulie/common/metrics.hpp"
#include "joulie/config/sync_exit.hpp"

using joulie::pod_identity_from_environment;

namespace {

// Sets (or, with nullptr, unsets) the downward-API variables for one test; restores them after.
class PodEnv {
 public:
  PodEnv(const char* name, const char* ns)
      : saved_name_(get("POD_NAME")), saved_ns_(get("POD_NAMESPACE")) {
    put("POD_NAME", name);
    put("POD_NAMESPACE", ns);
  }
  ~PodEnv() {
    put("POD_NAME", saved_name_ ? saved_name_->c_str() : nullptr);
    put("POD_NAMESPACE", saved_ns_ ? saved_ns_->c_str() : nullptr);
  }
  PodEnv(const PodEnv&) = delete;
  PodEnv& operator=(const PodEnv&) = delete;

 private:
  static std::optional<std::string> get(const char* key) {
    const char* v = std::getenv(key);
    return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
  }
  static void put(const char* key, const char* value) {
    if (value != nullptr) {
      ::setenv(key, value, 1);
    } else {
      ::unsetenv(key);
    }
  }
  std::optional<std::string> saved_name_;
  std::optional<std::string> saved_ns_;
};

}  // namespace

TEST_CASE("process setup: the Pod comes from the downward API, the namespace falls back") {
  {
    PodEnv env("joulie-operator-0", "joulie-system");
    const auto pod = pod_identity_from_environment("from-kubeconfig");
    CHECK(pod.name == "joulie-operator-0");
    CHECK(pod.ns == "joulie-system");
  }
  {
    // A local run: no Pod, and the kubeconfig's namespace for anything namespaced.
    PodEnv env(nullptr, nullptr);
    const auto pod = pod_identity_from_environment("from-kubeconfig");
    CHECK(pod.name.empty());
    CHECK(pod.ns == "from-kubeconfig");
  }
  {
    // Set but empty is the same as unset (a manifest with an empty value must not name "").
    PodEnv env("", "");
    const auto pod = pod_identity_from_environment("default");
    CHECK(pod.name.empty());
    CHECK(pod.ns == "default");
  }
}

TEST_CASE("process setup: probes serve readiness from the caches' owner; a bad address is null") {
  struct Caches {
    std::atomic<bool> ready{false};  // read on the server's thread
    bool synced() const { return ready.load(); }
    std::string sync_status() const { return "nodes"; }
  } caches;
  joulie::metrics::Registry registry;
  auto endpoint =
      joulie::serve_probes("test", "127.0.0.1:0", registry, joulie::ready_when_synced(caches));
  REQUIRE(endpoint != nullptr);
  httplib::Client client("127.0.0.1", endpoint->port());
  auto not_ready = client.Get("/readyz");
  REQUIRE(not_ready);
  CHECK(not_ready->status == 503);
  CHECK(not_ready->body.find("caches not synced: nodes") != std::string::npos);
  caches.ready = true;
  auto ready = client.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);

  CHECK(joulie::serve_probes("test", "not an address", registry, {}) == nullptr);
}

// Both processes end their wait for the caches through sync_or_stop and exit_status_after: a
// time-out or a signal must stop the informers and give the documented exit status.
TEST_CASE("process setup: a failed wait for the caches stops them and picks the exit status") {
  struct Caches {
    bool synced_now = false;
    int stops = 0;
    bool wait_synced(std::chrono::milliseconds) const { return synced_now; }
    std::string sync_status() const { return "nodes"; }
    void stop() { ++stops; }
  };
  std::atomic<bool> stopping{false};

  Caches synced{true};
  CHECK(joulie::sync_or_stop("test", synced, stopping, std::chrono::milliseconds(1)) ==
        joulie::SyncWait::synced);
  CHECK(synced.stops == 0);
  CHECK(joulie::config::exit_status_after(joulie::SyncWait::synced) == std::nullopt);

  Caches slow;
  CHECK(joulie::sync_or_stop("test", slow, stopping, std::chrono::milliseconds(1)) ==
        joulie::SyncWait::timed_out);
  CHECK(slow.stops == 1);
  CHECK(joulie::config::exit_status_after(joulie::SyncWait::timed_out) ==
        joulie::config::kExitRuntimeError);

  Caches signalled;
  stopping = true;
  CHECK(joulie::sync_or_stop("test", signalled, stopping, std::nullopt) ==
        joulie::SyncWait::stopped);
  CHECK(signalled.stops == 1);
  CHECK(joulie::config::exit_status_after(joulie::SyncWait::stopped) == joulie::config::kExitOk);
}
