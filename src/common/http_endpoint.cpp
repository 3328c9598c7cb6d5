#include "joulie/common/http_endpoint.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>

#include "joulie/common/log.hpp"
#include "joulie/common/metrics.hpp"

namespace joulie {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextContentType = "text/plain; charset=utf-8";

Error address_error(std::string_view text, std::string_view why) {
  return Error(Errc::invalid_argument, fmt::format("address \"{}\": {}", text, why));
}

// SO_REUSEADDR only: cpp-httplib's default also sets SO_REUSEPORT, which would let a second
// process bind the same port silently and steal half the scrapes.
void listener_socket_options(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view text) {
  ListenAddress out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return address_error(text, "missing ']'");
    }
    out.host = std::string(text.substr(1, close - 1));
    if (out.host.empty()) {
      return address_error(text, "empty IPv6 address");
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return address_error(text, "missing port");
    }
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return address_error(text, "missing port (use host:port or :port)");
    }
    if (text.substr(0, colon).find(':') != std::string_view::npos) {
      return address_error(text, "too many colons (write IPv6 addresses as [addr]:port)");
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty()) {
    return address_error(text, "missing port");
  }
  int port = -1;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return address_error(text, fmt::format("invalid port \"{}\"", port_text));
  }
  out.port = port;
  return out;
}

struct HttpEndpoint::Impl {
  std::string address;
  const metrics::Registry& registry;
  ReadinessCheck readiness;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  bool started = false;
  bool attempted = false;  // httplib::Server is single-use: routes and options are set once

  Impl(std::string addr, const metrics::Registry& reg, ReadinessCheck ready)
      : address(std::move(addr)), registry(reg), readiness(std::move(ready)) {}

  void install_routes() {
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(registry.expose(), kMetricsContentType);
    });
    server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok\n", kTextContentType);
    });
    server.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      Readiness state = readiness ? readiness() : Readiness{true, {}};
      if (state.ready) {
        res.set_content("ok\n", kTextContentType);
        return;
      }
      res.status = 503;
      std::string body = state.reason.empty() ? std::string("not ready") : state.reason;
      res.set_content(body + "\n", kTextContentType);
    });
  }

  // Returns the bound port or -1 with errno describing the failure (when the OS set one).
  int bind(const std::string& host, int wanted_port) {
    errno = 0;
    if (wanted_port == 0) {
      return server.bind_to_any_port(host, host.empty() ? AI_PASSIVE : 0);
    }
    return server.bind_to_port(host, wanted_port, host.empty() ? AI_PASSIVE : 0) ? wanted_port : -1;
  }
};

HttpEndpoint::HttpEndpoint(std::string address, const metrics::Registry& registry,
                           ReadinessCheck readiness)
    : impl_(std::make_unique<Impl>(std::move(address), registry, std::move(readiness))) {}

HttpEndpoint::~HttpEndpoint() { stop(); }

Status HttpEndpoint::start() {
  if (impl_->attempted) {
    return Error(Errc::invalid_argument,
                 fmt::format("{}: an endpoint can only be started once", impl_->address));
  }
  impl_->attempted = true;
  auto parsed = parse_listen_address(impl_->address);
  if (!parsed) {
    return parsed.error();
  }
  auto& server = impl_->server;
  server.set_socket_options(listener_socket_options);
  // A few workers are plenty for scrapes and probes; a short keep-alive bounds how long an
  // idle scraper connection can delay stop().
  server.new_task_queue = [] { return new httplib::ThreadPool(4); };
  server.set_keep_alive_timeout(1);
  server.set_read_timeout(5, 0);
  server.set_write_timeout(5, 0);
  impl_->install_routes();

  int bound = -1;
  int saved_errno = 0;
  if (parsed->host.empty()) {
    // "::" with IPV6_V6ONLY off (cpp-httplib turns it off) serves IPv4 and IPv6 like Go's
    // ":port"; hosts without IPv6 fall back to IPv4 only.
    bound = impl_->bind("::", parsed->port);
    saved_errno = errno;
    if (bound < 0) {
      bound = impl_->bind("0.0.0.0", parsed->port);
      saved_errno = errno;
    }
  } else {
    bound = impl_->bind(parsed->host, parsed->port);
    saved_errno = errno;
  }
  if (bound < 0) {
    std::string why = saved_errno != 0 ? std::string(std::strerror(saved_errno))
                                       : std::string("cannot resolve or bind");
    return Error(Errc::unavailable, fmt::format("cannot listen on {}: {}", impl_->address, why));
  }
  impl_->port = bound;
  impl_->started = true;
  impl_->thread = std::thread([this] {
    if (!impl_->server.listen_after_bind()) {
      log::error("http", "metrics endpoint stopped accepting connections",
                 {{"address", impl_->address}});
    }
  });
  // Server::stop() is a no-op until the accept loop runs, so wait for it (bounded): stop()
  // right after start() must not leave the thread running forever.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!impl_->server.is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  log::info("http", "serving metrics and health probes",
            {{"address", impl_->address}, {"port", bound}});
  return Status::success();
}

void HttpEndpoint::stop() {
  if (!impl_->started) {
    return;
  }
  impl_->server.stop();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
  impl_->started = false;
}

int HttpEndpoint::port() const { return impl_->port; }

const std::string& HttpEndpoint::address() const { return impl_->address; }

}  // namespace joulie
