#include "joulie/agent/http_route.hpp"

#include <httplib.h>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <cmath>
#include <map>
#include <mutex>
#include <vector>

#include "joulie/common/duration.hpp"
#include "kube/json.hpp"

namespace joulie::agent {

namespace {

// Text from a peer that ends up in status messages and logs: printable ASCII, bounded.
std::string peer_text(std::string_view text, std::size_t limit = 160) {
  std::string out;
  for (char c : text.substr(0, limit)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (text.size() > limit) {
    out += "...";
  }
  return out;
}

void set_timeouts(httplib::Client& client, std::chrono::nanoseconds timeout) {
  if (timeout <= std::chrono::nanoseconds::zero()) {
    timeout = kDefaultHttpTimeout;
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

  std::unique_ptr<httplib::Client> acquire(const std::string& origin) {
    {
      std::lock_guard lock(mutex);
      auto& clients = idle[origin];
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
    return client;
  }

  void release(const std::string& origin, std::unique_ptr<httplib::Client> client) {
    std::lock_guard lock(mutex);
    auto& clients = idle[origin];
    if (clients.size() < max_idle) {
      clients.push_back(std::move(client));
    }
  }

  template <typename Send>
  Result<Response> request(const std::string& url, std::chrono::nanoseconds timeout, Send send) {
    auto parsed = parse_http_url(url);
    if (!parsed.ok()) {
      return parsed.error();
    }
    auto client = acquire(parsed->origin);
    set_timeouts(*client, timeout);
    httplib::Result result = send(*client, parsed->target);
    if (!result) {
      // A client that failed mid-request is dropped rather than reused.
      return transport_error(result.error(), url);
    }
    Response response{result->status, std::move(result->body)};
    release(parsed->origin, std::move(client));
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
                                                     std::chrono::nanoseconds timeout) {
  return impl_->request(url, timeout, [](httplib::Client& client, const std::string& target) {
    return client.Get(target.c_str());
  });
}

Result<HttpClientPool::Response> HttpClientPool::post_json(const std::string& url,
                                                           const std::string& body,
                                                           std::chrono::nanoseconds timeout) {
  return impl_->request(url, timeout, [&body](httplib::Client& client, const std::string& target) {
    return client.Post(target.c_str(), body, "application/json");
  });
}

TelemetrySample parse_telemetry_reply(std::string_view body, SystemTime received_at) {
  TelemetrySample sample;
  sample.timestamp = received_at;
  // kube::parse_object: bounded nesting (a hostile or broken simulator must not overflow our
  // stack with deeply nested arrays, found by the sim_reply fuzz target) and defined, correctly
  // rounded numbers (docs/decisions.md, "JSON numbers").
  auto parsed_body = kube::parse_object(body);
  if (!parsed_body.ok()) {
    sample.missing_reason = "telemetry reply is not a JSON object";
    return sample;
  }
  // Const view: comparing RapidJSON's mutable member iterators is ambiguous in C++20.
  const rapidjson::Value& doc = parsed_body.value();
  const rapidjson::Value* power = nullptr;
  if (auto it = doc.FindMember("packagePowerWatts"); it != doc.MemberEnd()) {
    power = &it->value;
  } else if (auto cpu = doc.FindMember("cpu"); cpu != doc.MemberEnd() && cpu->value.IsObject()) {
    if (auto inner = cpu->value.FindMember("packagePowerWatts"); inner != cpu->value.MemberEnd()) {
      power = &inner->value;
    }
  }
  if (power == nullptr) {
    sample.missing_reason = "telemetry reply has no packagePowerWatts";
    return sample;
  }
  if (!power->IsNumber() || !std::isfinite(power->GetDouble()) || power->GetDouble() < 0) {
    sample.missing_reason = "telemetry packagePowerWatts is not a non-negative number";
    return sample;
  }
  if (auto ts = doc.FindMember("ts"); ts != doc.MemberEnd() && !ts->value.IsNull()) {
    if (!ts->value.IsString()) {
      sample.missing_reason = "telemetry ts is not a string";
      return sample;
    }
    auto parsed =
        parse_rfc3339(std::string_view(ts->value.GetString(), ts->value.GetStringLength()));
    if (!parsed.ok()) {
      sample.missing_reason = "telemetry ts is not RFC 3339";
      return sample;
    }
    sample.timestamp = *parsed;
  }
  sample.watts = power->GetDouble() + 0.0;  // -0.0 (a valid reading of nothing) reads as 0
  return sample;
}

TelemetrySample HttpTelemetry::sample() {
  auto reply = pool_.get(url_, timeout_);
  SystemTime now = clock_.now();
  if (!reply.ok()) {
    TelemetrySample missing;
    missing.timestamp = now;
    missing.missing_reason = "telemetry request failed: " + reply.error().message;
    return missing;
  }
  if (reply->status < 200 || reply->status > 299) {
    TelemetrySample missing;
    missing.timestamp = now;
    missing.missing_reason = fmt::format("telemetry endpoint answered HTTP {}", reply->status);
    return missing;
  }
  return parse_telemetry_reply(reply->body, now);
}

ControlOutcome interpret_control_reply(Backend backend,
                                       const Result<HttpClientPool::Response>& reply,
                                       std::string_view action) {
  ControlOutcome out;
  out.backend = backend;
  if (!reply.ok()) {
    out.result = ApplyResult::error;
    out.message = fmt::format("{} failed: {}", action, reply.error().message);
    // Connection refused/reset, timeout, TLS trouble: no verdict from the simulator. Only a URL
    // we cannot even send to (our configuration) is not worth retrying.
    out.transient = reply.error().code != Errc::invalid_argument;
    return out;
  }
  std::string result_field;
  std::string message_field;
  auto parsed_body = kube::parse_object(reply->body);
  if (parsed_body.ok()) {
    const rapidjson::Value& doc = parsed_body.value();
    if (auto it = doc.FindMember("result"); it != doc.MemberEnd() && it->value.IsString()) {
      result_field.assign(it->value.GetString(), it->value.GetStringLength());
    }
    if (auto it = doc.FindMember("message"); it != doc.MemberEnd() && it->value.IsString()) {
      message_field =
          peer_text(std::string_view(it->value.GetString(), it->value.GetStringLength()));
    }
  }
  std::string detail = message_field.empty() ? "" : ": " + message_field;
  if (reply->status < 200 || reply->status > 299) {
    out.result = ApplyResult::error;
    out.message =
        fmt::format("{} failed: simulator answered HTTP {}{}", action, reply->status, detail);
    // 5xx: the server (or a proxy in front of it) failed, whatever its body says; 408 and 429
    // say "not now" (timeout, overload). Other 4xx and the rest are a verdict on the request.
    out.transient = (reply->status >= 500 && reply->status <= 599) || reply->status == 408 ||
                    reply->status == 429;
    return out;
  }
  if (result_field.empty() || result_field == "applied") {
    out.result = ApplyResult::applied;
    return out;
  }
  if (result_field == "blocked") {
    out.result = ApplyResult::blocked;
    out.message = fmt::format("simulator blocked {}{}", action, detail);
  } else if (result_field == "error") {
    out.result = ApplyResult::error;
    out.message = fmt::format("simulator reported an error for {}{}", action, detail);
  } else {
    out.result = ApplyResult::error;
    out.message =
        fmt::format("simulator answered result {:?} to {}", peer_text(result_field, 32), action);
  }
  return out;
}

std::string HttpControl::control_body(std::string_view action, double cap_watts,
                                      int throttle_pct) const {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("node");
  writer.String(node_.c_str(), static_cast<rapidjson::SizeType>(node_.size()));
  writer.Key("action");
  writer.String(action.data(), static_cast<rapidjson::SizeType>(action.size()));
  writer.Key("capWatts");
  writer.Double(cap_watts);
  writer.Key("throttlePct");
  writer.Int(throttle_pct);
  writer.Key("ts");
  std::string ts = format_rfc3339(clock_.now());
  writer.String(ts.c_str(), static_cast<rapidjson::SizeType>(ts.size()));
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

ControlOutcome HttpControl::apply_cap(double watts) {
  constexpr std::string_view kAction = "rapl.set_power_cap_watts";
  if (!std::isfinite(watts) || watts <= 0) {
    return {Backend::rapl, ApplyResult::error, "invalid cap: must be a positive number of watts",
            std::nullopt};
  }
  auto reply = pool_.post_json(url_, control_body(kAction, watts, -1), timeout_);
  ControlOutcome out = interpret_control_reply(Backend::rapl, reply, kAction);
  if (out.ok()) {
    out.applied_cap_watts = watts;
    out.message = fmt::format("simulator RAPL cap {:g} W applied", watts);
  } else {
    // A verdict (blocked/error reply, 4xx) means RAPL cannot be used; no answer says nothing.
    out.unavailable = !out.transient;
  }
  return out;
}

ControlOutcome HttpControl::apply_throttle(int pct, std::optional<double> cap_watts) {
  constexpr std::string_view kAction = "dvfs.set_throttle_pct";
  pct = std::clamp(pct, 0, 100);
  auto reply = pool_.post_json(url_, control_body(kAction, cap_watts.value_or(0.0), pct), timeout_);
  ControlOutcome out = interpret_control_reply(Backend::dvfs, reply, kAction);
  out.applied_cap_watts = cap_watts;
  if (out.ok()) {
    last_throttle_pct_ = pct;
    out.message = fmt::format("simulator DVFS throttle {}% applied", pct);
  } else {
    out.unavailable = out.result == ApplyResult::blocked;
  }
  return out;
}

ControlOutcome HttpControl::restore() {
  if (last_throttle_pct_ == 0) {
    return {Backend::none, ApplyResult::applied, "nothing to restore on the simulator",
            std::nullopt};
  }
  return apply_throttle(0, std::nullopt);
}

}  // namespace joulie::agent
