#pragma once
// HTTP(S) connections to the API server: creation (TLS context, client identity, server name),
// a small keep-alive pool for normal requests, and httplib transport errors as typed errors.
// Private to src/kube: includes cpp-httplib.

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "credentials.hpp"
#include "joulie/common/result.hpp"
#include "joulie/kube/config.hpp"
#include "tls.hpp"

namespace joulie::kube {

struct ServerAddress {
  bool https = true;
  std::string host;  // without IPv6 brackets
  int port = 443;
  std::string base_path;    // "" or "/prefix" (no trailing slash)
  std::string host_header;  // "host:port" as the URL spelled it
};

// Errc::invalid_argument for anything but http(s)://host[:port][/path].
Result<ServerAddress> parse_server_url(std::string_view url);

struct Connection {
  std::unique_ptr<httplib::ClientImpl> http;
  std::unique_ptr<TlsVerifyState> verify;  // null for plain HTTP
  uint64_t tls_generation = 0;
};

class ConnectionFactory {
 public:
  struct Timeouts {
    std::chrono::milliseconds connect{10000};
    std::chrono::milliseconds read{60000};
  };

  ConnectionFactory(ServerAddress server, const ClusterConfig& config, Timeouts timeouts);

  // A new connection (not yet connected) using `credentials`' client certificate.
  Result<std::unique_ptr<Connection>> make(const Credentials& credentials,
                                           std::chrono::milliseconds read_timeout) const;

  // An httplib failure as a typed error; `what` is "GET /api/v1/nodes".
  Error transport_error(httplib::Error error, const Connection& connection,
                        std::string_view what) const;

  const ServerAddress& server() const { return server_; }

 private:
  ServerAddress server_;
  std::string ca_pem_;
  bool insecure_ = false;
  std::string tls_server_name_;
  Timeouts timeouts_;
};

// Idle keep-alive connections, one request at a time each. Connections built for an older
// client certificate (tls_generation) are dropped.
class ConnectionPool {
 public:
  explicit ConnectionPool(size_t max_idle) : max_idle_(max_idle) {}

  std::unique_ptr<Connection> take(uint64_t tls_generation);
  void give_back(std::unique_ptr<Connection> connection, uint64_t current_generation);

 private:
  size_t max_idle_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace joulie::kube
