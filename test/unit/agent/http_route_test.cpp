#include <httplib.h>

#include <rapidjson/document.h>
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "joulie/agent/http_route.hpp"
#include "joulie/common/duration.hpp"
#include "stub_server.hpp"

using joulie::ManualClock;
using joulie::test::StubServer;
using namespace joulie::agent;
using namespace std::chrono_literals;

TEST_CASE("endpoint URLs split into origin and target") {
  auto a = parse_http_url("http://sim.joulie-system.svc:8080/telemetry/n1?x=1");
  REQUIRE(a.ok());
  CHECK(a->origin == "http://sim.joulie-system.svc:8080");
  CHECK(a->target == "/telemetry/n1?x=1");
  CHECK(parse_http_url("http://sim").value().origin == "http://sim:80");
  CHECK(parse_http_url("https://sim").value().origin == "https://sim:443");
  CHECK(parse_http_url("http://sim").value().target == "/");
  CHECK(parse_http_url("http://[::1]:9/x").value().origin == "http://[::1]:9");
  CHECK(parse_http_url("http://[::1]/x").value().origin == "http://[::1]:80");
  CHECK(parse_http_url("http://sim?q").value().target == "/?q");
  for (const char* bad :
       {"", "sim:80/x", "ftp://sim/", "http://", "http:///x", "http://user@sim/", "http://a b/"}) {
    INFO(bad);
    CHECK_FALSE(parse_http_url(bad).ok());
  }
}

TEST_CASE("telemetry replies: top-level or cpu power, optional ts") {
  ManualClock clock;
  auto now = clock.now();
  auto top = parse_telemetry_reply(R"({"packagePowerWatts": 123.5})", now);
  REQUIRE(top.watts.has_value());
  CHECK(*top.watts == 123.5);
  CHECK(top.timestamp == now);

  auto nested = parse_telemetry_reply(
      R"({"node":"n","cpu":{"packagePowerWatts":80},"ts":"2026-11-29T10:00:00Z"})", now);
  REQUIRE(nested.watts.has_value());
  CHECK(*nested.watts == 80);
  CHECK(nested.timestamp == joulie::parse_rfc3339("2026-11-29T10:00:00Z").value());

  struct Bad {
    const char* body;
    const char* says;
  };
  for (Bad bad : {Bad{"", "not a JSON object"}, Bad{"garbage{", "not a JSON object"},
                  Bad{"[1,2]", "not a JSON object"}, Bad{"{}", "no packagePowerWatts"},
                  Bad{R"({"cpu": 5})", "no packagePowerWatts"},
                  Bad{R"({"packagePowerWatts":"12"})", "not a non-negative number"},
                  Bad{R"({"packagePowerWatts":-1})", "not a non-negative number"},
                  Bad{R"({"packagePowerWatts":1,"ts":"yesterday"})", "not RFC 3339"},
                  Bad{R"({"packagePowerWatts":1,"ts":5})", "ts is not a string"}}) {
    INFO(bad.body);
    auto s = parse_telemetry_reply(bad.body, now);
    CHECK_FALSE(s.watts.has_value());
    CHECK(s.missing_reason.find(bad.says) != std::string::npos);
  }
}

TEST_CASE("HTTP telemetry: 2xx JSON gives power; errors give a missing reason") {
  StubServer server;
  HttpClientPool pool;
  ManualClock clock;
  HttpTelemetry telemetry(pool, server.url("/telemetry/n1"), 2s, clock);

  server.reply(200, R"({"cpu":{"packagePowerWatts":140}})");
  auto ok = telemetry.sample();
  REQUIRE(ok.watts.has_value());
  CHECK(*ok.watts == 140);
  CHECK(ok.fresh(clock.now(), 60s));

  server.reply(503, R"({"packagePowerWatts":140})");
  auto failed = telemetry.sample();
  CHECK_FALSE(failed.watts.has_value());
  CHECK(failed.missing_reason == "telemetry endpoint answered HTTP 503");

  server.reply(200, "not json");
  CHECK(telemetry.sample().missing_reason == "telemetry reply is not a JSON object");

  HttpTelemetry nowhere(pool, "http://127.0.0.1:1/telemetry/x", 1s, clock);
  auto refused = nowhere.sample();
  CHECK_FALSE(refused.watts.has_value());
  CHECK(refused.missing_reason.find("cannot connect") != std::string::npos);
}

