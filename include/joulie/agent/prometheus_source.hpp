#pragma once
// The TelemetryProfile's `prometheus` source type (docs/design.md#prometheus): one instant PromQL
// query per sample, `{node}` replaced by the node name escaped for a double-quoted PromQL string.
// Exactly one sample is expected: none → input missing; several → missing with the count; NaN/±Inf
// or a negative value → missing. The sample's own timestamp dates it, so a value older than
// --telemetry-ttl holds the DVFS controller like any stale input.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "joulie/agent/control.hpp"
#include "joulie/common/clock.hpp"
#include "joulie/common/http_client.hpp"
#include "joulie/signals/promql.hpp"

namespace joulie::agent {

// A reading of one value from a Prometheus query result. Pure (exposed for tests).
// `what` names the quantity in messages ("power", "temperature").
struct PromReading {
  std::optional<double> value;
  SystemTime timestamp{};
  std::string missing_reason;  // stable text: no per-sample numbers
};
PromReading single_prom_value(const Result<signals::PromResult>& result, SystemTime now,
                              const char* what);

// TLS and authentication of a prometheus source (TelemetryProfile caFile, bearerTokenFile).
struct PromAuth {
  std::string ca_file;
  std::string bearer_token_file;
};

class PrometheusTelemetry final : public TelemetryProvider {
 public:
  // `query` still holds "{node}"; it is expanded here.
  PrometheusTelemetry(HttpClientPool& pool, const std::string& endpoint, const std::string& query,
                      const std::string& node, std::chrono::nanoseconds timeout, const Clock& clock,
                      const PromAuth& auth = {});
  TelemetrySample sample() override;
  const std::string& query() const { return query_; }

 private:
  signals::PromClient client_;
  std::string query_;
  const Clock& clock_;
};

// The thermal family: the node's temperature in °C, exported as a metric (a reading for the
// operator's context and for dashboards; no control acts on it).
class PrometheusThermal {
 public:
  PrometheusThermal(HttpClientPool& pool, const std::string& endpoint, const std::string& query,
                    const std::string& node, std::chrono::nanoseconds timeout, const Clock& clock,
                    const PromAuth& auth = {});
  PromReading sample();

 private:
  signals::PromClient client_;
  std::string query_;
  const Clock& clock_;
};

}  // namespace joulie::agent
