// Requests with retries, authentication refresh, rate limiting and typed errors.
#include "joulie/kube/client.hpp"
#include "joulie/kube/json_fields.hpp"

#include <fmt/format.h>

#include <new>
#include <thread>

#include "client_impl.hpp"
#include "joulie/common/log.hpp"
#include "joulie/kube/errors.hpp"
#include "joulie/kube/json.hpp"
#include "joulie/kube/retry.hpp"
#include "kube_version.hpp"

namespace joulie::kube {

namespace {

struct RequestSpec {
  std::string_view verb;  // metrics: get, list, create, update, patch, delete
  const Resource* resource = nullptr;
  const char* method = "GET";
  std::string path;  // with query, without the server's base path
  std::string body;
  const char* content_type = nullptr;
};

struct RawResponse {
  int status = 0;
  std::string body;
};

void append_query(std::string& path, std::string_view key, std::string_view value) {
  if (value.empty()) {
    return;
  }
  path += path.find('?') == std::string::npos ? '?' : '&';
  path += key;
  path += '=';
  path += url_encode(value);
}

std::string object_name(const rapidjson::Value& object, const char* field) {
  return std::string(json::string_or_empty(json::object_at(object, "metadata"), field));
}

// Transport failures worth another attempt: nothing was sent (connect) or the verb is a read.
bool retryable_transport(Errc code, std::string_view method) {
  if (code == Errc::unavailable || code == Errc::timeout) {
    return true;
  }
  return code == Errc::io && method == "GET";
}

// Sends one request with retries; returns a 2xx answer or a typed error.
Result<RawResponse> execute(Client::Impl& impl, const RequestSpec& spec) {
  const SteadyTime started = std::chrono::steady_clock::now();
  const std::string what = fmt::format("{} {}", spec.method, spec.path.substr(0, 200));
  bool auth_retried = false;
  int retries = 0;
  for (int attempt = 1;; ++attempt) {
    impl.throttle();
    auto credentials = impl.credentials.current();
    if (!credentials.ok()) {
      return std::move(credentials).error();
    }
    std::unique_ptr<Connection> conn = impl.pool.take(credentials->tls_generation);
    if (!conn) {
      auto made = impl.connections.make(credentials.value(), impl.options.request_timeout);
      if (!made.ok()) {
        return std::move(made).error();
      }
      conn = std::move(made.value());
    }

    httplib::Request req;
    req.method = spec.method;
    req.path = impl.url_path(spec.path);
    req.headers.emplace("User-Agent", impl.user_agent());
    req.headers.emplace("Accept", "application/json");
    req.headers.emplace("Host", impl.connections.server().host_header);
    if (!credentials->token.empty()) {
      req.headers.emplace("Authorization", "Bearer " + credentials->token);
    }
    if (spec.content_type != nullptr) {
      req.headers.emplace("Content-Type", spec.content_type);
      req.body = spec.body;
    }
    RawResponse out;
    bool too_large = false;
    const size_t max_bytes = impl.options.max_response_bytes;
    req.content_receiver = [&](const char* data, size_t n, uint64_t offset, uint64_t total) {
      if (out.body.size() + n > max_bytes) {
        too_large = true;
        return false;
      }
      // A list page is MiBs: grown by appending, its body is copied at every doubling and the old
      // and new buffers are alive together (up to 3x the page at once). Content-Length, when sent
      // and within the limit, sizes it once; chunked answers (total 0) still grow.
      if (offset == 0 && total > 0 && total <= max_bytes) {
        try {
          out.body.reserve(static_cast<size_t>(total));
        } catch (const std::bad_alloc&) {
          // Only an optimisation: the length may lie; the body still grows as it arrives.
        }
      }
      out.body.append(data, n);
      return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    const bool sent = conn->http->send(req, res, err);

    Error failure;
    std::string retry_after;
    if (!sent) {
      impl.count(spec.verb, *spec.resource, "<error>");
      if (too_large) {
        return Error(Errc::parse,
                     fmt::format("{}: response larger than {} bytes", what, max_bytes));
      }
      failure = impl.connections.transport_error(err, *conn, what);
      if (!retryable_transport(failure.code, spec.method)) {
        return failure;
      }
    } else {
      impl.pool.give_back(std::move(conn), credentials->tls_generation);
      impl.count(spec.verb, *spec.resource, std::to_string(res.status));
      out.status = res.status;
      if (res.status >= 200 && res.status < 300) {
        return out;
      }
      failure = error_from_response(res.status, out.body);
      if (res.status == 401 && !auth_retried && impl.credentials.invalidate()) {
        // Rotated token file or expired exec credential: refresh and try once more.
        auth_retried = true;
        log::info("kube", "unauthorized, refreshing credentials", {{"request", what}});
        continue;
      }
      if (!retryable_status(res.status)) {
        return failure;
      }
      retry_after = res.get_header_value("Retry-After");
    }

    ++retries;
    const auto& policy = impl.options.retry;
    if (attempt >= policy.max_attempts) {
      return failure;
    }
    auto delay =
        parse_retry_after(retry_after).value_or(backoff_delay(policy, retries, impl.jitter()));
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (elapsed + delay > policy.max_total) {
      return failure;
    }
    log::debug(
        "kube", "retrying request",
        {{"request", what}, {"error", failure}, {"delay_ms", static_cast<int64_t>(delay.count())}});
    std::this_thread::sleep_for(delay);
  }
}

Result<rapidjson::Document> parse_body(Result<RawResponse> response) {
  if (!response.ok()) {
    return std::move(response).error();
  }
  auto doc = parse_object(response->body);
  if (!doc.ok()) {
    return Error(Errc::parse, "API server answer: " + doc.error().message, response->status);
  }
  return doc;
}

}  // namespace

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void Client::Impl::count(std::string_view verb, const Resource& r, std::string_view code) {
  if (requests_total != nullptr) {
    requests_total->with({std::string(verb), r.plural, std::string(code)}).inc();
  }
}

void Client::Impl::throttle() {
  const auto wait = limiter.reserve();
  if (wait.count() > 0) {
    std::this_thread::sleep_for(wait);
  }
}

double Client::Impl::jitter() {
  std::lock_guard<std::mutex> lock(random_mutex);
  return std::uniform_real_distribution<double>(0.0, 1.0)(random);
}

std::string Client::Impl::user_agent() const {
  return options.user_agent.empty() ? std::string("joulie/") + JOULIE_KUBE_VERSION
                                    : options.user_agent;
}

Result<std::unique_ptr<Client>> Client::create(ClusterConfig config, ClientOptions options) {
  auto server = parse_server_url(config.server);
  if (!server.ok()) {
    return std::move(server).error();
  }
  const Clock& clock = options.clock != nullptr ? *options.clock : RealClock::instance();
  auto impl = std::make_unique<Impl>(std::move(config), std::move(options),
                                     std::move(server.value()), clock);
  if (impl->options.metrics != nullptr) {
    impl->requests_total = &impl->options.metrics->counter(
        "joulie_kube_requests_total",
        "Requests to the Kubernetes API server by verb, resource and HTTP code "
        "(\"<error>\": no answer)",
        {"verb", "resource", "code"});
  }
  // Fail early on unusable TLS material (bad CA or key) rather than at the first request.
  if (impl->connections.server().https) {
    Credentials probe;
    probe.client_cert_pem = impl->config.client_cert_pem;
    probe.client_key_pem = impl->config.client_key_pem;
    auto conn = impl->connections.make(probe, impl->options.request_timeout);
    if (!conn.ok()) {
      return std::move(conn).error();
    }
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const ClusterConfig& Client::config() const { return impl_->config; }

Result<rapidjson::Document> Client::get(const Resource& r, std::string_view ns,
                                        std::string_view name) {
  RequestSpec spec{"get", &r, "GET", r.path(url_encode(ns), url_encode(name)), {}, nullptr};
  return parse_body(execute(*impl_, spec));
}

Result<rapidjson::Document> Client::list(const Resource& r, std::string_view ns,
                                         const ListOptions& options) {
  std::string path = r.path(url_encode(ns));
  append_query(path, "labelSelector", options.label_selector);
  append_query(path, "fieldSelector", options.field_selector);
  if (options.limit > 0) {
    append_query(path, "limit", std::to_string(options.limit));
  }
  append_query(path, "continue", options.continue_token);
  append_query(path, "resourceVersion", options.resource_version);
  RequestSpec spec{"list", &r, "GET", std::move(path), {}, nullptr};
  return parse_body(execute(*impl_, spec));
}

Result<rapidjson::Document> Client::create(const Resource& r, std::string_view ns,
                                           const rapidjson::Value& object) {
  const std::string object_ns = ns.empty() ? object_name(object, "namespace") : std::string(ns);
  RequestSpec spec{"create",          &r, "POST", r.path(url_encode(object_ns)), to_json(object),
                   "application/json"};
  return parse_body(execute(*impl_, spec));
}

Result<rapidjson::Document> Client::update(const Resource& r, std::string_view ns,
                                           const rapidjson::Value& object,
                                           std::string_view subresource) {
  const std::string name = object_name(object, "name");
  if (name.empty()) {
    return Error(Errc::invalid_argument, "update: object has no metadata.name");
  }
  const std::string object_ns = ns.empty() ? object_name(object, "namespace") : std::string(ns);
  RequestSpec spec{"update",        &r,
                   "PUT",           r.path(url_encode(object_ns), url_encode(name), subresource),
                   to_json(object), "application/json"};
  return parse_body(execute(*impl_, spec));
}

Result<rapidjson::Document> Client::merge_patch(const Resource& r, std::string_view ns,
                                                std::string_view name, std::string_view patch,
                                                std::string_view subresource) {
  if (name.empty()) {
    return Error(Errc::invalid_argument, "merge_patch: empty name");
  }
  RequestSpec spec{"patch",
                   &r,
                   "PATCH",
                   r.path(url_encode(ns), url_encode(name), subresource),
                   std::string(patch),
                   "application/merge-patch+json"};
  return parse_body(execute(*impl_, spec));
}

Status Client::remove(const Resource& r, std::string_view ns, std::string_view name) {
  if (name.empty()) {
    return Error(Errc::invalid_argument, "remove: empty name");
  }
  RequestSpec spec{"delete", &r, "DELETE", r.path(url_encode(ns), url_encode(name)), {}, nullptr};
  auto response = execute(*impl_, spec);
  if (!response.ok()) {
    return response.error();
  }
  return Status::success();
}

}  // namespace joulie::kube
