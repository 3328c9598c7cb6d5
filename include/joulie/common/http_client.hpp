#pragma once
// Outgoing HTTP(S) for everything that is not the Kubernetes API: the agent's simulator route
// (docs/design.md#http-simulator-contract) and the context sources (Prometheus, Open Inference
// Protocol models, docs/design.md#context-and-signals). Keep-alive clients are kept per origin (and
// CA file) and lent out one request at a time, so concurrent callers never share a connection and
// sequential calls reuse one. Thread-safe.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "joulie/common/result.hpp"

namespace joulie {

inline constexpr std::chrono::nanoseconds kDefaultHttpClientTimeout = std::chrono::seconds(2);

// An endpoint split into what httplib needs: "http://sim:8080/telemetry/n1?x=1" →
// {"http://sim:8080", "/telemetry/n1?x=1"}. Only http and https are accepted.
struct HttpUrl {
  std::string origin;  // scheme://host:port — the connection key
  std::string target;  // path + query, at least "/"
};
Result<HttpUrl> parse_http_url(std::string_view url);

// Text from a peer that ends up in status messages and logs: printable ASCII, bounded.
std::string peer_text(std::string_view text, std::size_t limit = 160);

// Per-request extras. The CA file is part of the connection key (a client verifies with one
// trust store); the token is sent as "Authorization: Bearer" and never logged.
struct HttpRequestOptions {
  std::string ca_file;       // HTTPS: verify the server with this bundle; empty: system store
  std::string bearer_token;  // empty: no Authorization header
  std::size_t max_body = 0;  // a longer reply body is refused (Errc::parse); 0: unbounded
};

class HttpClientPool {
 public:
  struct Response {
    int status = 0;
    std::string body;
  };

  explicit HttpClientPool(std::size_t max_idle_per_origin = 16);
  ~HttpClientPool();
  HttpClientPool(const HttpClientPool&) = delete;
  HttpClientPool& operator=(const HttpClientPool&) = delete;

  // Transport failures are errors (Errc::unavailable for connection failures, Errc::timeout when
  // no complete answer came within `timeout`, Errc::tls, Errc::parse for a body over max_body);
  // any HTTP status is a response.
  Result<Response> get(const std::string& url, std::chrono::nanoseconds timeout,
                       const HttpRequestOptions& options = {});
  Result<Response> post_json(const std::string& url, const std::string& body,
                             std::chrono::nanoseconds timeout,
                             const HttpRequestOptions& options = {}) {
    return post(url, body, "application/json", timeout, options);
  }
  Result<Response> post(const std::string& url, const std::string& body,
                        const std::string& content_type, std::chrono::nanoseconds timeout,
                        const HttpRequestOptions& options = {});

  // Connections opened so far (tests check reuse).
  std::size_t connections_created() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace joulie
