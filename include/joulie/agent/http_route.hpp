#pragma once
// The HTTP simulator route (docs/design.md#http-simulator-contract): telemetry by GET, control by
// POST, over keep-alive connections (common/http_client.hpp) shared by every node of the process
// (pool mode drives thousands of nodes through one simulator).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "joulie/agent/control.hpp"
#include "joulie/common/clock.hpp"
#include "joulie/common/http_client.hpp"
#include "joulie/common/result.hpp"

namespace joulie::agent {

inline constexpr std::chrono::nanoseconds kDefaultHttpTimeout = kDefaultHttpClientTimeout;

// The keep-alive client pool and URL splitting live in the common library (the context sources
// use them too).
using joulie::HttpClientPool;
using joulie::HttpUrl;
using joulie::parse_http_url;

// Parses a telemetry reply body. Pure (exposed for tests and fuzzing): `received_at` dates a
// sample without `ts`.
TelemetrySample parse_telemetry_reply(std::string_view body, SystemTime received_at);

class HttpTelemetry final : public TelemetryProvider {
 public:
  HttpTelemetry(HttpClientPool& pool, std::string url, std::chrono::nanoseconds timeout,
                const Clock& clock)
      : pool_(pool), url_(std::move(url)), timeout_(timeout), clock_(clock) {}
  TelemetrySample sample() override;

 private:
  HttpClientPool& pool_;
  std::string url_;
  std::chrono::nanoseconds timeout_;
  const Clock& clock_;
};

// Interprets a control reply. Pure (exposed for tests and fuzzing). Transport failures and 5xx
// answers are `transient` (no verdict); blocked/error replies, 4xx and other statuses are not.
ControlOutcome interpret_control_reply(Backend backend,
                                       const Result<HttpClientPool::Response>& reply,
                                       std::string_view action);

class HttpControl final : public ControlProvider {
 public:
  HttpControl(HttpClientPool& pool, std::string node, std::string url,
              std::chrono::nanoseconds timeout, const Clock& clock)
      : pool_(pool),
        node_(std::move(node)),
        url_(std::move(url)),
        timeout_(timeout),
        clock_(clock) {}

  // POST {"node","action":"rapl.set_power_cap_watts","capWatts":W,"throttlePct":-1,"ts"}.
  ControlOutcome apply_cap(double watts) override;
  // POST {"node","action":"dvfs.set_throttle_pct","capWatts":cap or 0,"throttlePct":p,"ts"}.
  ControlOutcome apply_throttle(int pct, std::optional<double> cap_watts) override;
  // docs/design.md#http-simulator-contract has no "uncap" action: restoring means throttle 0 when a
  // throttle was applied.
  ControlOutcome restore() override;

  // The body POSTed for an action (exposed for tests).
  std::string control_body(std::string_view action, double cap_watts, int throttle_pct) const;

 private:
  HttpClientPool& pool_;
  std::string node_;
  std::string url_;
  std::chrono::nanoseconds timeout_;
  const Clock& clock_;
  int last_throttle_pct_ = 0;
};

}  // namespace joulie::agent
