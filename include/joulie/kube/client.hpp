#pragma once
// The Kubernetes transport: Api over HTTPS (or HTTP) with cpp-httplib + OpenSSL. Authenticates
// with client certificates, bearer tokens (re-read from token files) or exec plugins; rate limits
// client-side; retries 429/5xx with backoff honouring Retry-After; decodes errors into typed
// Error values; streams watches incrementally. All Api methods may be called from any thread.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "joulie/common/clock.hpp"
#include "joulie/common/result.hpp"
#include "joulie/kube/api.hpp"
#include "joulie/kube/config.hpp"
#include "joulie/kube/retry.hpp"

namespace joulie::metrics {
class Registry;
}

namespace joulie::kube {

struct ClientOptions {
  double qps = 20.0;  // <= 0: no client-side limit
  int burst = 40;
  RetryOptions retry;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds request_timeout{60000};  // socket read/write timeout of one request
  std::chrono::milliseconds token_reread_period{60000};
  std::chrono::milliseconds exec_timeout{60000};
  std::string user_agent;  // empty: "joulie/<version>"
  size_t max_response_bytes = size_t{256} << 20;
  size_t max_idle_connections = 4;  // kept-alive connections for normal requests
  // joulie_kube_requests_total{verb,resource,code}; code "<error>" for transport errors.
  metrics::Registry* metrics = nullptr;
  const Clock* clock = nullptr;  // nullptr: the real clock
};

class Client final : public Api {
 public:
  // Errc::invalid_argument for a malformed server URL, Errc::tls for unusable TLS material.
  static Result<std::unique_ptr<Client>> create(ClusterConfig config, ClientOptions options = {});
  ~Client() override;

  Result<rapidjson::Document> get(const Resource& r, std::string_view ns,
                                  std::string_view name) override;
  Result<rapidjson::Document> list(const Resource& r, std::string_view ns,
                                   const ListOptions& options) override;
  // The namespace defaults to the object's metadata.namespace when `ns` is empty.
  Result<rapidjson::Document> create(const Resource& r, std::string_view ns,
                                     const rapidjson::Value& object) override;
  Result<rapidjson::Document> update(const Resource& r, std::string_view ns,
                                     const rapidjson::Value& object,
                                     std::string_view subresource = {}) override;
  Result<rapidjson::Document> merge_patch(const Resource& r, std::string_view ns,
                                          std::string_view name, std::string_view patch,
                                          std::string_view subresource = {}) override;
  Status remove(const Resource& r, std::string_view ns, std::string_view name) override;

  // Each watch uses its own connection. An ERROR event is delivered to the handler and then
  // ends the watch with its typed error (410 → Errc::gone) whatever the handler returns. A
  // stream that ends mid-event or holds an undecodable line is Errc::parse; nothing received
  // for options.read_idle_timeout is Errc::timeout ("watch idle"). `stop` ends a blocked watch
  // within ~100 ms (ok).
  Status watch(const Resource& r, std::string_view ns, const WatchOptions& options,
               const WatchHandler& handler, const std::atomic<bool>& stop) override;

  const ClusterConfig& config() const;

  struct Impl;  // opaque (src/kube/client_impl.hpp)

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes everything but RFC 3986 unreserved characters (query values, path segments).
std::string url_encode(std::string_view text);

}  // namespace joulie::kube
