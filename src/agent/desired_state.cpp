#include "joulie/agent/desired_state.hpp"

#include <algorithm>

#include "joulie/api/codec.hpp"
#include "joulie/api/resolution.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/common/log.hpp"
#include "joulie/kube/json_fields.hpp"

namespace joulie::agent {

namespace {

bool same_meta(const api::ObjectMeta& a, const api::ObjectMeta& b) {
  return a.name == b.name && a.uid == b.uid && a.resource_version == b.resource_version &&
         a.generation == b.generation && a.creation_timestamp == b.creation_timestamp;
}

// The metadata and spec.nodeName of an object that did not validate.
api::NodePowerProfile partial_profile(const rapidjson::Value& object) {
  api::NodePowerProfile npp;
  const rapidjson::Value* meta = kube::json::object_at(object, "metadata");
  npp.metadata.name = kube::json::string_or_empty(meta, "name");
  npp.metadata.uid = kube::json::string_or_empty(meta, "uid");
  npp.metadata.resource_version = kube::json::string_or_empty(meta, "resourceVersion");
  if (meta != nullptr) {
    if (auto gen = kube::json::int_at(meta, "generation")) {
      npp.metadata.generation = *gen;
    }
    if (auto created = parse_rfc3339(kube::json::string_or_empty(meta, "creationTimestamp"));
        created.ok()) {
      npp.metadata.creation_timestamp = *created;
    }
  }
  npp.spec.node_name =
      kube::json::string_or_empty(kube::json::object_at(object, "spec"), "nodeName");
  return npp;
}

}  // namespace

bool NppEntry::operator==(const NppEntry& other) const {
  return same_meta(npp.metadata, other.npp.metadata) && npp.spec == other.npp.spec &&
         npp.status == other.npp.status && invalid == other.invalid;
}

bool TpEntry::operator==(const TpEntry& other) const {
  return same_meta(tp.metadata, other.tp.metadata) && tp.spec == other.tp.spec &&
         tp.status == other.tp.status;
}

std::optional<NppEntry> project_node_power_profile(const rapidjson::Value& object,
                                                   std::string_view only_node) {
  NppEntry entry;
  auto decoded = api::decode_node_power_profile(object);
  if (!decoded.ok() && object.IsObject() && object.HasMember("status")) {
    // A status we cannot read (written by someone else) must not hide a usable spec.
    rapidjson::Document copy;
    copy.CopyFrom(object, copy.GetAllocator());
    copy.RemoveMember("status");
    if (auto again = api::decode_node_power_profile(copy); again.ok()) {
      decoded = std::move(again);
    }
  }
  if (decoded.ok()) {
    entry.npp = std::move(*decoded);
  } else {
    entry.npp = partial_profile(object);
    entry.invalid = decoded.error().message;
  }
  if (entry.npp.metadata.name.empty() || entry.npp.spec.node_name.empty()) {
    return std::nullopt;
  }
  if (!only_node.empty() && entry.npp.spec.node_name != only_node) {
    return std::nullopt;
  }
  return entry;
}

std::optional<TpEntry> project_telemetry_profile(const rapidjson::Value& object) {
  auto decoded = api::decode_telemetry_profile(object);
  if (!decoded.ok()) {
    log::warn(
        "agent", "TelemetryProfile ignored: it does not validate",
        {{"name", kube::json::string_or_empty(kube::json::object_at(object, "metadata"), "name")},
         {"error", decoded.error().message}});
    return std::nullopt;
  }
  return TpEntry{std::move(*decoded)};
}

std::vector<std::string> DesiredState::upsert_node_power_profile(const NppEntry& entry) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> nodes;
  const std::string& name = entry.npp.metadata.name;
  auto it = npps_.find(name);
  if (it != npps_.end() && it->second.npp.spec.node_name != entry.npp.spec.node_name) {
    const std::string& old_node = it->second.npp.spec.node_name;
    nodes.push_back(old_node);
    auto idx = by_node_.find(old_node);
    if (idx != by_node_.end()) {
      idx->second.erase(name);
      if (idx->second.empty()) {
        by_node_.erase(idx);
      }
    }
  }
  npps_.insert_or_assign(name, entry);
  by_node_[entry.npp.spec.node_name].insert(name);
  nodes.push_back(entry.npp.spec.node_name);
  return nodes;
}

std::vector<std::string> DesiredState::remove_node_power_profile(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = npps_.find(name);
  if (it == npps_.end()) {
    return {};
  }
  std::string node = it->second.npp.spec.node_name;
  npps_.erase(it);
  auto idx = by_node_.find(node);
  if (idx != by_node_.end()) {
    idx->second.erase(name);
    if (idx->second.empty()) {
      by_node_.erase(idx);
    }
  }
  return {node};
}

void DesiredState::upsert_telemetry_profile(const TpEntry& entry) {
  std::lock_guard lock(mutex_);
  tps_.insert_or_assign(entry.tp.metadata.name, entry.tp);
  rebuild_telemetry_locked();
}

void DesiredState::remove_telemetry_profile(const std::string& name) {
  std::lock_guard lock(mutex_);
  tps_.erase(name);
  rebuild_telemetry_locked();
}

void DesiredState::rebuild_telemetry_locked() {
  tp_list_.clear();
  tp_list_.reserve(tps_.size());
  for (const auto& [name, tp] : tps_) {
    tp_list_.push_back(tp);
  }
}

std::size_t DesiredState::node_power_profiles() const {
  std::lock_guard lock(mutex_);
  return npps_.size();
}

NodeInputs DesiredState::inputs_for(const std::string& node) const {
  NodeInputs inputs;
  std::lock_guard lock(mutex_);
  auto idx = by_node_.find(node);
  if (idx != by_node_.end()) {
    std::vector<api::NodePowerProfile> candidates;
    candidates.reserve(idx->second.size());
    for (const std::string& name : idx->second) {
      candidates.push_back(npps_.at(name).npp);
    }
    api::ProfileSelection selection = api::select_node_power_profile(node, candidates);
    if (selection.winner != nullptr) {
      inputs.profile = *selection.winner;
      inputs.profile_invalid = npps_.at(selection.winner->metadata.name).invalid;
    }
    for (const api::NodePowerProfile* loser : selection.losers) {
      inputs.conflicting.push_back(loser->metadata.name);
      inputs.foreign.push_back(*loser);
    }
  }
  api::TelemetrySelection telemetry = api::resolve_telemetry_profile(node, tp_list_);
  if (telemetry.profile != nullptr) {
    inputs.telemetry = *telemetry.profile;
    for (const api::TelemetryProfile* dup : telemetry.duplicates) {
      inputs.duplicate_telemetry.push_back(dup->metadata.name);
    }
  }
  return inputs;
}

}  // namespace joulie::agent
