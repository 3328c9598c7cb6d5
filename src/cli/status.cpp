#include "status.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "joulie/api/names.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/policy/classify.hpp"
#include "joulie/policy/guard.hpp"
#include "joulie/policy/write_planner.hpp"
#include "json_util.hpp"
#include "render.hpp"

namespace joulie::cli {

namespace {

std::optional<SystemTime> time_of(std::optional<std::string> text) {
  if (!text) return std::nullopt;
  auto t = parse_rfc3339(*text);
  return t.ok() ? std::optional<SystemTime>(*t) : std::nullopt;
}

const rapidjson::Value* applied_condition(const rapidjson::Value* status) {
  const rapidjson::Value* conditions = field(status, "conditions");
  if (conditions == nullptr || !conditions->IsArray()) return nullptr;
  for (const auto& c : conditions->GetArray()) {
    if (text(&c, "type") == std::optional<std::string>("Applied")) return &c;
  }
  return nullptr;
}

NodeRow node_row(const rapidjson::Value& npp) {
  NodeRow row;
  const rapidjson::Value* spec = field(&npp, "spec");
  const rapidjson::Value* status = field(&npp, "status");
  row.name = text(spec, "nodeName").value_or("");
  row.profile = text(spec, "profile").value_or("-");
  row.cap = number(field(spec, "cpu"), "packagePowerCapWatts");
  row.applied_cap = number(status, "appliedCapWatts");
  row.backend = text(status, "backend").value_or("-");
  row.message = text(status, "message").value_or("");
  const auto generation = number(field(&npp, "metadata"), "generation");
  const auto observed = number(status, "observedGeneration");
  row.reported = observed && *observed > 0;
  row.result = text(status, "result").value_or("-");
  if (!row.reported) {
    row.result = "not reported";
  } else if (generation && *observed < *generation) {
    row.result = "pending";  // the agent has not acted on the current spec yet
  }
  if (const rapidjson::Value* c = applied_condition(status)) {
    row.since = time_of(text(c, "lastTransitionTime"));
  }
  return row;
}

void read_lease(const rapidjson::Value* lease, StatusView& v) {
  if (lease == nullptr) return;
  const rapidjson::Value* spec = field(lease, "spec");
  v.leader = text(spec, "holderIdentity").value_or("");
  v.renewed = time_of(text(spec, "renewTime"));
  auto raw = text(field(field(lease, "metadata"), "annotations"), api::kStatusAnnotation);
  if (!raw) return;
  rapidjson::Document doc;
  if (doc.Parse(raw->c_str()).HasParseError() || !doc.IsObject()) return;
  v.published = true;
  v.last_pass = time_of(text(&doc, "lastPass"));
  v.pass_seconds = number(&doc, "passSeconds").value_or(0);
  v.policy = text(&doc, "policy").value_or("");
  v.window = text(&doc, "window").value_or("");
  v.time_zone = text(&doc, "timeZone").value_or("");
  v.operator_paused = boolean(&doc, "paused").value_or(false);
  v.control_watched = boolean(&doc, "controlWatched").value_or(true);
  v.planned_performance = static_cast<std::int64_t>(number(&doc, "performance").value_or(0));
  if (const rapidjson::Value* reasons = field(&doc, "reasons"); reasons && reasons->IsArray()) {
    for (const auto& r : reasons->GetArray()) {
      if (r.IsString()) v.reasons.emplace_back(r.GetString(), r.GetStringLength());
    }
  }
  if (const rapidjson::Value* signals = field(&doc, "signals"); signals && signals->IsArray()) {
    for (const auto& s : signals->GetArray()) {
      v.signals.push_back({text(&s, "name").value_or(""), text(&s, "health").value_or(""),
                           text(&s, "source").value_or("")});
    }
  }
}

// What the plugin reads from a Node: its label, pin and the operator's memory annotations.
struct NodeMeta {
  std::optional<std::string> label, pin, draining_since, state_since;
};

// Completes a row from its Node and counts it in the summary.
void add_row(StatusView& v, NodeRow row, const NodeMeta& meta, std::int64_t perf_pods) {
  row.label = meta.label.value_or("-");
  // The state and its start as the operator reads them (an absent or unknown label is
  // ActivePerformance, the safe reading).
  const policy::NodeState state = policy::state_from_label(
      meta.label ? std::optional<std::string_view>(*meta.label) : std::nullopt);
  row.state = std::string(policy::to_string(state));
  row.pin = meta.pin.value_or("");
  if (auto since = policy::last_transition(
          state, policy::read_memory(meta.state_since, std::nullopt), meta.draining_since)) {
    row.since = since;
  }
  row.perf_pods = perf_pods;
  if (meta.label == std::optional<std::string>(std::string(api::kProfilePerformance))) {
    ++v.supply;
  }
  if (!row.reported && row.profile != "-") v.not_reported.push_back(row.name);
  v.nodes.push_back(std::move(row));
}

}  // namespace

StatusView build_status(const StatusInputs& in) {
  StatusView v;
  std::map<std::string, NodeMeta> nodes;
  for (const rapidjson::Value* n : items(in.nodes)) {
    const rapidjson::Value* metadata = field(n, "metadata");
    auto name = text(metadata, "name");
    if (!name) continue;
    const rapidjson::Value* annotations = field(metadata, "annotations");
    nodes[*name] = {text(field(metadata, "labels"), api::kPowerProfileLabel),
                    text(annotations, api::kPinAnnotation),
                    text(annotations, api::kDrainingSinceAnnotation),
                    text(annotations, api::kStateSinceAnnotation)};
  }
  std::map<std::string, std::int64_t> perf_pods;
  for (const rapidjson::Value* p : items(in.pods)) {
    if (!policy::is_counted_pod_json(*p) ||
        !policy::is_performance_sensitive(policy::classify_pod_json(*p, api::kPowerProfileLabel))) {
      continue;
    }
    ++v.demand;
    auto node = text(field(p, "spec"), "nodeName");
    if (node && !node->empty()) {
      ++perf_pods[*node];
    } else {
      ++v.pending;
    }
  }
  // One row per operator-managed NodePowerProfile: the operator keeps exactly one per managed
  // node, so the plugin needs no copy of its node selector.
  std::set<std::string> listed;
  for (const rapidjson::Value* npp : items(in.npps)) {
    if (text(field(field(npp, "metadata"), "labels"), api::kManagedByLabel) !=
        std::optional<std::string>(std::string(api::kManagedByOperator))) {
      continue;
    }
    NodeRow row = node_row(*npp);
    if (row.name.empty() || !listed.insert(row.name).second) continue;
    const std::string name = row.name;
    add_row(v, std::move(row), nodes[name], perf_pods[name]);
  }
  // And the nodes the operator has started on before their profile exists (a first downgrade
  // writes the eco label and its joulie.io/state-since record first).
  for (const auto& [name, meta] : nodes) {
    if (meta.state_since && !listed.contains(name)) {
      NodeRow row;
      row.name = name;
      row.profile = row.backend = "-";
      row.result = "no profile yet";
      add_row(v, std::move(row), meta, perf_pods[name]);
    }
  }
  std::sort(v.nodes.begin(), v.nodes.end(),
            [](const NodeRow& a, const NodeRow& b) { return a.name < b.name; });
  std::sort(v.not_reported.begin(), v.not_reported.end());
  if (in.control != nullptr) {
    const rapidjson::Value* data = field(in.control, "data");
    v.paused = text(data, "paused") == std::optional<std::string>("true");
    v.paused_by = text(data, "pausedBy").value_or("");
    v.pause_reason = text(data, "reason").value_or("");
    v.paused_at = text(data, "pausedAt").value_or("");
  }
  read_lease(in.lease, v);
  return v;
}

void set_measured_power(StatusView& view, const std::vector<std::pair<std::string, double>>& w) {
  std::map<std::string, double> by_node;
  for (const auto& [node, watts] : w) {
    if (std::isfinite(watts)) by_node[node] = watts;
  }
  for (NodeRow& n : view.nodes) {
    if (auto it = by_node.find(n.name); it != by_node.end()) n.power = it->second;
  }
}

namespace {

using Alloc = rapidjson::Document::AllocatorType;

rapidjson::Value str(const std::string& s, Alloc& a) { return rapidjson::Value(s.c_str(), a); }

rapidjson::Value opt_number(const std::optional<double>& v) {
  return v ? rapidjson::Value(*v) : rapidjson::Value(rapidjson::kNullType);
}

rapidjson::Value opt_time(const std::optional<SystemTime>& t, Alloc& a) {
  return t ? str(format_rfc3339(*t, false), a) : rapidjson::Value(rapidjson::kNullType);
}

std::string age(const std::optional<SystemTime>& t, SystemTime now) {
  if (!t) return "-";
  return human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
}

rapidjson::Value cluster_json(const StatusView& v, Alloc& a) {
  rapidjson::Value cluster(rapidjson::kObjectType);
  cluster.AddMember("paused", v.paused, a);
  cluster.AddMember("pausedBy", str(v.paused_by, a), a);
  cluster.AddMember("pauseReason", str(v.pause_reason, a), a);
  cluster.AddMember("pausedAt", str(v.paused_at, a), a);
  cluster.AddMember("operatorPublished", v.published, a);
  cluster.AddMember("operatorPaused", v.operator_paused, a);
  cluster.AddMember("controlWatched", v.control_watched, a);
  cluster.AddMember("leader", str(v.leader, a), a);
  cluster.AddMember("leaseRenewed", opt_time(v.renewed, a), a);
  cluster.AddMember("lastPass", opt_time(v.last_pass, a), a);
  cluster.AddMember("passSeconds", v.pass_seconds, a);
  cluster.AddMember("policy", str(v.policy, a), a);
  cluster.AddMember("window", str(v.window, a), a);
  cluster.AddMember("timeZone", str(v.time_zone, a), a);
  cluster.AddMember("plannedPerformance", v.planned_performance, a);
  cluster.AddMember("supply", v.supply, a);
  cluster.AddMember("demand", v.demand, a);
  cluster.AddMember("pendingDemand", v.pending, a);
  rapidjson::Value reasons(rapidjson::kArrayType);
  for (const auto& r : v.reasons) reasons.PushBack(str(r, a), a);
  cluster.AddMember("reasons", reasons, a);
  rapidjson::Value signals(rapidjson::kArrayType);
  for (const auto& s : v.signals) {
    rapidjson::Value o(rapidjson::kObjectType);
    o.AddMember("name", str(s.name, a), a);
    o.AddMember("health", str(s.health, a), a);
    o.AddMember("source", str(s.source, a), a);
    signals.PushBack(o, a);
  }
  cluster.AddMember("signals", signals, a);
  rapidjson::Value missing(rapidjson::kArrayType);
  for (const auto& n : v.not_reported) missing.PushBack(str(n, a), a);
  cluster.AddMember("notReported", missing, a);
  cluster.AddMember("powerSource", str(v.power_source, a), a);
  cluster.AddMember("powerError", str(v.power_error, a), a);
  return cluster;
}

std::string status_json_text(const StatusView& v, Output output) {
  rapidjson::Document d(rapidjson::kObjectType);
  Alloc& a = d.GetAllocator();
  d.AddMember("cluster", cluster_json(v, a), a);
  rapidjson::Value nodes(rapidjson::kArrayType);
  for (const auto& n : v.nodes) {
    rapidjson::Value o(rapidjson::kObjectType);
    o.AddMember("name", str(n.name, a), a);
    o.AddMember("state", str(n.state, a), a);
    o.AddMember("label", str(n.label, a), a);
    o.AddMember("pin", str(n.pin, a), a);
    o.AddMember("profile", str(n.profile, a), a);
    o.AddMember("capWatts", opt_number(n.cap), a);
    o.AddMember("appliedCapWatts", opt_number(n.applied_cap), a);
    o.AddMember("measuredPowerWatts", opt_number(n.power), a);
    o.AddMember("result", str(n.result, a), a);
    o.AddMember("backend", str(n.backend, a), a);
    o.AddMember("message", str(n.message, a), a);
    o.AddMember("performancePods", n.perf_pods, a);
    o.AddMember("since", opt_time(n.since, a), a);
    nodes.PushBack(o, a);
  }
  d.AddMember("nodes", nodes, a);
  return output == Output::yaml ? to_yaml(d) : to_json(d);
}

std::string summary(const StatusView& v, SystemTime now) {
  std::string out;
  if (v.paused) {
    out += fmt::format("PAUSED{}{}{}: every managed node is held in performance ({})\n",
                       v.paused_by.empty() ? "" : " by " + v.paused_by,
                       v.pause_reason.empty() ? "" : ": " + v.pause_reason,
                       v.paused_at.empty() ? "" : " at " + v.paused_at,
                       !v.published        ? "operator state unknown"
                       : v.operator_paused ? "the operator has acted on it"
                                           : "the operator has not acted on it yet");
  }
  if (!v.control_watched) {
    out += "WARNING: the operator cannot read the pause switch (RBAC): pause has no effect\n";
  }
  if (v.published) {
    out +=
        fmt::format("Policy:   {}{}\n", v.policy,
                    v.window.empty() ? std::string(" (no window)") : " (window " + v.window + ")");
  } else {
    out += "Policy:   unknown (the operator has not published its state on its Lease)\n";
  }
  out += fmt::format("Leader:   {} (lease renewed {} ago), last pass {} ago ({:.0f} ms)\n",
                     v.leader.empty() ? "none" : v.leader, age(v.renewed, now),
                     age(v.last_pass, now), v.pass_seconds * 1000);
  out += fmt::format(
      "Supply:   {} nodes labelled performance of {} managed (the policy wants {}); demand {} "
      "performance-sensitive pods ({} pending)\n",
      v.supply, v.nodes.size(), v.planned_performance, v.demand, v.pending);
  if (!v.signals.empty()) {
    std::string s;
    for (const auto& sig : v.signals) s += (s.empty() ? "" : ", ") + sig.name + "=" + sig.health;
    out += "Signals:  " + s + "\n";
  }
  if (!v.not_reported.empty()) {
    std::string s;
    for (const auto& n : v.not_reported) s += (s.empty() ? "" : ", ") + n;
    out += "Agents not reported: " + s + "\n";
  }
  if (!v.power_error.empty()) {
    out += fmt::format("Power:    unknown ({}: {})\n", v.power_source, v.power_error);
  }
  return out;
}

}  // namespace

std::string render_status(const StatusView& v, Output output, SystemTime now) {
  if (output == Output::json || output == Output::yaml) {
    return status_json_text(v, output);
  }
  const bool wide = output == Output::wide;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"NODE",  "STATE",   "LABEL",     "PROFILE", "CAP", "APPLIED",
                                     "POWER", "BACKEND", "PERF-PODS", "AGE",     "PIN"};
  if (wide) {
    header.push_back("RESULT");
    header.push_back("MESSAGE");
  }
  rows.push_back(header);
  for (const auto& n : v.nodes) {
    std::string applied = n.reported ? watts_text(n.applied_cap) : "-";
    if (n.result == "pending" || n.result == "error" || n.result == "blocked") {
      applied += "(" + n.result + ")";
    }
    std::vector<std::string> row = {n.name,
                                    n.state,
                                    n.label,
                                    n.profile,
                                    watts_text(n.cap),
                                    applied,
                                    watts_text(n.power),
                                    n.backend,
                                    std::to_string(n.perf_pods),
                                    age(n.since, now),
                                    n.pin.empty() ? "-" : n.pin};
    if (wide) {
      row.push_back(n.result);
      row.push_back(n.message.empty() ? "-" : n.message);
    }
    rows.push_back(std::move(row));
  }
  return summary(v, now) + "\n" + table(rows);
}

}  // namespace joulie::cli
