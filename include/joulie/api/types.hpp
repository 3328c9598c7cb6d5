#pragma once
// Typed views of the two custom resources (docs/design.md#api-objects). Only the fields Joulie
// reads or writes; decoding from JSON lives in codec.hpp.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/common/clock.hpp"
#include "joulie/common/result.hpp"

namespace joulie::api {

// ---- enums with their wire names -------------------------------------------------------------

enum class Profile { performance, eco };
enum class Backend { none, rapl, dvfs };
enum class ApplyResult { none, applied, blocked, error };
enum class TargetScope { node, cluster };
enum class SourceType { none, host, http, prometheus };
enum class ControlType { none, host, http };
enum class CpuControlMode { automatic, rapl, dvfs };        // wire: auto|rapl|dvfs
enum class GpuControlMode { automatic, powercap, clocks };  // wire: auto|powercap|clocks

std::string_view to_string(Profile v);
std::string_view to_string(Backend v);
std::string_view to_string(ApplyResult v);
std::string_view to_string(TargetScope v);
std::string_view to_string(SourceType v);
std::string_view to_string(ControlType v);
std::string_view to_string(CpuControlMode v);
std::string_view to_string(GpuControlMode v);

// Exact, case-sensitive wire names (as the CRD enums); anything else is Errc::invalid naming
// the value and the accepted ones.
Result<Profile> parse_profile(std::string_view text);
Result<Backend> parse_backend(std::string_view text);
Result<ApplyResult> parse_apply_result(std::string_view text);
Result<TargetScope> parse_target_scope(std::string_view text);
Result<SourceType> parse_source_type(std::string_view text);
Result<ControlType> parse_control_type(std::string_view text);
Result<CpuControlMode> parse_cpu_control_mode(std::string_view text);
Result<GpuControlMode> parse_gpu_control_mode(std::string_view text);

// Label (or annotation) map; heterogeneous lookup so string_view keys need no allocation.
using Labels = std::map<std::string, std::string, std::less<>>;

// ---- metadata ----------------------------------------------------------------------------------

struct ObjectMeta {
  std::string name;
  std::string uid;
  std::string resource_version;
  std::int64_t generation = 0;
  std::optional<SystemTime> creation_timestamp;  // absent only on objects not yet stored
  Labels labels;

  // joulie.io/managed-by=operator: the operator may update or delete the object.
  bool managed_by_operator() const;
};

// ---- NodePowerProfile (docs/design.md#nodepowerprofile)
// ---------------------------------------------------------------------

struct NodePowerProfileSpec {
  std::string node_name;
  Profile profile = Profile::performance;
  std::optional<double> package_power_cap_watts;  // per CPU package, ≥ 1 when set
  std::optional<std::string> policy_name;

  bool operator==(const NodePowerProfileSpec&) const = default;
};

struct Condition {
  std::string type;    // "Applied"
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;
  std::string message;
  std::optional<SystemTime> last_transition_time;
  std::int64_t observed_generation = 0;

  bool operator==(const Condition&) const = default;
};

inline constexpr std::string_view kConditionApplied = "Applied";

// The range of spec.cpu.packagePowerCapWatts, the same in the CRD schema (minimum/maximum), the
// agent's decoder and its actuator: below the floor a package may be starved (no hardware floor
// is reported by every zone), above the ceiling the number is not a plausible cap.
inline constexpr double kMinPackageCapWatts = 10;
inline constexpr double kMaxPackageCapWatts = 100000;

struct NodePowerProfileStatus {
  std::int64_t observed_generation = 0;
  Backend backend = Backend::none;
  ApplyResult result = ApplyResult::none;
  std::string message;
  std::optional<double> applied_cap_watts;
  // The package's maximum power as the agent read it (RAPL constraint max), for caps given
  // as a fraction of it (hardware classes).
  std::optional<double> package_max_power_watts = std::nullopt;
  std::optional<SystemTime> updated_at;
  std::vector<Condition> conditions;

  bool operator==(const NodePowerProfileStatus&) const = default;
  // The condition of type Applied, if present.
  const Condition* applied_condition() const;
};

struct NodePowerProfile {
  ObjectMeta metadata;
  NodePowerProfileSpec spec;
  NodePowerProfileStatus status;  // default-constructed when the object has no status yet
};

// ---- TelemetryProfile (docs/design.md#telemetryprofile)
// ---------------------------------------------------------------------

struct HttpEndpoint {
  std::string endpoint;                // may contain "{node}" (see resolution.hpp)
  std::optional<int> timeout_seconds;  // 1..300; unset: the consumer's default (2 s)

  bool operator==(const HttpEndpoint&) const = default;
};

struct PrometheusEndpoint {
  std::string endpoint;
  std::string query;
  // An https:// endpoint is verified against this CA bundle ("" = the system's); a bearer token
  // read from this file ("" = none) goes with each query, re-read every 60 s (rotated tokens).
  std::string ca_file;
  std::string bearer_token_file;

  bool operator==(const PrometheusEndpoint&) const = default;
};

// A block left out of the spec means "host" (the same as having no profile at all); a block that
// is present must name its type.
struct Source {
  SourceType type = SourceType::host;
  HttpEndpoint http;
  PrometheusEndpoint prometheus;

  bool operator==(const Source&) const = default;
};

template <typename Mode>
struct Control {
  ControlType type = ControlType::host;
  HttpEndpoint http;
  Mode mode{};  // controls.<x>.http.mode; defaults to auto

  bool operator==(const Control&) const = default;
};
using CpuControl = Control<CpuControlMode>;
using GpuControl = Control<GpuControlMode>;

struct TelemetryProfileSpec {
  TargetScope scope = TargetScope::cluster;
  std::string node_name;  // for node scope
  Source cpu_source;
  Source gpu_source;
  Source thermal_source;
  Source context_source;
  CpuControl cpu_control;
  GpuControl gpu_control;

  bool operator==(const TelemetryProfileSpec&) const = default;
};

struct ControlStatus {
  std::string backend;
  std::string result;
  std::string message;
  std::string observed;
  std::optional<SystemTime> updated_at;

  bool operator==(const ControlStatus&) const = default;
};

struct TelemetryProfileStatus {
  std::optional<ControlStatus> cpu;
  std::optional<ControlStatus> gpu;

  bool operator==(const TelemetryProfileStatus&) const = default;
};

struct TelemetryProfile {
  ObjectMeta metadata;
  TelemetryProfileSpec spec;
  TelemetryProfileStatus status;
};

}  // namespace joulie::api
