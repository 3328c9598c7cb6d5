#pragma once
// Non-2xx answers from the API server as typed errors. The server's `Status` object (kind Status,
// code, reason, message) is preferred; any other body still gives an error typed from the HTTP
// code, so callers can switch on Errc without looking at bodies.

#include <rapidjson/document.h>

#include <string_view>

#include "joulie/common/result.hpp"

namespace joulie::kube {

// Errc for an HTTP status and, when known, a Kubernetes Status.reason ("NotFound", "Conflict"…).
// The reason wins when it is one we know (409 AlreadyExists vs 409 Conflict).
Errc errc_from_http(int http_status, std::string_view reason = {});

// A Kubernetes Status object (from a body or a watch ERROR event). `fallback_http` is used when
// the object carries no code.
Error error_from_status(const rapidjson::Value& status, int fallback_http);

// Any non-2xx answer. The message names the HTTP status; bodies that are not a Status object are
// summarised (first bytes, printable characters only), never echoed in full.
Error error_from_response(int http_status, std::string_view body);

}  // namespace joulie::kube
