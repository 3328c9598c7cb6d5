#include "joulie/operator/actuation.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <utility>

#include "joulie/api/codec.hpp"
#include "joulie/api/names.hpp"
#include "joulie/common/log.hpp"
#include "joulie/kube/json.hpp"

namespace joulie::operator_mode {

std::string_view to_string(WriteKind kind) {
  switch (kind) {
    case WriteKind::create_profile:
      return "create NodePowerProfile";
    case WriteKind::patch_profile:
      return "patch NodePowerProfile";
    case WriteKind::delete_profile:
      return "delete NodePowerProfile";
    case WriteKind::patch_node:
      return "patch node";
  }
  return "write";
}

namespace {

bool same_cap(const std::optional<double>& a, const std::optional<double>& b) {
  if (a.has_value() != b.has_value()) {
    return false;
  }
  return !a || std::fabs(*a - *b) < 1e-9;
}

}  // namespace

bool spec_matches(const NppInfo& current, const api::NodePowerProfileSpec& desired) {
  return current.node_name == desired.node_name &&
         current.profile == api::to_string(desired.profile) &&
         same_cap(current.cap_watts, desired.package_power_cap_watts) &&
         current.policy_name == desired.policy_name;
}

std::vector<Write> plan_release_writes(const ReleaseInput& in) {
  std::vector<Write> writes;
  if (in.node_exists && (in.label || in.draining_since || in.state_since)) {
    Write w;
    w.kind = WriteKind::patch_node;
    w.name = in.node;
    w.label = in.label ? FieldChange::remove() : FieldChange::keep();
    w.draining_since = in.draining_since ? FieldChange::remove() : FieldChange::keep();
    w.state_since = in.state_since ? FieldChange::remove() : FieldChange::keep();
    writes.push_back(std::move(w));
  }
  for (const auto& name : in.profiles) {
    Write w;
    w.kind = WriteKind::delete_profile;
    w.name = name;
    writes.push_back(std::move(w));
  }
  return writes;
}

std::string node_patch_body(const Write& write, std::string_view label_key) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto field = [&](std::string_view key, const FieldChange& change) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    if (change.op == FieldChange::Op::set) {
      w.String(change.value.data(), static_cast<rapidjson::SizeType>(change.value.size()));
    } else {
      w.Null();
    }
  };
  w.StartObject();
  w.Key("metadata");
  w.StartObject();
  if (write.label.touches()) {
    w.Key("labels");
    w.StartObject();
    field(label_key, write.label);
    w.EndObject();
  }
  if (write.draining_since.touches() || write.state_since.touches()) {
    w.Key("annotations");
    w.StartObject();
    if (write.draining_since.touches()) {
      field(api::kDrainingSinceAnnotation, write.draining_since);
    }
    if (write.state_since.touches()) {
      field(api::kStateSinceAnnotation, write.state_since);
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

namespace {

// A NodePowerProfile spec patch, with the write's joulie.io/apply-wait-until edit beside it (one
// request: the planner's memory costs no write of its own).
std::string profile_patch_body(const Write& write) {
  std::string body = api::encode_spec_patch(write.spec);
  if (!write.apply_wait_until.touches()) {
    return body;
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("metadata");
  w.StartObject();
  w.Key("annotations");
  w.StartObject();
  const std::string_view key = api::kApplyWaitUntilAnnotation;
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  if (write.apply_wait_until.op == FieldChange::Op::set) {
    const std::string& v = write.apply_wait_until.value;
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  } else {
    w.Null();
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  // {"metadata":{...}} + {"spec":{...}} → {"metadata":{...},"spec":{...}}
  std::string head(buffer.GetString(), buffer.GetSize() - 1);
  return head + "," + body.substr(1);
}

}  // namespace

// ---- execution ---------------------------------------------------------------------------------

ActuationAdapter::ActuationAdapter(kube::Api& api, std::string label_key, WriteGate gate)
    : api_(api), label_key_(std::move(label_key)), gate_(std::move(gate)) {}

ExecuteOutcome ActuationAdapter::execute(const std::vector<Write>& writes) {
  ExecuteOutcome out;
  for (const Write& w : writes) {
    if (gate_ && !gate_()) {
      out.status = Error(Errc::unavailable, "not writing: this process is not the leader");
      return out;
    }
    Status s;
    switch (w.kind) {
      case WriteKind::create_profile:
        s = create_profile(w, out);
        break;
      case WriteKind::patch_profile:
        s = patch_profile(w, out);
        break;
      case WriteKind::delete_profile:
        s = delete_profile(w, out);
        break;
      case WriteKind::patch_node:
        s = patch_node(w, out);
        break;
    }
    if (!s.ok()) {
      out.status = Error(s.error().code,
                         fmt::format("{} {}: {}", to_string(w.kind), w.name, s.error().message),
                         s.error().http_status, s.error().reason);
      return out;
    }
    ++out.completed;
  }
  return out;
}

Status ActuationAdapter::create_profile(const Write& w, ExecuteOutcome& out) {
  // parse_object, not RapidJSON's normal-precision Parse: the cap comes back as the very double
  // the encoder wrote (docs/decisions.md, "JSON numbers").
  auto body = kube::parse_object(api::encode_new_node_power_profile(w.name, w.spec));
  if (!body.ok()) {
    return body.error();
  }
  if (w.apply_wait_until.op == FieldChange::Op::set && body->HasMember("metadata")) {
    auto& alloc = body->GetAllocator();
    rapidjson::Value annotations(rapidjson::kObjectType);
    annotations.AddMember(
        rapidjson::Value(api::kApplyWaitUntilAnnotation.data(),
                         static_cast<rapidjson::SizeType>(api::kApplyWaitUntilAnnotation.size()),
                         alloc),
        rapidjson::Value(w.apply_wait_until.value.c_str(), alloc), alloc);
    (*body)["metadata"].AddMember("annotations", annotations, alloc);
  }
  ++out.requests;
  auto created = api_.create(kube::resources::node_power_profiles, "", body.value());
  if (created.ok()) {
    return {};
  }
  if (created.code() != Errc::already_exists) {
    return created.error();
  }
  // Our cache had not seen it yet, or someone else made it: read it before touching it.
  auto existing = api_.get(kube::resources::node_power_profiles, "", w.name);
  if (!existing.ok()) {
    return existing.error();
  }
  auto info = project_npp(*existing);
  if (!info) {
    return Error(Errc::already_exists,
                 fmt::format("NodePowerProfile {} exists without {}={}; not touching it", w.name,
                             api::kManagedByLabel, api::kManagedByOperator));
  }
  if (spec_matches(*info, w.spec) && !w.apply_wait_until.touches()) {
    return {};
  }
  ++out.requests;
  auto patched =
      api_.merge_patch(kube::resources::node_power_profiles, "", w.name, profile_patch_body(w));
  return patched.ok() ? Status{} : Status(patched.error());
}

Status ActuationAdapter::patch_profile(const Write& w, ExecuteOutcome& out) {
  ++out.requests;
  auto patched =
      api_.merge_patch(kube::resources::node_power_profiles, "", w.name, profile_patch_body(w));
  if (patched.ok()) {
    return {};
  }
  if (patched.code() == Errc::not_found) {
    Write create = w;
    create.kind = WriteKind::create_profile;
    return create_profile(create, out);
  }
  return patched.error();
}

Status ActuationAdapter::delete_profile(const Write& w, ExecuteOutcome& out) {
  ++out.requests;
  Status s = api_.remove(kube::resources::node_power_profiles, "", w.name);
  if (s.ok() || s.code() == Errc::not_found) {
    return {};
  }
  return s;
}

Status ActuationAdapter::patch_node(const Write& w, ExecuteOutcome& out) {
  const std::string body = node_patch_body(w, label_key_);
  ++out.requests;
  auto patched = api_.merge_patch(kube::resources::nodes, "", w.name, body);
  if (patched.ok()) {
    return {};
  }
  const bool removing_only = w.label.op != FieldChange::Op::set &&
                             w.draining_since.op != FieldChange::Op::set &&
                             w.state_since.op != FieldChange::Op::set;
  if (patched.code() == Errc::not_found && removing_only) {
    return {};  // the node is gone: nothing left to clean
  }
  if (patched.code() != Errc::conflict && patched.error().http_status != 409) {
    return patched.error();
  }
  // Someone wrote the node concurrently: read it again and retry once.
  log::info("operator", "conflict patching node; re-reading and retrying", {{"node", w.name}});
  auto fresh = api_.get(kube::resources::nodes, "", w.name);
  if (!fresh.ok()) {
    return fresh.error();
  }
  if (gate_ && !gate_()) {
    return Error(Errc::unavailable, "not writing: this process is not the leader");
  }
  ++out.requests;
  auto retried = api_.merge_patch(kube::resources::nodes, "", w.name, body);
  return retried.ok() ? Status{} : Status(retried.error());
}

}  // namespace joulie::operator_mode
