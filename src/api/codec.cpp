#include "joulie/api/codec.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>

#include "field_reader.hpp"
#include "joulie/api/names.hpp"
#include "joulie/common/duration.hpp"

namespace joulie::api {
namespace {

using detail::FieldReader;
using rapidjson::Value;

constexpr int kMinTimeoutSeconds = 1;
constexpr int kMaxTimeoutSeconds = 300;

// ---- decoding
// ------------------------------------------------------------------------------------

// Reads metadata and names the object in later messages.
ObjectMeta decode_meta(FieldReader& r, const Value& root, std::string_view kind) {
  ObjectMeta meta;
  const Value* md = r.object(&root, "metadata");
  meta.name = r.string(md, "metadata.name").value_or("");
  if (!r.failed() && meta.name.empty()) {
    r.fail(Errc::invalid, "metadata.name", "is required");
  }
  r.rename(fmt::format("{} \"{}\"", kind, meta.name));
  meta.uid = r.string(md, "metadata.uid").value_or("");
  meta.resource_version = r.string(md, "metadata.resourceVersion").value_or("");
  meta.generation = r.integer(md, "metadata.generation").value_or(0);
  meta.creation_timestamp = r.time(md, "metadata.creationTimestamp");
  if (const Value* labels = r.object(md, "metadata.labels")) {
    for (const auto& m : labels->GetObject()) {
      const std::string key(m.name.GetString(), m.name.GetStringLength());
      if (!m.value.IsString()) {
        r.fail(Errc::parse, fmt::format("metadata.labels[{}]", key), "must be a string");
        break;
      }
      meta.labels.emplace(key, std::string(m.value.GetString(), m.value.GetStringLength()));
    }
  }
  return meta;
}

template <typename E>
std::optional<E> decode_enum(FieldReader& r, const Value* parent, std::string_view path,
                             Result<E> (*parse)(std::string_view)) {
  const auto text = r.string(parent, path);
  if (!text) {
    return std::nullopt;
  }
  auto parsed = parse(*text);
  if (!parsed.ok()) {
    r.fail(path, parsed.error());
    return std::nullopt;
  }
  return *parsed;
}

void require(FieldReader& r, bool present, std::string_view path) {
  if (!r.failed() && !present) {
    r.fail(Errc::invalid, path, "is required");
  }
}

HttpEndpoint decode_http(FieldReader& r, const Value* http, const std::string& path) {
  HttpEndpoint out;
  out.endpoint = r.string(http, path + ".endpoint").value_or("");
  if (const auto t = r.integer(http, path + ".timeoutSeconds")) {
    if (*t < kMinTimeoutSeconds || *t > kMaxTimeoutSeconds) {
      r.fail(Errc::invalid, path + ".timeoutSeconds",
             fmt::format("must be within {}..{} (got {})", kMinTimeoutSeconds, kMaxTimeoutSeconds,
                         *t));
    } else {
      out.timeout_seconds = static_cast<int>(*t);
    }
  }
  return out;
}

Source decode_source(FieldReader& r, const Value* sources, const std::string& path) {
  Source out;
  const Value* block = r.object(sources, path);
  if (block == nullptr) {
    return out;  // left out: host, as without a profile
  }
  const auto type = decode_enum(r, block, path + ".type", parse_source_type);
  require(r, type.has_value(), path + ".type");
  out.type = type.value_or(SourceType::host);
  out.http = decode_http(r, r.object(block, path + ".http"), path + ".http");
  if (const Value* prom = r.object(block, path + ".prometheus")) {
    out.prometheus.endpoint = r.string(prom, path + ".prometheus.endpoint").value_or("");
    out.prometheus.query = r.string(prom, path + ".prometheus.query").value_or("");
    out.prometheus.ca_file = r.string(prom, path + ".prometheus.caFile").value_or("");
    out.prometheus.bearer_token_file =
        r.string(prom, path + ".prometheus.bearerTokenFile").value_or("");
  }
  if (!r.failed() && out.type == SourceType::http && out.http.endpoint.empty()) {
    r.fail(Errc::invalid, path + ".http.endpoint", "is required when type is http");
  }
  return out;
}

template <typename Mode>
Control<Mode> decode_control(FieldReader& r, const Value* controls, const std::string& path,
                             Result<Mode> (*parse_mode)(std::string_view)) {
  Control<Mode> out;
  const Value* block = r.object(controls, path);
  if (block == nullptr) {
    return out;
  }
  const auto type = decode_enum(r, block, path + ".type", parse_control_type);
  require(r, type.has_value(), path + ".type");
  out.type = type.value_or(ControlType::host);
  const Value* http = r.object(block, path + ".http");
  out.http = decode_http(r, http, path + ".http");
  out.mode = decode_enum(r, http, path + ".http.mode", parse_mode).value_or(Mode{});
  if (!r.failed() && out.type == ControlType::http && out.http.endpoint.empty()) {
    r.fail(Errc::invalid, path + ".http.endpoint", "is required when type is http");
  }
  return out;
}

ControlStatus decode_control_status(FieldReader& r, const Value* block, const std::string& path) {
  ControlStatus out;
  out.backend = r.string(block, path + ".backend").value_or("");
  out.result = r.string(block, path + ".result").value_or("");
  out.message = r.string(block, path + ".message").value_or("");
  out.observed = r.string(block, path + ".observed").value_or("");
  out.updated_at = r.time(block, path + ".updatedAt");
  return out;
}

Condition decode_condition(FieldReader& r, const Value& c, const std::string& path) {
  Condition out;
  if (!c.IsObject()) {
    r.fail(Errc::parse, path, "must be an object");
    return out;
  }
  out.type = r.string(&c, path + ".type").value_or("");
  require(r, !out.type.empty(), path + ".type");
  out.status = r.string(&c, path + ".status").value_or("");
  out.reason = r.string(&c, path + ".reason").value_or("");
  out.message = r.string(&c, path + ".message").value_or("");
  out.last_transition_time = r.time(&c, path + ".lastTransitionTime");
  out.observed_generation = r.integer(&c, path + ".observedGeneration").value_or(0);
  return out;
}

NodePowerProfileStatus decode_npp_status(FieldReader& r, const Value* status) {
  NodePowerProfileStatus out;
  out.observed_generation = r.integer(status, "status.observedGeneration").value_or(0);
  out.backend = decode_enum(r, status, "status.backend", parse_backend).value_or(Backend::none);
  out.result =
      decode_enum(r, status, "status.result", parse_apply_result).value_or(ApplyResult::none);
  out.message = r.string(status, "status.message").value_or("");
  out.applied_cap_watts = r.number(status, "status.appliedCapWatts");
  if (out.applied_cap_watts && *out.applied_cap_watts < 0) {
    r.fail(Errc::invalid, "status.appliedCapWatts",
           fmt::format("must not be negative (got {})", *out.applied_cap_watts));
  }
  out.package_max_power_watts = r.number(status, "status.packageMaxPowerWatts");
  if (out.package_max_power_watts && *out.package_max_power_watts < 0) {
    r.fail(Errc::invalid, "status.packageMaxPowerWatts",
           fmt::format("must not be negative (got {})", *out.package_max_power_watts));
  }
  out.updated_at = r.time(status, "status.updatedAt");
  if (const Value* conditions = r.array(status, "status.conditions")) {
    for (rapidjson::SizeType i = 0; i < conditions->Size() && !r.failed(); ++i) {
      out.conditions.push_back(
          decode_condition(r, (*conditions)[i], fmt::format("status.conditions[{}]", i)));
    }
  }
  return out;
}

// ---- encoding
// ------------------------------------------------------------------------------------

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void key(Writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
void str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
// Whole numbers are written without a fraction ("120", not "120.0") so bodies read naturally
// and compare equal to what the API server echoes back.
void number(Writer& w, double d) {
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < kExactIntegers) {
    w.Int64(static_cast<std::int64_t>(d));
  } else if (std::isfinite(d)) {
    w.Double(d);
  } else {
    w.Null();  // never produce invalid JSON; decoding rejects this anyway
  }
}

enum class Absent { omit, null };

void write_spec(Writer& w, const NodePowerProfileSpec& spec, Absent absent) {
  w.StartObject();
  key(w, "nodeName");
  str(w, spec.node_name);
  key(w, "profile");
  str(w, to_string(spec.profile));
  if (spec.package_power_cap_watts) {
    key(w, "cpu");
    w.StartObject();
    key(w, "packagePowerCapWatts");
    number(w, *spec.package_power_cap_watts);
    w.EndObject();
  } else if (absent == Absent::null) {
    key(w, "cpu");
    w.Null();
  }
  if (spec.policy_name) {
    key(w, "policy");
    w.StartObject();
    key(w, "name");
    str(w, *spec.policy_name);
    w.EndObject();
  } else if (absent == Absent::null) {
    key(w, "policy");
    w.Null();
  }
  w.EndObject();
}

void write_time(Writer& w, std::string_view k, const std::optional<SystemTime>& t, Absent absent) {
  if (t) {
    key(w, k);
    str(w, format_rfc3339(*t, false));
  } else if (absent == Absent::null) {
    key(w, k);
    w.Null();
  }
}

void write_status(Writer& w, const NodePowerProfileStatus& s, Absent absent) {
  w.StartObject();
  key(w, "observedGeneration");
  w.Int64(s.observed_generation);
  key(w, "backend");
  str(w, to_string(s.backend));
  key(w, "result");
  str(w, to_string(s.result));
  key(w, "message");
  str(w, s.message);
  if (s.applied_cap_watts) {
    key(w, "appliedCapWatts");
    number(w, *s.applied_cap_watts);
  } else if (absent == Absent::null) {
    key(w, "appliedCapWatts");
    w.Null();
  }
  if (s.package_max_power_watts) {
    key(w, "packageMaxPowerWatts");
    number(w, *s.package_max_power_watts);
  } else if (absent == Absent::null) {
    key(w, "packageMaxPowerWatts");
    w.Null();
  }
  write_time(w, "updatedAt", s.updated_at, absent);
  if (!s.conditions.empty() || absent == Absent::null) {
    key(w, "conditions");
    w.StartArray();
    for (const auto& c : s.conditions) {
      w.StartObject();
      key(w, "type");
      str(w, c.type);
      key(w, "status");
      str(w, c.status);
      key(w, "reason");
      str(w, c.reason);
      key(w, "message");
      str(w, c.message);
      write_time(w, "lastTransitionTime", c.last_transition_time, Absent::omit);
      key(w, "observedGeneration");
      w.Int64(c.observed_generation);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

void write_control_status(Writer& w, const ControlStatus& s) {
  w.StartObject();
  key(w, "backend");
  str(w, s.backend);
  key(w, "result");
  str(w, s.result);
  key(w, "message");
  str(w, s.message);
  key(w, "observed");
  str(w, s.observed);
  write_time(w, "updatedAt", s.updated_at, Absent::null);
  w.EndObject();
}

std::string text(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

Result<NodePowerProfile> decode_node_power_profile(const rapidjson::Value& object) {
  if (!object.IsObject()) {
    return Error(Errc::parse, "NodePowerProfile: not a JSON object");
  }
  FieldReader r("NodePowerProfile");
  NodePowerProfile out;
  out.metadata = decode_meta(r, object, kNodePowerProfileKind);

  const Value* spec = r.object(&object, "spec");
  require(r, spec != nullptr, "spec");
  out.spec.node_name = r.string(spec, "spec.nodeName").value_or("");
  require(r, !out.spec.node_name.empty(), "spec.nodeName");
  const auto profile = decode_enum(r, spec, "spec.profile", parse_profile);
  require(r, profile.has_value(), "spec.profile");
  out.spec.profile = profile.value_or(Profile::performance);
  const Value* cpu = r.object(spec, "spec.cpu");
  out.spec.package_power_cap_watts = r.number(cpu, "spec.cpu.packagePowerCapWatts");
  if (const auto& cap = out.spec.package_power_cap_watts;
      cap && !(*cap >= kMinPackageCapWatts && *cap <= kMaxPackageCapWatts)) {
    r.fail(Errc::invalid, "spec.cpu.packagePowerCapWatts",
           fmt::format("must be between {:g} and {:g} W (got {:g})", kMinPackageCapWatts,
                       kMaxPackageCapWatts, *cap));
  }
  const Value* policy = r.object(spec, "spec.policy");
  out.spec.policy_name = r.string(policy, "spec.policy.name");

  out.status = decode_npp_status(r, r.object(&object, "status"));
  if (r.failed()) {
    return r.error();
  }
  return out;
}

Result<TelemetryProfile> decode_telemetry_profile(const rapidjson::Value& object) {
  if (!object.IsObject()) {
    return Error(Errc::parse, "TelemetryProfile: not a JSON object");
  }
  FieldReader r("TelemetryProfile");
  TelemetryProfile out;
  out.metadata = decode_meta(r, object, kTelemetryProfileKind);

  const Value* spec = r.object(&object, "spec");
  require(r, spec != nullptr, "spec");
  const Value* target = r.object(spec, "spec.target");
  require(r, target != nullptr, "spec.target");
  const auto scope = decode_enum(r, target, "spec.target.scope", parse_target_scope);
  require(r, scope.has_value(), "spec.target.scope");
  out.spec.scope = scope.value_or(TargetScope::cluster);
  out.spec.node_name = r.string(target, "spec.target.nodeName").value_or("");
  if (!r.failed() && out.spec.scope == TargetScope::node && out.spec.node_name.empty()) {
    r.fail(Errc::invalid, "spec.target.nodeName", "is required when scope is node");
  }

  const Value* sources = r.object(spec, "spec.sources");
  out.spec.cpu_source = decode_source(r, sources, "spec.sources.cpu");
  out.spec.gpu_source = decode_source(r, sources, "spec.sources.gpu");
  out.spec.thermal_source = decode_source(r, sources, "spec.sources.thermal");
  out.spec.context_source = decode_source(r, sources, "spec.sources.context");
  const Value* controls = r.object(spec, "spec.controls");
  out.spec.cpu_control =
      decode_control<CpuControlMode>(r, controls, "spec.controls.cpu", parse_cpu_control_mode);
  out.spec.gpu_control =
      decode_control<GpuControlMode>(r, controls, "spec.controls.gpu", parse_gpu_control_mode);

  const Value* status = r.object(&object, "status");
  const Value* control = r.object(status, "status.control");
  if (const Value* cpu = r.object(control, "status.control.cpu")) {
    out.status.cpu = decode_control_status(r, cpu, "status.control.cpu");
  }
  if (const Value* gpu = r.object(control, "status.control.gpu")) {
    out.status.gpu = decode_control_status(r, gpu, "status.control.gpu");
  }
  if (r.failed()) {
    return r.error();
  }
  return out;
}

std::string encode_spec(const NodePowerProfileSpec& spec) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  write_spec(w, spec, Absent::omit);
  return text(buffer);
}

std::string encode_new_node_power_profile(std::string_view name, const NodePowerProfileSpec& spec) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  key(w, "apiVersion");
  str(w, kApiVersion);
  key(w, "kind");
  str(w, kNodePowerProfileKind);
  key(w, "metadata");
  w.StartObject();
  key(w, "name");
  str(w, name);
  key(w, "labels");
  w.StartObject();
  key(w, kManagedByLabel);
  str(w, kManagedByOperator);
  w.EndObject();
  w.EndObject();
  key(w, "spec");
  write_spec(w, spec, Absent::omit);
  w.EndObject();
  return text(buffer);
}

std::string encode_spec_patch(const NodePowerProfileSpec& spec) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  key(w, "spec");
  write_spec(w, spec, Absent::null);
  w.EndObject();
  return text(buffer);
}

std::string encode_status(const NodePowerProfileStatus& status) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  write_status(w, status, Absent::omit);
  return text(buffer);
}

std::string encode_status_patch(const NodePowerProfileStatus& status) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  key(w, "status");
  write_status(w, status, Absent::null);
  w.EndObject();
  return text(buffer);
}

std::string encode_control_status_patch(const TelemetryProfileStatus& status) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  key(w, "status");
  w.StartObject();
  key(w, "control");
  w.StartObject();
  if (status.cpu) {
    key(w, "cpu");
    write_control_status(w, *status.cpu);
  }
  if (status.gpu) {
    key(w, "gpu");
    write_control_status(w, *status.gpu);
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return text(buffer);
}

}  // namespace joulie::api
