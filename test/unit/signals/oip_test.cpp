#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "joulie/common/duration.hpp"
#include "joulie/signals/oip.hpp"
#include "scripted_server.hpp"

using namespace joulie;
using namespace joulie::signals;
using joulie::test::ScriptedServer;
using namespace std::chrono_literals;

TEST_CASE("forecast inputs: history padded with its oldest value, time features from UTC") {
  // Monday 2026-11-30 06:00 UTC: a quarter into the day, a quarter day into the week.
  SystemTime now = parse_rfc3339("2026-11-30T06:00:00Z").value();
  auto inputs = forecast_inputs({4, 5, 6}, now);
  REQUIRE(inputs.size() == 2);
  CHECK(inputs[0].name == "demand_history");
  CHECK(inputs[0].shape == std::vector<std::int64_t>{1, 12});
  std::vector<float> expected(9, 4.0F);
  expected.insert(expected.end(), {4.0F, 5.0F, 6.0F});
  CHECK(inputs[0].data == expected);
  CHECK(inputs[1].name == "time_features");
  CHECK(inputs[1].shape == std::vector<std::int64_t>{1, 4});
  CHECK(inputs[1].data[0] == Approx(1.0));  // sin(2π·6/24)
  CHECK(inputs[1].data[1] == Approx(0.0).margin(1e-6));
  CHECK(inputs[1].data[2] == Approx(std::sin(2 * M_PI * 0.25 / 7)));
  CHECK(inputs[1].data[3] == Approx(std::cos(2 * M_PI * 0.25 / 7)));

  std::vector<double> long_history(20);
  for (int i = 0; i < 20; ++i) {
    long_history[static_cast<std::size_t>(i)] = i;
  }
  auto last = forecast_inputs(long_history, now);
  CHECK(last[0].data.front() == 8.0F);
  CHECK(last[0].data.back() == 19.0F);
}

TEST_CASE("the infer request is Open Inference Protocol v2 JSON") {
  std::string body = encode_infer_request({{"demand_history", {1, 2}, {1.5F, 2}}});
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  REQUIRE(doc.IsObject());
  const auto& input = doc["inputs"][0];
  CHECK(std::string(input["name"].GetString()) == "demand_history");
  CHECK(input["shape"][1].GetInt() == 2);
  CHECK(std::string(input["datatype"].GetString()) == "FP32");
  CHECK(input["data"][0].GetDouble() == 1.5);
}

TEST_CASE("infer replies: one finite value, anything else is an error") {
  auto ok = decode_infer_reply(200, R"({"model_name":"m","outputs":[
      {"name":"forecast","shape":[1,1],"datatype":"FP32","data":[12.5]}]})");
  REQUIRE(ok.ok());
  CHECK(*ok == 12.5);
  CHECK(decode_infer_reply(200, R"({"outputs":[{"data":[[3]]}]})").value() == 3);
  for (const char* bad : {"", "garbage", R"({"outputs":[]})", R"({"outputs":[{"data":[1,2]}]})",
                          R"({"outputs":[{"data":["NaN"]}]})", R"({"outputs":[{"data":[null]}]})",
                          R"({"outputs":[{"shape":[1]}]})", R"({"outputs":{}})",
                          R"({"outputs":[{"data":[1e999]}]})"}) {
    INFO(bad);
    CHECK_FALSE(decode_infer_reply(200, bad).ok());
  }
  CHECK(decode_infer_reply(500, R"({"error":"x"})").code() == Errc::server_error);
}

TEST_CASE("the model client checks readiness and infers over HTTP") {
  ScriptedServer server;
  HttpClientPool pool;
  policy::KServeConfig config{server.url(), "demand forecast", 1s};
  OipClient model(pool, config);
  CHECK(model.model_url() == server.url() + "/v2/models/demand%20forecast");
  server.script("/v2/models/demand forecast/ready", {{503, ""}, {200, ""}});
  CHECK(model.ready().code() == Errc::unavailable);
  CHECK(model.ready().ok());
  server.script("/v2/models/demand forecast/infer",
                {{200, R"({"outputs":[{"name":"y","datatype":"FP32","shape":[1],"data":[7]}]})"},
                 {200, R"({"outputs":[{"data":[1]}]})", 3000ms}});
  auto value = model.infer(forecast_inputs({1, 2}, SystemTime{}));
  REQUIRE(value.ok());
  CHECK(*value == 7);
  auto posted = server.seen().back();
  CHECK(posted.method == "POST");
  CHECK_THAT(posted.body, Catch::Contains("\"demand_history\""));
  CHECK(model.infer({}).code() == Errc::timeout);
}
