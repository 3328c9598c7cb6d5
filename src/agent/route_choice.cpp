#include "joulie/agent/route_choice.hpp"

#include <fmt/format.h>

namespace joulie::agent {

namespace {

std::chrono::nanoseconds timeout_of(const api::HttpEndpoint& http) {
  if (http.timeout_seconds && *http.timeout_seconds > 0) {
    return std::chrono::seconds(*http.timeout_seconds);
  }
  return kDefaultHttpTimeout;
}

ControlRoute control_of(api::ControlType type) {
  switch (type) {
    case api::ControlType::none:
      return ControlRoute::none;
    case api::ControlType::host:
      return ControlRoute::host;
    case api::ControlType::http:
      return ControlRoute::http;
  }
  return ControlRoute::host;
}

ControlMode mode_of(api::CpuControlMode mode) {
  switch (mode) {
    case api::CpuControlMode::automatic:
      return ControlMode::automatic;
    case api::CpuControlMode::rapl:
      return ControlMode::rapl;
    case api::CpuControlMode::dvfs:
      return ControlMode::dvfs;
  }
  return ControlMode::automatic;
}

SourceType source_of(api::SourceType type) {
  switch (type) {
    case api::SourceType::none:
      return SourceType::none;
    case api::SourceType::host:
      return SourceType::host;
    case api::SourceType::http:
      return SourceType::http;
    case api::SourceType::prometheus:
      return SourceType::prometheus;
  }
  return SourceType::host;
}

}  // namespace

RouteConfig route_from_profile(const api::TelemetryProfile* profile) {
  RouteConfig route;  // host control, host source, auto mode
  if (profile == nullptr) {
    return route;
  }
  const api::CpuControl& control = profile->spec.cpu_control;
  route.control = control_of(control.type);
  if (route.control == ControlRoute::http) {
    route.mode = mode_of(control.mode);
    route.control_endpoint = control.http.endpoint;
    route.control_timeout = timeout_of(control.http);
  }
  const api::Source& source = profile->spec.cpu_source;
  route.source = source_of(source.type);
  if (route.source == SourceType::http) {
    route.telemetry_endpoint = source.http.endpoint;
    route.telemetry_timeout = timeout_of(source.http);
  } else if (route.source == SourceType::prometheus) {
    route.telemetry_endpoint = source.prometheus.endpoint;
    route.telemetry_query = source.prometheus.query;
    route.telemetry_ca_file = source.prometheus.ca_file;
    route.telemetry_token_file = source.prometheus.bearer_token_file;
  }
  // Only a prometheus thermal source is read (host and http thermal inputs are not defined).
  const api::Source& thermal = profile->spec.thermal_source;
  if (thermal.type == api::SourceType::prometheus) {
    route.thermal = SourceType::prometheus;
    route.thermal_endpoint = thermal.prometheus.endpoint;
    route.thermal_query = thermal.prometheus.query;
    route.thermal_ca_file = thermal.prometheus.ca_file;
    route.thermal_token_file = thermal.prometheus.bearer_token_file;
  }
  return route;
}

const char* control_route_name(ControlRoute route) {
  switch (route) {
    case ControlRoute::none:
      return "none";
    case ControlRoute::host:
      return "host";
    case ControlRoute::http:
      return "http";
  }
  return "none";
}

const char* control_mode_name(ControlMode mode) {
  switch (mode) {
    case ControlMode::automatic:
      return "auto";
    case ControlMode::rapl:
      return "rapl";
    case ControlMode::dvfs:
      return "dvfs";
  }
  return "auto";
}

const char* source_type_name(SourceType source) {
  switch (source) {
    case SourceType::none:
      return "none";
    case SourceType::host:
      return "host";
    case SourceType::http:
      return "http";
    case SourceType::prometheus:
      return "prometheus";
  }
  return "none";
}

std::string describe_route(const RouteConfig& route) {
  std::string text = fmt::format("control={}", control_route_name(route.control));
  if (route.control == ControlRoute::http) {
    text +=
        fmt::format(" mode={} endpoint={}", control_mode_name(route.mode), route.control_endpoint);
  }
  text += fmt::format(" source={}", source_type_name(route.source));
  if (route.source == SourceType::http) {
    text += fmt::format(" telemetry={}", route.telemetry_endpoint);
  } else if (route.source == SourceType::prometheus) {
    text +=
        fmt::format(" prometheus={} query={:?}", route.telemetry_endpoint, route.telemetry_query);
  }
  if (route.thermal == SourceType::prometheus) {
    text += fmt::format(" thermal=prometheus query={:?}", route.thermal_query);
  }
  return text;
}

}  // namespace joulie::agent
