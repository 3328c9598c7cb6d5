#pragma once
// Is the API server answering? Watches only say "nothing happened" while a stopped or wedged
// API server holds their connections open (the read-idle timeout is minutes), so a cheap
// request — a one-item list — is sent every `period` through a client with a short timeout.
// Any HTTP answer counts, errors included; a timeout or a refused connection does not. After
// `stale_after` without an answer the cached view is stale: one log line, the metric
// joulie_kube_api_stale set to 1 and stale() true (the binaries' /readyz turns false); the first
// answer after that logs the recovery and clears both, no restart needed.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "joulie/common/http_endpoint.hpp"
#include "joulie/kube/api.hpp"
#include "joulie/kube/client.hpp"

namespace joulie::metrics {
class Registry;
class Gauge;
}  // namespace joulie::metrics

namespace joulie::kube {

struct LivenessOptions {
  Resource resource;      // listed with limit=1: any resource the component may list
  std::string component;  // "agent" or "operator", for the log lines
  std::chrono::milliseconds period{5000};
  std::chrono::milliseconds stale_after{15000};
  metrics::Registry* metrics = nullptr;  // joulie_kube_api_stale, _last_answer_age_seconds
};

class ApiLiveness {
 public:
  // `probe_api` should time out quickly and not retry (a dedicated client); it must outlive this.
  ApiLiveness(Api& probe_api, LivenessOptions options);
  ~ApiLiveness();
  ApiLiveness(const ApiLiveness&) = delete;
  ApiLiveness& operator=(const ApiLiveness&) = delete;

  void start();
  void stop();

  bool stale() const { return stale_.load(); }
  // Time since the last answer (since start() before the first one).
  std::chrono::milliseconds silence() const;

 private:
  void loop();
  void probe_once();

  Api& api_;
  LivenessOptions options_;
  metrics::Gauge* stale_gauge_ = nullptr;
  metrics::Gauge* age_gauge_ = nullptr;
  std::atomic<bool> stale_{false};
  std::atomic<std::int64_t> last_answer_ns_{0};  // steady clock
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// A transport failure (no HTTP answer came back) as opposed to an answer that is an error.
bool is_no_answer(Errc code);

// /readyz: not ready while `liveness` says the API server is silent, else what `inner` says.
// `liveness` must outlive the check.
ReadinessCheck ready_unless_stale(const ApiLiveness& liveness, ReadinessCheck inner);

// The probe's own client: `timeout` for connecting and for the answer, no retries, one
// connection, no request metrics (probes would drown the real traffic's series).
Result<std::unique_ptr<Client>> make_probe_client(const ClusterConfig& config,
                                                  std::chrono::milliseconds timeout);

}  // namespace joulie::kube
