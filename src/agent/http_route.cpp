#include "joulie/agent/http_route.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <algorithm>
#include <cmath>

#include "joulie/common/duration.hpp"
#include "joulie/kube/json.hpp"
#include "joulie/kube/json_fields.hpp"

namespace joulie::agent {

TelemetrySample parse_telemetry_reply(std::string_view body, SystemTime received_at) {
  TelemetrySample sample;
  sample.timestamp = received_at;
  // kube::parse_object: bounded nesting (a hostile or broken simulator must not overflow our
  // stack with deeply nested arrays, found by the sim_reply fuzz target) and defined, correctly
  // rounded numbers (docs/decisions.md, "JSON numbers").
  auto parsed_body = kube::parse_object(body);
  if (!parsed_body.ok()) {
    sample.missing_reason = "telemetry reply is not a JSON object";
    return sample;
  }
  // Const view: comparing RapidJSON's mutable member iterators is ambiguous in C++20.
  const rapidjson::Value& doc = parsed_body.value();
  const rapidjson::Value* power = kube::json::member(doc, "packagePowerWatts");
  if (power == nullptr) {
    power = kube::json::member(kube::json::object_at(doc, "cpu"), "packagePowerWatts");
  }
  if (power == nullptr) {
    sample.missing_reason = "telemetry reply has no packagePowerWatts";
    return sample;
  }
  if (!power->IsNumber() || !std::isfinite(power->GetDouble()) || power->GetDouble() < 0) {
    sample.missing_reason = "telemetry packagePowerWatts is not a non-negative number";
    return sample;
  }
  if (const rapidjson::Value* ts = kube::json::present(doc, "ts")) {
    if (!ts->IsString()) {
      sample.missing_reason = "telemetry ts is not a string";
      return sample;
    }
    auto parsed = parse_rfc3339(std::string_view(ts->GetString(), ts->GetStringLength()));
    if (!parsed.ok()) {
      sample.missing_reason = "telemetry ts is not RFC 3339";
      return sample;
    }
    sample.timestamp = *parsed;
  }
  sample.watts = power->GetDouble() + 0.0;  // -0.0 (a valid reading of nothing) reads as 0
  return sample;
}

TelemetrySample HttpTelemetry::sample() {
  auto reply = pool_.get(url_, timeout_);
  SystemTime now = clock_.now();
  if (!reply.ok()) {
    TelemetrySample missing;
    missing.timestamp = now;
    missing.missing_reason = "telemetry request failed: " + reply.error().message;
    return missing;
  }
  if (reply->status < 200 || reply->status > 299) {
    TelemetrySample missing;
    missing.timestamp = now;
    missing.missing_reason = fmt::format("telemetry endpoint answered HTTP {}", reply->status);
    return missing;
  }
  return parse_telemetry_reply(reply->body, now);
}

ControlOutcome interpret_control_reply(Backend backend,
                                       const Result<HttpClientPool::Response>& reply,
                                       std::string_view action) {
  ControlOutcome out;
  out.backend = backend;
  if (!reply.ok()) {
    out.result = ApplyResult::error;
    out.message = fmt::format("{} failed: {}", action, reply.error().message);
    // Connection refused/reset, timeout, TLS trouble: no verdict from the simulator. Only a URL
    // we cannot even send to (our configuration) is not worth retrying.
    out.transient = reply.error().code != Errc::invalid_argument;
    return out;
  }
  std::string result_field;
  std::string message_field;
  auto parsed_body = kube::parse_object(reply->body);
  if (parsed_body.ok()) {
    const rapidjson::Value& doc = parsed_body.value();
    result_field = kube::json::string_or_empty(doc, "result");
    if (auto it = doc.FindMember("packageMaxPowerWatts");
        it != doc.MemberEnd() && it->value.IsNumber() && std::isfinite(it->value.GetDouble()) &&
        it->value.GetDouble() > 0) {
      out.package_max_watts = it->value.GetDouble();
    }
    if (auto message = kube::json::string_at(doc, "message")) {
      message_field = peer_text(*message);
    }
  }
  std::string detail = message_field.empty() ? "" : ": " + message_field;
  if (reply->status < 200 || reply->status > 299) {
    out.result = ApplyResult::error;
    out.message =
        fmt::format("{} failed: simulator answered HTTP {}{}", action, reply->status, detail);
    // 5xx: the server (or a proxy in front of it) failed, whatever its body says; 408 and 429
    // say "not now" (timeout, overload). Other 4xx and the rest are a verdict on the request.
    out.transient = (reply->status >= 500 && reply->status <= 599) || reply->status == 408 ||
                    reply->status == 429;
    return out;
  }
  if (result_field.empty() || result_field == "applied") {
    out.result = ApplyResult::applied;
    return out;
  }
  if (result_field == "blocked") {
    out.result = ApplyResult::blocked;
    out.message = fmt::format("simulator blocked {}{}", action, detail);
  } else if (result_field == "error") {
    out.result = ApplyResult::error;
    out.message = fmt::format("simulator reported an error for {}{}", action, detail);
  } else {
    out.result = ApplyResult::error;
    out.message =
        fmt::format("simulator answered result {:?} to {}", peer_text(result_field, 32), action);
  }
  return out;
}

std::string HttpControl::control_body(std::string_view action, double cap_watts,
                                      int throttle_pct) const {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("node");
  writer.String(node_.c_str(), static_cast<rapidjson::SizeType>(node_.size()));
  writer.Key("action");
  writer.String(action.data(), static_cast<rapidjson::SizeType>(action.size()));
  writer.Key("capWatts");
  writer.Double(cap_watts);
  writer.Key("throttlePct");
  writer.Int(throttle_pct);
  writer.Key("ts");
  std::string ts = format_rfc3339(clock_.now());
  writer.String(ts.c_str(), static_cast<rapidjson::SizeType>(ts.size()));
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

ControlOutcome HttpControl::apply_cap(double watts) {
  constexpr std::string_view kAction = "rapl.set_power_cap_watts";
  if (!std::isfinite(watts) || watts <= 0) {
    return {Backend::rapl, ApplyResult::error, "invalid cap: must be a positive number of watts",
            std::nullopt};
  }
  auto reply = pool_.post_json(url_, control_body(kAction, watts, -1), timeout_);
  ControlOutcome out = interpret_control_reply(Backend::rapl, reply, kAction);
  if (out.ok()) {
    out.applied_cap_watts = watts;
    out.message = fmt::format("simulator RAPL cap {:g} W applied", watts);
  } else {
    // A verdict (blocked/error reply, 4xx) means RAPL cannot be used; no answer says nothing.
    out.unavailable = !out.transient;
  }
  return out;
}

ControlOutcome HttpControl::apply_throttle(int pct, std::optional<double> cap_watts) {
  constexpr std::string_view kAction = "dvfs.set_throttle_pct";
  pct = std::clamp(pct, 0, 100);
  auto reply = pool_.post_json(url_, control_body(kAction, cap_watts.value_or(0.0), pct), timeout_);
  ControlOutcome out = interpret_control_reply(Backend::dvfs, reply, kAction);
  out.applied_cap_watts = cap_watts;
  if (out.ok()) {
    last_throttle_pct_ = pct;
    out.message = fmt::format("simulator DVFS throttle {}% applied", pct);
  } else {
    out.unavailable = out.result == ApplyResult::blocked;
  }
  return out;
}

ControlOutcome HttpControl::restore() {
  if (last_throttle_pct_ == 0) {
    return {Backend::none, ApplyResult::applied, "nothing to restore on the simulator",
            std::nullopt};
  }
  return apply_throttle(0, std::nullopt);
}

}  // namespace joulie::agent
