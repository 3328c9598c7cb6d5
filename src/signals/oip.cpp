#include "joulie/signals/oip.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <numbers>

#include "joulie/kube/json_fields.hpp"
#include "joulie/signals/promql.hpp"

namespace joulie::signals {

namespace {

constexpr std::size_t kMaxReply = 1u << 20;

Error bad_output(std::string_view why) {
  return Error(Errc::parse, fmt::format("model output unusable: {}", why));
}

}  // namespace

std::vector<OipTensor> forecast_inputs(const std::vector<double>& history, SystemTime now) {
  OipTensor demand{"demand_history", {1, static_cast<std::int64_t>(kForecastHistory)}, {}};
  demand.data.assign(kForecastHistory, 0.0F);
  if (!history.empty()) {
    std::size_t have = std::min(history.size(), kForecastHistory);
    std::size_t pad = kForecastHistory - have;
    auto first = history.end() - static_cast<std::ptrdiff_t>(have);
    for (std::size_t i = 0; i < kForecastHistory; ++i) {
      double v = i < pad ? *first : *(first + static_cast<std::ptrdiff_t>(i - pad));
      demand.data[i] = static_cast<float>(v);
    }
  }
  using namespace std::chrono;
  auto since_epoch = duration_cast<seconds>(now.time_since_epoch()).count();
  double day_seconds = static_cast<double>(((since_epoch % 86400) + 86400) % 86400);
  // 1970-01-01 was a Thursday: Monday 00:00 is 3 days earlier.
  std::int64_t week = 7 * 86400;
  double week_seconds = static_cast<double>((((since_epoch + 3 * 86400) % week) + week) % week);
  double hour_angle = 2 * std::numbers::pi * day_seconds / 86400.0;
  double week_angle = 2 * std::numbers::pi * week_seconds / static_cast<double>(week);
  OipTensor time{
      "time_features",
      {1, 4},
      {static_cast<float>(std::sin(hour_angle)), static_cast<float>(std::cos(hour_angle)),
       static_cast<float>(std::sin(week_angle)), static_cast<float>(std::cos(week_angle))}};
  return {std::move(demand), std::move(time)};
}

std::string encode_infer_request(const std::vector<OipTensor>& inputs) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("inputs");
  writer.StartArray();
  for (const auto& tensor : inputs) {
    writer.StartObject();
    writer.Key("name");
    writer.String(tensor.name.c_str(), static_cast<rapidjson::SizeType>(tensor.name.size()));
    writer.Key("shape");
    writer.StartArray();
    for (auto dim : tensor.shape) {
      writer.Int64(dim);
    }
    writer.EndArray();
    writer.Key("datatype");
    writer.String("FP32");
    writer.Key("data");
    writer.StartArray();
    for (float v : tensor.data) {
      writer.Double(static_cast<double>(v));
    }
    writer.EndArray();
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<double> decode_infer_reply(int http_status, std::string_view body) {
  if (http_status < 200 || http_status > 299) {
    return Error(http_status >= 500 ? Errc::server_error : Errc::bad_request,
                 fmt::format("model answered HTTP {}", http_status), http_status);
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return bad_output("reply is not a JSON object");
  }
  const rapidjson::Value* outputs = kube::json::array_at(doc, "outputs");
  if (outputs == nullptr || outputs->Empty()) {
    return bad_output("no outputs");
  }
  const auto& first = (*outputs)[0];
  if (!first.IsObject()) {
    return bad_output("output is not an object");
  }
  const rapidjson::Value* data = kube::json::array_at(first, "data");
  if (data == nullptr) {
    return bad_output("output has no data array");
  }
  const auto& values = *data;
  // Some servers nest data like the shape; one level is accepted.
  const rapidjson::Value* value = nullptr;
  if (values.Size() == 1 && values[0].IsArray() && values[0].Size() == 1) {
    value = &values[0][0];
  } else if (values.Size() == 1) {
    value = &values[0];
  } else {
    return bad_output(fmt::format("expected one value, got {}", values.Size()));
  }
  if (!value->IsNumber()) {
    // JSON has no NaN: servers that emit it send a string or null.
    return bad_output("the value is not a number");
  }
  double v = value->GetDouble();
  if (!std::isfinite(v)) {
    return bad_output("the value is not finite");
  }
  return v;
}

OipClient::OipClient(HttpClientPool& pool, policy::KServeConfig config)
    : pool_(pool), config_(std::move(config)) {
  while (!config_.endpoint.empty() && config_.endpoint.back() == '/') {
    config_.endpoint.pop_back();
  }
}

std::string OipClient::model_url() const {
  return fmt::format("{}/v2/models/{}", config_.endpoint, url_encode(config_.model));
}

Status OipClient::ready() {
  HttpRequestOptions options;
  options.max_body = kMaxReply;
  auto reply = pool_.get(model_url() + "/ready", config_.timeout, options);
  if (!reply.ok()) {
    return reply.error();
  }
  if (reply->status != 200) {
    return Error(
        Errc::unavailable,
        fmt::format("model {} is not ready (HTTP {})", peer_text(config_.model, 60), reply->status),
        reply->status);
  }
  return Status::success();
}

Result<double> OipClient::infer(const std::vector<OipTensor>& inputs) {
  HttpRequestOptions options;
  options.max_body = kMaxReply;
  auto reply = pool_.post_json(model_url() + "/infer", encode_infer_request(inputs),
                               config_.timeout, options);
  if (!reply.ok()) {
    return reply.error();
  }
  return decode_infer_reply(reply->status, reply->body);
}

}  // namespace joulie::signals
