#pragma once
// Route choice (docs/design.md#choosing-the-route): what a resolved TelemetryProfile (or the host
// defaults when there is none) means for one node's CPU control and power input. Pure: no I/O.

#include <string>
#include <string_view>

#include "joulie/agent/actuator.hpp"
#include "joulie/api/types.hpp"

namespace joulie::agent {

// `profile` may be null (no TelemetryProfile: host sources and controls). Endpoints keep their
// "{node}" placeholder; the actuator expands it. Timeouts default to 2 s
// (docs/design.md#http-simulator-contract).
RouteConfig route_from_profile(const api::TelemetryProfile* profile);

// One line describing a route for logs ("control=http mode=auto source=http").
std::string describe_route(const RouteConfig& route);

const char* control_route_name(ControlRoute route);
const char* control_mode_name(ControlMode mode);
const char* source_type_name(SourceType source);

}  // namespace joulie::agent