TEST_CASE("control POSTs exactly the specified body") {
  StubServer server;
  HttpClientPool pool;
  ManualClock clock(joulie::parse_rfc3339("2026-11-29T10:00:00Z").value());
  HttpControl control(pool, "node-a", server.url("/control/node-a"), 2s, clock);

  auto cap = control.apply_cap(150);
  REQUIRE(cap.ok());
  CHECK(cap.backend == Backend::rapl);
  CHECK(cap.applied_cap_watts == 150.0);
  CHECK(server.last_content_type() == "application/json");
  CHECK(server.last_path() == "/control/node-a");
  rapidjson::Document doc;
  doc.Parse(server.last_body().c_str());
  REQUIRE(doc.IsObject());
  CHECK(doc.MemberCount() == 5);
  CHECK(std::string(doc["node"].GetString()) == "node-a");
  CHECK(std::string(doc["action"].GetString()) == "rapl.set_power_cap_watts");
  CHECK(doc["capWatts"].GetDouble() == 150);
  CHECK(doc["throttlePct"].GetInt() == -1);
  CHECK(std::string(doc["ts"].GetString()) == "2026-11-29T10:00:00.000Z");

  auto throttle = control.apply_throttle(30, 150.0);
  REQUIRE(throttle.ok());
  CHECK(throttle.backend == Backend::dvfs);
  CHECK(throttle.message == "simulator DVFS throttle 30% applied");
  doc.Parse(server.last_body().c_str());
  CHECK(std::string(doc["action"].GetString()) == "dvfs.set_throttle_pct");
  CHECK(doc["throttlePct"].GetInt() == 30);
  CHECK(doc["capWatts"].GetDouble() == 150);

  // restore = throttle back to 0 (there is no uncap action).
  REQUIRE(control.restore().ok());
  doc.Parse(server.last_body().c_str());
  CHECK(doc["throttlePct"].GetInt() == 0);
}

TEST_CASE("control replies: applied, blocked, error, non-2xx, garbage") {
  StubServer server;
  HttpClientPool pool;
  ManualClock clock;
  HttpControl control(pool, "n", server.url("/control/n"), 2s, clock);

  server.reply(200, R"({"result":"blocked","message":"rapl locked on this node"})");
  auto blocked = control.apply_cap(100);
  CHECK(blocked.result == ApplyResult::blocked);
  CHECK(blocked.unavailable);
  CHECK(blocked.message == "simulator blocked rapl.set_power_cap_watts: rapl locked on this node");

  server.reply(200, R"({"result":"error"})");
  auto error = control.apply_cap(100);
  CHECK(error.result == ApplyResult::error);
  CHECK(error.message.find("reported an error") != std::string::npos);

  server.reply(200, R"({"result":"maybe"})");
  CHECK(control.apply_cap(100).result == ApplyResult::error);

  server.reply(500, R"({"result":"applied"})");
  auto status = control.apply_cap(100);
  CHECK(status.result == ApplyResult::error);
  CHECK(status.message.find("HTTP 500") != std::string::npos);

  // 2xx without a JSON object carrying `result` is success.
  server.reply(204, "");
  CHECK(control.apply_cap(100).ok());
  server.reply(200, "\x01garbage");
  CHECK(control.apply_cap(100).ok());
}

