#pragma once
// The small HTTP server both modes run on --metrics-addr: /metrics (Prometheus text 0.0.4),
// /healthz (200 while the process is alive) and /readyz (200 when the readiness check says so,
// 503 with the reason otherwise). It serves on its own threads; start() binds synchronously so
// a bad or busy address is reported to the caller instead of being discovered later.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "joulie/common/result.hpp"

namespace joulie::metrics {
class Registry;
}

namespace joulie {

// Go's listen address syntax: "host:port", ":port" (all interfaces), "[v6addr]:port".
// Port 0 asks the kernel for a free port.
struct ListenAddress {
  std::string host;  // empty = all interfaces
  int port = 0;
};
Result<ListenAddress> parse_listen_address(std::string_view text);

struct Readiness {
  bool ready = false;
  std::string reason;  // shown in the 503 body when not ready
};
// Called on a server thread for every /readyz request: must be thread-safe and cheap.
using ReadinessCheck = std::function<Readiness()>;

class HttpEndpoint {
 public:
  // An empty readiness check means "always ready". The registry must outlive the endpoint.
  HttpEndpoint(std::string address, const metrics::Registry& registry,
               ReadinessCheck readiness = {});
  ~HttpEndpoint();  // stops the server
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // Binds and starts serving; call once per endpoint. Errors name the address (bad syntax,
  // in use, no permission).
  Status start();
  // Closes the listener and waits for the server threads; idempotent.
  void stop();

  // The bound port (useful with port 0); 0 before a successful start().
  int port() const;
  const std::string& address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace joulie
