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

// One instant query of a single value, `{node}` expanded: what both prometheus sources are. They
// inherit its constructor, so the two cannot drift apart in how they build the client.
class PromValueQuery {
 public:
  // `query` still holds "{node}"; it is expanded here.
  PromValueQuery(HttpClientPool& pool, const std::string& endpoint, const std::string& query,
                 const std::string& node, std::chrono::nanoseconds timeout, const Clock& clock,
                 const PromAuth& auth = {});
  const std::string& query() const { return query_; }

 protected:
  // `what` names the quantity in the missing reasons.
  PromReading read(const char* what);

 private:
  signals::PromClient client_;
  std::string query_;
  const Clock& clock_;
};

class PrometheusTelemetry final : public TelemetryProvider, public PromValueQuery {
 public:
  using PromValueQuery::PromValueQuery;
  TelemetrySample sample() override;
};

// The thermal family: the node's temperature in °C, exported as a metric (a reading for the
// operator's context and for dashboards; no control acts on it).
class PrometheusThermal : public PromValueQuery {
 public:
  using PromValueQuery::PromValueQuery;
  PromReading sample() { return read("temperature"); }
};

}  // namespace joulie::agent
