// NodePowerProfile / TelemetryProfile decoding from API-server JSON, and the encoders' round
// trips: what the operator writes (a new object, a spec merge patch, a status merge patch) must
// decode back to the same typed value, applied with JSON merge-patch semantics (RFC 7386, shared
// with the unit tests' fake API server) on top of the object as it was. Input: the object's JSON.
#include <string>

#include "fuzz_support.hpp"
#include "joulie/api/codec.hpp"
#include "joulie/kube/json.hpp"
#include "json_merge_patch.hpp"

namespace api = joulie::api;

namespace {

rapidjson::Document patched(const rapidjson::Value& object, const std::string& patch_text) {
  rapidjson::Document doc;
  doc.CopyFrom(object, doc.GetAllocator());
  auto patch = joulie::kube::parse_object(patch_text);
  FUZZ_CHECK(patch.ok());
  joulie::test::json_merge_patch(doc, patch.value(), doc.GetAllocator());
  return doc;
}

void check_node_power_profile(const rapidjson::Value& object) {
  auto decoded = api::decode_node_power_profile(object);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.code() == joulie::Errc::parse || decoded.code() == joulie::Errc::invalid);
    return;
  }
  const api::NodePowerProfile& npp = decoded.value();
  FUZZ_CHECK(!npp.metadata.name.empty() && !npp.spec.node_name.empty());
  FUZZ_CHECK(!npp.spec.package_power_cap_watts || *npp.spec.package_power_cap_watts >= 1);

  // A new object with this spec.
  auto created =
      joulie::kube::parse_object(api::encode_new_node_power_profile(npp.metadata.name, npp.spec));
  FUZZ_CHECK(created.ok());
  auto created_npp = api::decode_node_power_profile(created.value());
  FUZZ_CHECK(created_npp.ok());
  FUZZ_CHECK(created_npp->spec == npp.spec);
  FUZZ_CHECK(created_npp->metadata.name == npp.metadata.name);
  FUZZ_CHECK(created_npp->metadata.managed_by_operator());

  // The spec patch replaces the spec, also removing optional fields that are now absent.
  const rapidjson::Document after_spec = patched(object, api::encode_spec_patch(npp.spec));
  auto spec_npp = api::decode_node_power_profile(after_spec);
  FUZZ_CHECK(spec_npp.ok());
  FUZZ_CHECK(spec_npp->spec == npp.spec);

  // The status patch: encoding is a fixed point after one decode.
  const std::string status_text = api::encode_status(npp.status);
  FUZZ_CHECK(joulie::kube::parse_object(status_text).ok());
  const rapidjson::Document after_status = patched(object, api::encode_status_patch(npp.status));
  auto status_npp = api::decode_node_power_profile(after_status);
  FUZZ_CHECK(status_npp.ok());
  FUZZ_CHECK(api::encode_status(status_npp->status) == status_text);
}

void check_telemetry_profile(const rapidjson::Value& object) {
  auto decoded = api::decode_telemetry_profile(object);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.code() == joulie::Errc::parse || decoded.code() == joulie::Errc::invalid);
    return;
  }
  const api::TelemetryProfile& tp = decoded.value();
  FUZZ_CHECK(!tp.metadata.name.empty());
  FUZZ_CHECK(tp.spec.scope != api::TargetScope::node || !tp.spec.node_name.empty());
  for (const api::Source* s : {&tp.spec.cpu_source, &tp.spec.gpu_source, &tp.spec.thermal_source,
                               &tp.spec.context_source}) {
    FUZZ_CHECK(s->type != api::SourceType::http || !s->http.endpoint.empty());
    FUZZ_CHECK(!s->http.timeout_seconds ||
               (*s->http.timeout_seconds >= 1 && *s->http.timeout_seconds <= 300));
  }

  // The agent's control-status patch decodes back to what it encodes.
  const std::string patch = api::encode_control_status_patch(tp.status);
  const rapidjson::Document after = patched(object, patch);
  auto again = api::decode_telemetry_profile(after);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(api::encode_control_status_patch(again->status) == patch);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = joulie::kube::parse_object(text);
  if (!parsed.ok()) {
    return 0;
  }
  const rapidjson::Value& root = parsed.value();
  check_node_power_profile(root);
  check_telemetry_profile(root);
  // Nested objects too: a watch event's object, a list's item.
  for (const auto& m : root.GetObject()) {
    check_node_power_profile(m.value);
    check_telemetry_profile(m.value);
  }
  return 0;
}