TEST_CASE("control failures without a verdict are transient; verdicts are not") {
  using Reply = joulie::Result<HttpClientPool::Response>;
  constexpr std::string_view kAction = "rapl.set_power_cap_watts";
  auto interpret = [&](Reply reply) {
    return interpret_control_reply(Backend::rapl, reply, kAction);
  };
  // No verdict: transport failures, 5xx (whatever the body says), 408 and 429 ("not now").
  for (auto code : {joulie::Errc::unavailable, joulie::Errc::timeout, joulie::Errc::io}) {
    auto out = interpret(joulie::Error(code, "cannot connect to http://sim"));
    CHECK(out.result == ApplyResult::error);
    CHECK(out.transient);
  }
  for (int status : {500, 502, 503, 504, 408, 429}) {
    auto out = interpret(HttpClientPool::Response{status, R"({"result":"error"})"});
    CHECK(out.result == ApplyResult::error);
    CHECK(out.transient);
  }
  // Verdicts (and our own bad URL): not transient.
  CHECK_FALSE(interpret(joulie::Error(joulie::Errc::invalid_argument, "bad url")).transient);
  for (int status : {400, 403, 404, 302}) {
    auto out = interpret(HttpClientPool::Response{status, ""});
    CHECK(out.result == ApplyResult::error);
    CHECK_FALSE(out.transient);
  }
  CHECK_FALSE(interpret(HttpClientPool::Response{200, R"({"result":"blocked"})"}).transient);
  CHECK_FALSE(interpret(HttpClientPool::Response{200, R"({"result":"error"})"}).transient);
  CHECK_FALSE(interpret(HttpClientPool::Response{200, R"({"result":"maybe"})"}).transient);
  // The simulator may report the package maximum; junk there is ignored.
  CHECK(
      interpret(HttpClientPool::Response{200, R"({"result":"applied","packageMaxPowerWatts":230})"})
          .package_max_watts == 230.0);
  CHECK_FALSE(
      interpret(HttpClientPool::Response{200, R"({"result":"applied","packageMaxPowerWatts":-5})"})
          .package_max_watts);
  CHECK_FALSE(
      interpret(HttpClientPool::Response{200, R"({"result":"applied","packageMaxPowerWatts":"x"})"})
          .package_max_watts);

  // apply_cap: a transient failure does not say RAPL is unavailable; a verdict does.
  StubServer server;
  HttpClientPool pool;
  ManualClock clock;
  HttpControl control(pool, "n", server.url("/control/n"), 2s, clock);
  server.reply(503, R"({"message":"restarting"})");
  auto busy = control.apply_cap(100);
  CHECK(busy.transient);
  CHECK_FALSE(busy.unavailable);
  server.reply(200, R"({"result":"blocked"})");
  auto blocked = control.apply_cap(100);
  CHECK_FALSE(blocked.transient);
  CHECK(blocked.unavailable);
  // Nothing listens on port 1: connection refused.
  HttpControl nowhere(pool, "n", "http://127.0.0.1:1/control/n", 2s, clock);
  auto refused = nowhere.apply_cap(100);
  CHECK(refused.result == ApplyResult::error);
  CHECK(refused.transient);
  CHECK_FALSE(refused.unavailable);
}

TEST_CASE("a hanging simulator times out instead of blocking the agent") {
  StubServer server;
  HttpClientPool pool;
  ManualClock clock;
  HttpTelemetry telemetry(pool, server.url("/hang"), 200ms, clock);
  auto started = std::chrono::steady_clock::now();
  auto sample = telemetry.sample();
  auto took = std::chrono::steady_clock::now() - started;
  CHECK_FALSE(sample.watts.has_value());
  CHECK(sample.missing_reason.find("no complete reply") != std::string::npos);
  CHECK(took < 5s);
}

TEST_CASE("connections are reused across calls and shared safely across threads") {
  StubServer server;
  HttpClientPool pool;
  ManualClock clock;
  HttpControl control(pool, "n", server.url("/control/n"), 2s, clock);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(control.apply_cap(100 + i).ok());
  }
  CHECK(pool.connections_created() == 1);
  CHECK(server.client_connections() == 1);

  server.reply(200, R"({"packagePowerWatts":90})");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      HttpTelemetry telemetry(pool, server.url("/telemetry/n"), 2s, clock);
      for (int i = 0; i < 25; ++i) {
        if (telemetry.sample().watts != 90.0) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(failures == 0);
  CHECK(pool.connections_created() <= 5);  // at most one per concurrent caller (+ the first)
}
