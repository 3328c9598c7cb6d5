#include "joulie/operator/pass_report.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cmath>
#include <string_view>

#include "joulie/common/duration.hpp"
#include "json_writer.hpp"

namespace joulie::operator_mode {

namespace {

using JsonWriter = json_out::Writer;
using json_out::number;

// A dry run writes nothing: what a live pass would have applied is reported as "planned".
std::string_view result_text(bool dry_run, policy::GuardResult result) {
  if (dry_run && result == policy::GuardResult::applied) {
    return "planned";
  }
  return policy::to_string(result);
}

void str(JsonWriter& w, std::string_view s) { json_out::string(w, s); }

// What holds the node, only when something does: the write planner's wait between two phases
// ("waiting", "waitUntil") and the policy's stability.minDwell ("heldUntil").
void optional_waits(JsonWriter& w, const NodeOutcome& n) {
  if (!n.waiting.empty()) {
    w.Key("waiting");
    str(w, n.waiting);
  }
  if (n.wait_until) {
    w.Key("waitUntil");
    str(w, format_rfc3339(std::chrono::ceil<std::chrono::milliseconds>(*n.wait_until)));
  }
  if (n.held_until) {
    w.Key("heldUntil");
    str(w, format_rfc3339(std::chrono::ceil<std::chrono::milliseconds>(*n.held_until)));
  }
}

std::string watts(double v) {
  if (v == std::floor(v) && std::fabs(v) < 9e15) {
    return fmt::format("{}", static_cast<int64_t>(v));
  }
  return fmt::format("{}", v);
}

void write_context(JsonWriter& w, const PassContext& c) {
  w.Key("context");
  w.StartObject();
  w.Key("timeZone");
  str(w, c.time_zone);
  w.Key("localTime");
  str(w, c.local_time);
  w.Key("abbreviation");
  str(w, c.abbreviation);
  w.Key("window");
  if (c.window.empty()) {
    w.Null();
  } else {
    str(w, c.window);
  }
  w.Key("reasons");
  w.StartArray();
  for (const auto& reason : c.reasons) {
    str(w, reason);
  }
  w.EndArray();
  w.Key("signals");
  w.StartObject();
  for (const auto& s : c.signals) {
    w.Key(s.name.data(), static_cast<rapidjson::SizeType>(s.name.size()));
    w.StartObject();
    w.Key("health");
    str(w, s.health);
    if (!s.per_node) {
      w.Key("value");
      if (s.value) {
        number(w, *s.value);
      } else {
        w.Null();
      }
    }
    w.Key("ageSeconds");
    if (s.age_seconds) {
      number(w, *s.age_seconds);
    } else {
      w.Null();
    }
    w.Key("source");
    str(w, s.source);
    if (s.per_node) {
      w.Key("nodes");
      w.StartObject();
      w.Key("ok");
      w.Int64(s.ok);
      w.Key("stale");
      w.Int64(s.stale);
      w.Key("missing");
      w.Int64(s.missing);
      w.Key("error");
      w.Int64(s.error);
      w.EndObject();
      w.Key("byNode");
      w.StartObject();
      for (const auto& [node, reading] : s.by_node) {
        w.Key(node.data(), static_cast<rapidjson::SizeType>(node.size()));
        w.StartObject();
        w.Key("health");
        str(w, reading.health);
        w.Key("value");
        if (reading.value) {
          number(w, *reading.value);
        } else {
          w.Null();
        }
        w.Key("ageSeconds");
        if (reading.age_seconds) {
          number(w, *reading.age_seconds);
        } else {
          w.Null();
        }
        if (!reading.message.empty()) {
          w.Key("message");
          str(w, reading.message);
        }
        w.EndObject();
      }
      w.EndObject();
    } else if (!s.message.empty()) {
      w.Key("message");
      str(w, s.message);
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::string format_pass_json(const PassResult& r) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("policy");
  str(w, r.policy);
  w.Key("dryRun");
  w.Bool(r.dry_run);
  w.Key("managed");
  w.Int64(r.managed);
  w.Key("performance");
  w.Int64(r.performance);
  w.Key("nodes");
  w.StartArray();
  for (const auto& n : r.nodes) {
    w.StartObject();
    w.Key("node");
    str(w, n.node);
    w.Key("state");
    str(w, policy::to_string(n.state));
    w.Key("profile");
    str(w, api::to_string(n.profile));
    w.Key("label");
    str(w, n.label);
    w.Key("capWatts");
    number(w, n.cap_watts);
    w.Key("perfPods");
    if (n.perf_pods) {
      w.Int64(*n.perf_pods);
    } else {
      w.Null();
    }
    w.Key("changed");
    w.Bool(n.changed);
    w.Key("result");
    str(w, result_text(r.dry_run, n.result));
    if (!n.error.empty()) {
      w.Key("error");
      str(w, n.error);
    }
    optional_waits(w, n);
    w.Key("reasons");
    w.StartArray();
    for (const auto& reason : n.reasons) {
      str(w, reason);
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  write_context(w, r.context);
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string format_pass_text(const PassResult& r) {
  std::string out = fmt::format("policy={} dryRun={} managed={} performance={}\n", r.policy,
                                r.dry_run, r.managed, r.performance);
  std::string signals;
  for (const auto& s : r.context.signals) {
    signals += fmt::format(" {}={}", s.name, s.health);
  }
  out += fmt::format("timeZone={} localTime={} window={}{}\n", r.context.time_zone,
                     r.context.local_time, r.context.window.empty() ? "none" : r.context.window,
                     signals);
  for (const auto& reason : r.context.reasons) {
    out += "  " + reason + "\n";
  }
  out += fmt::format("{:<24} {:<20} {:<12} {:<21} {:>9} {:>9} {:<8} {}\n", "NODE", "STATE",
                     "PROFILE", "LABEL", "CAP(W)", "PERFPODS", "CHANGED", "RESULT");
  for (const auto& n : r.nodes) {
    out += fmt::format("{:<24} {:<20} {:<12} {:<21} {:>9} {:>9} {:<8} {}{}\n", n.node,
                       policy::to_string(n.state), api::to_string(n.profile), n.label,
                       watts(n.cap_watts), n.perf_pods ? std::to_string(*n.perf_pods) : "?",
                       n.changed ? "yes" : "no", result_text(r.dry_run, n.result),
                       n.error.empty() ? "" : " error: " + n.error);
    if (n.held_until) {
      out += "    held: minDwell until " + format_rfc3339(*n.held_until, false) + "\n";
    }
    if (!n.waiting.empty()) {
      out += "    waits: " + n.waiting +
             (n.wait_until ? " until " + format_rfc3339(*n.wait_until, false) : "") + "\n";
    }
    for (const auto& reason : n.reasons) {
      out += "    " + reason + "\n";
    }
  }
  return out;
}

}  // namespace joulie::operator_mode
