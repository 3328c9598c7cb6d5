#pragma once
// JSON ⇄ typed NodePowerProfile / TelemetryProfile. Decoding validates like the CRD schema does
// (a client must not trust that the server had the schema installed): unknown fields are
// ignored; a wrong JSON type is Errc::parse, a well-typed but unacceptable value (unknown enum,
// cap < 1, NaN, missing required field) is Errc::invalid; messages name the object and field.
// Encoders produce compact JSON with a fixed key order, so equal inputs give equal bytes.

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "joulie/api/types.hpp"
#include "joulie/common/result.hpp"

namespace joulie::api {

Result<NodePowerProfile> decode_node_power_profile(const rapidjson::Value& object);
Result<TelemetryProfile> decode_telemetry_profile(const rapidjson::Value& object);

// The spec object alone, optional fields left out:
// {"nodeName":"n1","profile":"eco","cpu":{"packagePowerCapWatts":120},"policy":{"name":"x"}}
std::string encode_spec(const NodePowerProfileSpec& spec);

// A complete NodePowerProfile for create: apiVersion, kind, metadata{name, labels
// {joulie.io/managed-by: operator}}, spec.
std::string encode_new_node_power_profile(std::string_view name, const NodePowerProfileSpec& spec);

// Merge-patch body replacing the spec: {"spec":{...}} where absent optional fields are null so
// that a previously set cap or policy name is removed.
std::string encode_spec_patch(const NodePowerProfileSpec& spec);

// The status object alone (appliedCapWatts / updatedAt / conditions left out when unset).
std::string encode_status(const NodePowerProfileStatus& status);

// Merge-patch body for the /status subresource: {"status":{...}}, absent optionals as null.
std::string encode_status_patch(const NodePowerProfileStatus& status);

// Merge-patch body for a TelemetryProfile's /status: {"status":{"control":{"cpu":{...}}}} with
// only the parts that are set (a patch never clears the other control).
std::string encode_control_status_patch(const TelemetryProfileStatus& status);

}  // namespace joulie::api
