#include "joulie/operator/control.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>

#include "joulie/api/names.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/common/log.hpp"
#include "json_writer.hpp"

namespace joulie::operator_mode {

bool control_readable(kube::Api& api, const std::string& ns) {
  auto got = api.get(kube::resources::config_maps, ns, api::kControlConfigMap);
  if (got.ok() || got.code() == Errc::not_found) {
    return true;
  }
  log::error(
      "operator",
      "cannot read the pause switch; `kubectl joulie pause` will have no effect until "
      "the operator may get/list/watch it (manifests/base/rbac-operator.yaml)",
      {{"configmap", ns + "/" + std::string(api::kControlConfigMap)}, {"error", got.error()}});
  return false;
}

PauseReporter::PauseReporter(metrics::Registry& registry, std::string ns, EventSink events)
    : gauge_(registry.gauge("joulie_operator_paused",
                            "1 while the cluster-wide pause switch (ConfigMap joulie-control) "
                            "holds every managed node in performance")),
      demand_(
          registry.gauge("joulie_operator_performance_demand_pods",
                         "Performance-sensitive pods (pending ones included) the last pass saw")),
      ns_(std::move(ns)),
      events_(std::move(events)) {
  gauge_.with({}).set(0);
}

void PauseReporter::observe(const Snapshot& snapshot) {
  if (snapshot.pods_known) {
    demand_.with({}).set(static_cast<double>(snapshot.context.workloads.cluster.perf_sensitive()));
  }
  const ControlInfo& control = snapshot.control;
  gauge_.with({}).set(control.paused ? 1 : 0);
  if (last_ == control.paused) {
    return;
  }
  const bool first = !last_.has_value();
  last_ = control.paused;
  if (first && !control.paused) {
    return;  // the ordinary state at start-up: nothing to say
  }
  std::string who = control.paused_by.empty() ? std::string() : " by " + control.paused_by;
  std::string why = control.reason.empty() ? std::string() : ": " + control.reason;
  std::string message =
      control.paused
          ? fmt::format("paused{}{}: every managed node is held in performance until resumed", who,
                        why)
          : std::string("resumed: the policy decides again");
  log::info("operator", control.paused ? "cluster-wide pause in force" : "pause lifted",
            {{"by", control.paused_by}, {"reason", control.reason}});
  if (events_) {
    kube::NodeRef ref;
    ref.kind = "ConfigMap";
    ref.name = std::string(api::kControlConfigMap);
    ref.ns = ns_;
    events_(ref, kube::EventType::normal, control.paused ? "OperatorPaused" : "OperatorResumed",
            std::move(message));
  }
}

namespace {

using JsonWriter = json_out::Writer;
using json_out::key_string;

}  // namespace

std::string status_json(const PassResult& result, const Snapshot& snapshot,
                        const PublishedStatus& extra, SystemTime now) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  key_string(w, "lastPass", format_rfc3339(now));
  w.Key("passSeconds");
  w.Double(result.seconds);
  key_string(w, "policy", result.policy);
  key_string(w, "window", result.context.window);
  key_string(w, "timeZone", result.context.time_zone);
  w.Key("dryRun");
  w.Bool(result.dry_run);
  w.Key("paused");
  w.Bool(snapshot.control.paused);
  key_string(w, "pausedBy", snapshot.control.paused_by);
  key_string(w, "pauseReason", snapshot.control.reason);
  key_string(w, "pausedAt", snapshot.control.paused_at);
  w.Key("controlWatched");
  w.Bool(extra.control_watched);
  key_string(w, "controlNamespace", extra.control_namespace);
  w.Key("managed");
  w.Int64(result.managed);
  w.Key("performance");
  w.Int64(result.performance);
  w.Key("podsKnown");
  w.Bool(result.pods_known);
  w.Key("demand");  // performance-sensitive pods, cluster-wide (pending ones included)
  w.Int64(snapshot.context.workloads.cluster.perf_sensitive());
  w.Key("failedNodes");
  w.Uint64(result.failed_nodes);
  w.Key("reasons");
  w.StartArray();
  for (const auto& r : result.context.reasons) {
    w.String(r.c_str(), static_cast<rapidjson::SizeType>(r.size()));
  }
  w.EndArray();
  w.Key("signals");
  w.StartArray();
  for (const auto& s : result.context.signals) {
    w.StartObject();
    key_string(w, "name", s.name);
    key_string(w, "health", s.health);
    key_string(w, "source", s.source);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

void LeaseAnnotations::set(const std::string& key, std::string value) {
  std::lock_guard lock(mutex_);
  values_[key] = std::move(value);
}

std::map<std::string, std::string> LeaseAnnotations::get() const {
  std::lock_guard lock(mutex_);
  return values_;
}

}  // namespace joulie::operator_mode
