#include "joulie/agent/prometheus_source.hpp"

#include <fmt/format.h>

#include <cmath>

namespace joulie::agent {

namespace {

// The operator's PromQL client: HTTPS verified with the CA file, the token file re-read every
// 60 s, typed errors -- so the agent's source behaves exactly like the operator's signals.
signals::PromClientOptions client_options(const std::string& endpoint,
                                          std::chrono::nanoseconds timeout, const PromAuth& auth) {
  signals::PromClientOptions options;
  options.config.endpoint = endpoint;
  options.config.timeout = timeout;
  options.config.ca_file = auth.ca_file;
  options.config.bearer_token_file = auth.bearer_token_file;
  return options;
}

}  // namespace

PromReading single_prom_value(const Result<signals::PromResult>& result, SystemTime now,
                              const char* what) {
  PromReading out;
  out.timestamp = now;
  if (!result.ok()) {
    out.missing_reason =
        fmt::format("prometheus {} query failed: {}", what, result.error().message);
    return out;
  }
  const auto& samples = result->samples;
  if (samples.empty()) {
    out.missing_reason = fmt::format("prometheus {} query returned no series", what);
    return out;
  }
  if (samples.size() > 1) {
    out.missing_reason = fmt::format("prometheus {} query returned {} series, expected exactly one",
                                     what, samples.size());
    return out;
  }
  const auto& sample = samples.front();
  out.timestamp = sample.timestamp;
  if (!std::isfinite(sample.value)) {
    out.missing_reason = fmt::format("prometheus {} value is not a finite number", what);
    return out;
  }
  out.value = sample.value;
  return out;
}

PromValueQuery::PromValueQuery(HttpClientPool& pool, const std::string& endpoint,
                               const std::string& query, const std::string& node,
                               std::chrono::nanoseconds timeout, const Clock& clock,
                               const PromAuth& auth)
    : client_(pool, client_options(endpoint, timeout, auth), clock),
      query_(signals::expand_node(query, node)),
      clock_(clock) {}

PromReading PromValueQuery::read(const char* what) {
  return single_prom_value(client_.query(query_), clock_.now(), what);
}

TelemetrySample PrometheusTelemetry::sample() {
  PromReading reading = read("power");
  TelemetrySample out;
  out.timestamp = reading.timestamp;
  out.missing_reason = std::move(reading.missing_reason);
  if (reading.value && *reading.value < 0) {
    out.missing_reason = "prometheus power value is negative";
  } else {
    out.watts = reading.value;
  }
  return out;
}

}  // namespace joulie::agent
