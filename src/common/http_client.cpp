#include "joulie/common/http_client.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <map>
#include <mutex>
#include <vector>

namespace joulie {

namespace {

void set_timeouts(httplib::Client& client, std::chrono::nanoseconds timeout) {
  if (timeout <= std::chrono::nanoseconds::zero()) {
    timeout = kDefaultHttpClientTimeout;
  }
  auto sec = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  auto usec = std::chrono::duration_cast<std::chrono::microseconds>(timeout - sec);
  client.set_connection_timeout(static_cast<time_t>(sec.count()),
                                static_cast<time_t>(usec.count()));
  client.set_read_timeout(static_cast<time_t>(sec.count()), static_cast<time_t>(usec.count()));
  client.set_write_timeout(static_cast<time_t>(sec.count()), static_cast<time_t>(usec.count()));
}

Error transport_error(httplib::Error error, const std::string& url) {
  switch (error) {
    case httplib::Error::Connection:
    case httplib::Error::ConnectionTimeout:
    case httplib::Error::BindIPAddress:
      return Error(Errc::unavailable, fmt::format("cannot connect to {}", peer_text(url)));
    case httplib::Error::Read:
      return Error(
          Errc::timeout,
          fmt::format("no complete reply from {} (timeout or connection closed)", peer_text(url)));
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLLoadingCerts:
    case httplib::Error::SSLServerVerification:
      return Error(Errc::tls, fmt::format("TLS with {} failed: {}", peer_text(url),
                                          httplib::to_string(error)));
    default:
      return Error(Errc::io, fmt::format("request to {} failed: {}", peer_text(url),
                                         httplib::to_string(error)));
  }
}

}  // namespace

std::string peer_text(std::string_view text, std::size_t limit) {
  std::string out;
  for (char c : text.substr(0, limit)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (text.size() > limit) {
    out += "...";
  }
  return out;
}

Result<HttpUrl> parse_http_url(std::string_view url) {
  std::string_view rest;
  std::string scheme;
  if (url.rfind("http://", 0) == 0) {
    scheme = "http";
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    scheme = "https";
    rest = url.substr(8);
  } else {
    return Error(Errc::invalid_argument,
                 fmt::format("endpoint {} is not an http(s) URL", peer_text(url)));
  }
  auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  std::string target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!target.empty() && target.front() == '?') {
    target.insert(target.begin(), '/');
  }
  if (authority.empty() || authority.find('@') != std::string_view::npos ||
      authority.find_first_of(" \t\r\n") != std::string_view::npos) {
    return Error(Errc::invalid_argument,
                 fmt::format("endpoint {} has no usable host", peer_text(url)));
  }
  std::string origin = scheme + "://" + std::string(authority);
  // Without a port httplib picks the scheme's default; make the connection key explicit.
  bool has_port = false;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    has_port = close != std::string_view::npos && close + 1 < authority.size() &&
               authority[close + 1] == ':';
  } else {
    has_port = authority.find(':') != std::string_view::npos;
  }
  if (!has_port) {
    origin += scheme == "http" ? ":80" : ":443";
  }
  return HttpUrl{std::move(origin), std::move(target)};
}

struct HttpClientPool::Impl {
  std::size_t max_idle;
  mutable std::mutex mutex;
  std::map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle;
  std::size_t created = 0;

  static std::string key_of(const std::string& origin, const HttpRequestOptions& options) {
    return options.ca_file.empty() ? origin : origin + '\n' + options.ca_file;
  }

  std::unique_ptr<httplib::Client> acquire(const std::string& origin,
                                           const HttpRequestOptions& options) {
    {
      std::lock_guard lock(mutex);
      auto& clients = idle[key_of(origin, options)];
      if (!clients.empty()) {
        auto client = std::move(clients.back());
        clients.pop_back();
        return client;
      }
      ++created;
    }
    auto client = std::make_unique<httplib::Client>(origin);
    client->set_keep_alive(true);
    // Headers and body go out in separate writes: without TCP_NODELAY the body waits for the
    // peer's delayed ACK (~40 ms per request), which caps a pool process at a few hundred nodes.
    client->set_tcp_nodelay(true);
    if (!options.ca_file.empty()) {
      client->set_ca_cert_path(options.ca_file);
    }
    return client;
  }

  void release(const std::string& key, std::unique_ptr<httplib::Client> client) {
    std::lock_guard lock(mutex);
    auto& clients = idle[key];
    if (clients.size() < max_idle) {
      clients.push_back(std::move(client));
    }
  }

  // `send(client, target, headers, receiver)`: the receiver bounds the body.
  template <typename Send>
  Result<Response> request(const std::string& url, std::chrono::nanoseconds timeout,
                           const HttpRequestOptions& options, Send send) {
    auto parsed = parse_http_url(url);
    if (!parsed.ok()) {
      return parsed.error();
    }
    auto client = acquire(parsed->origin, options);
    set_timeouts(*client, timeout);
    httplib::Headers headers;
    if (!options.bearer_token.empty()) {
      headers.emplace("Authorization", "Bearer " + options.bearer_token);
    }
    std::string body;
    bool too_large = false;
    httplib::ContentReceiver receiver = [&](const char* data, size_t length) {
      if (options.max_body != 0 && body.size() + length > options.max_body) {
        too_large = true;
        return false;
      }
      body.append(data, length);
      return true;
    };
    httplib::Result result = send(*client, parsed->target, headers, receiver);
    if (!result) {
      // A client that failed mid-request is dropped rather than reused.
      if (too_large) {
        return Error(Errc::parse, fmt::format("reply from {} is larger than {} bytes",
                                              peer_text(url), options.max_body));
      }
      return transport_error(result.error(), url);
    }
    Response response{result->status, std::move(body)};
    release(key_of(parsed->origin, options), std::move(client));
    return response;
  }
};

HttpClientPool::HttpClientPool(std::size_t max_idle_per_origin) : impl_(std::make_unique<Impl>()) {
  impl_->max_idle = max_idle_per_origin;
}

HttpClientPool::~HttpClientPool() = default;

std::size_t HttpClientPool::connections_created() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->created;
}

Result<HttpClientPool::Response> HttpClientPool::get(const std::string& url,
                                                     std::chrono::nanoseconds timeout,
                                                     const HttpRequestOptions& options) {
  return impl_->request(url, timeout, options,
                        [](httplib::Client& client, const std::string& target,
                           const httplib::Headers& headers, httplib::ContentReceiver& receiver) {
                          return client.Get(target.c_str(), headers, receiver);
                        });
}

Result<HttpClientPool::Response> HttpClientPool::post(const std::string& url,
                                                      const std::string& body,
                                                      const std::string& content_type,
                                                      std::chrono::nanoseconds timeout,
                                                      const HttpRequestOptions& options) {
  return impl_->request(
      url, timeout, options,
      [&body, &content_type](httplib::Client& client, const std::string& target,
                             const httplib::Headers& headers, httplib::ContentReceiver& receiver) {
        // httplib's Post has no content receiver: send through a Request (same keep-alive).
        httplib::Request req;
        req.method = "POST";
        req.path = target;
        req.headers = headers;
        req.set_header("Content-Type", content_type);
        req.body = body;
        req.content_receiver = [&receiver](const char* data, size_t length, uint64_t, uint64_t) {
          return receiver(data, length);
        };
        return client.send(req);
      });
}

}  // namespace joulie
