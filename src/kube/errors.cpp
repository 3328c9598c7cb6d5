#include "joulie/kube/errors.hpp"

#include <fmt/format.h>

#include <limits>
#include <string>

#include "joulie/kube/json.hpp"
#include "joulie/kube/json_fields.hpp"

namespace joulie::kube {

namespace {

std::string printable_prefix(std::string_view body, size_t max_len) {
  std::string out;
  for (char c : body.substr(0, max_len)) {
    out += (c >= 0x20 && c < 0x7f) ? c : ' ';
  }
  if (body.size() > max_len) {
    out += "…";
  }
  return out;
}

}  // namespace

Errc errc_from_http(int http_status, std::string_view reason) {
  if (reason == "NotFound") return Errc::not_found;
  if (reason == "AlreadyExists") return Errc::already_exists;
  if (reason == "Conflict") return Errc::conflict;
  if (reason == "Forbidden") return Errc::forbidden;
  if (reason == "Unauthorized") return Errc::unauthorized;
  if (reason == "Gone" || reason == "Expired") return Errc::gone;
  if (reason == "TooManyRequests") return Errc::too_many_requests;
  if (reason == "Invalid") return Errc::invalid;
  if (reason == "BadRequest") return Errc::bad_request;
  if (reason == "MethodNotAllowed" || reason == "UnsupportedMediaType" ||
      reason == "NotAcceptable") {
    return Errc::unsupported;
  }
  if (reason == "Timeout" || reason == "ServerTimeout") return Errc::timeout;
  if (reason == "InternalError" || reason == "ServiceUnavailable") return Errc::server_error;
  switch (http_status) {
    case 400:
      return Errc::bad_request;
    case 401:
      return Errc::unauthorized;
    case 403:
      return Errc::forbidden;
    case 404:
      return Errc::not_found;
    case 405:
    case 406:
    case 415:
      return Errc::unsupported;
    case 409:
      return Errc::conflict;
    case 410:
      return Errc::gone;
    case 422:
      return Errc::invalid;
    case 429:
      return Errc::too_many_requests;
    case 504:
      return Errc::timeout;
    default:
      break;
  }
  if (http_status >= 500) {
    return Errc::server_error;
  }
  return Errc::bad_request;  // any other non-2xx: the request was not acceptable
}

Error error_from_status(const rapidjson::Value& status, int fallback_http) {
  int code = fallback_http;
  // A code outside 1..INT_MAX (or not an integer) is no HTTP status: keep the transport's.
  if (const auto c = json::int_at(status, "code");
      c && *c > 0 && *c <= std::numeric_limits<int>::max()) {
    code = static_cast<int>(*c);
  }
  std::string reason(json::string_or_empty(status, "reason"));
  std::string message(json::string_or_empty(status, "message"));
  if (message.empty()) {
    message = reason.empty() ? fmt::format("HTTP {}", code) : reason;
  }
  const Errc errc = errc_from_http(code, reason);  // before `reason` is moved from
  return Error(errc, std::move(message), code, std::move(reason));
}

Error error_from_response(int http_status, std::string_view body) {
  auto parsed = parse_object(body);
  if (parsed.ok()) {
    const auto& doc = parsed.value();
    if (json::string_or_empty(doc, "kind") == "Status") {
      Error e = error_from_status(doc, http_status);
      e.http_status = http_status;  // the transport's code is authoritative
      if (e.reason.empty()) {
        e.code = errc_from_http(http_status);
      }
      return e;
    }
  }
  std::string message = fmt::format("HTTP {}", http_status);
  if (!body.empty()) {
    message += ": " + printable_prefix(body, 200);
  }
  return Error(errc_from_http(http_status), std::move(message), http_status);
}

}  // namespace joulie::kube
