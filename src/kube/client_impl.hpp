#pragma once
// Client internals shared by client.cpp (requests) and watch.cpp (streams).

#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "connection.hpp"
#include "credentials.hpp"
#include "joulie/common/metrics.hpp"
#include "joulie/kube/client.hpp"
#include "rate_limiter.hpp"

namespace joulie::kube {

struct Client::Impl {
  Impl(ClusterConfig cfg, ClientOptions opts, ServerAddress server, const Clock& clk)
      : config(std::move(cfg)),
        options(std::move(opts)),
        clock(clk),
        connections(server, config,
                    ConnectionFactory::Timeouts{options.connect_timeout, options.request_timeout}),
        pool(options.max_idle_connections),
        credentials(config,
                    CredentialSource::Options{options.token_reread_period, options.exec_timeout},
                    clk),
        limiter(options.qps, options.burst, clk) {}

  // Counts one HTTP exchange: code is the HTTP status or "<error>".
  void count(std::string_view verb, const Resource& r, std::string_view code);
  // Waits for a rate-limiter token.
  void throttle();
  double jitter();
  std::string user_agent() const;
  std::string url_path(std::string path_and_query) const {
    return connections.server().base_path + path_and_query;
  }

  ClusterConfig config;
  ClientOptions options;
  const Clock& clock;
  ConnectionFactory connections;
  ConnectionPool pool;
  CredentialSource credentials;
  TokenBucket limiter;
  metrics::Family<metrics::Counter>* requests_total = nullptr;
  std::mutex random_mutex;
  std::mt19937_64 random{std::random_device{}()};
};

}  // namespace joulie::kube
