#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>

#include "joulie/common/log.hpp"
#include "joulie/signals/promql.hpp"
#include "scripted_server.hpp"
#include "temp_dir.hpp"

using namespace joulie;
using namespace joulie::signals;
using joulie::test::prom_vector;
using joulie::test::ScriptedReply;
using joulie::test::ScriptedServer;
using namespace std::chrono_literals;

TEST_CASE("Prometheus vector replies decode labels, values and sample timestamps") {
  auto r = decode_prom_reply(200, R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"__name__":"node_power","node":"n1"},"value":[1764756000.25,"142.5"]},
      {"metric":{"node":"n2"},"value":[1764756001,"NaN"]},
      {"metric":{"node":"n3"},"value":[1764756001,"+Inf"]},
      {"metric":{"node":"n4"},"value":[1764756001,"-Inf"]},
      {"metric":{"node":"n5"},"value":[1764756001,"1e3"]}]}})");
  REQUIRE(r.ok());
  REQUIRE(r->samples.size() == 5);
  CHECK(r->type == PromResultType::vector);
  CHECK(r->samples[0].labels.at("node") == "n1");
  CHECK(r->samples[0].value == 142.5);
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(
            r->samples[0].timestamp.time_since_epoch())
            .count() == 1764756000250);
  CHECK(std::isnan(r->samples[1].value));
  CHECK(r->samples[2].value == INFINITY);
  CHECK(r->samples[3].value == -INFINITY);
  CHECK(r->samples[4].value == 1000);
}

TEST_CASE("a scalar reply is one sample without labels") {
  auto r = decode_prom_reply(
      200, R"({"status":"success","data":{"resultType":"scalar","result":[1764756000,"3.5"]}})");
  REQUIRE(r.ok());
  CHECK(r->type == PromResultType::scalar);
  REQUIRE(r->samples.size() == 1);
  CHECK(r->samples[0].labels.empty());
  CHECK(r->samples[0].value == 3.5);
}

TEST_CASE("status error is a typed error carrying errorType, message and HTTP status") {
  struct Case {
    int http;
    const char* type;
    Errc code;
  };
  for (auto c :
       {Case{400, "bad_data", Errc::invalid_argument}, Case{422, "execution", Errc::server_error},
        Case{503, "timeout", Errc::timeout}, Case{503, "unavailable", Errc::unavailable}}) {
    std::string body = std::string(R"({"status":"error","errorType":")") + c.type +
                       R"(","error":"parse error at char 5"})";
    auto r = decode_prom_reply(c.http, body);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == c.code);
    CHECK(r.error().reason == c.type);
    CHECK(r.error().http_status == c.http);
    CHECK_THAT(r.error().message, Catch::Contains("parse error at char 5"));
  }
}

TEST_CASE("malformed and unsupported replies are errors, never crashes") {
  for (
      const char* body :
      {"", "not json", "[]", R"({"status":"success"})", R"({"status":"success","data":{}})",
       R"({"status":"success","data":{"resultType":"vector","result":{}}})",
       R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
       R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}})",
       R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"x"]}]}})",
       R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1e300,"1"]}]}})",
       // Year 2529: would overflow SystemTime's nanoseconds (found by fuzzing).
       R"({"status":"success","data":{"resultType":"vector","result":[{"value":[17640000123,"1"]}]}})",
       R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}})",
       R"({"status":"success","data":{"resultType":"scalar","result":[1]}})",
       R"({"status":"maybe","data":{"resultType":"scalar","result":[1,"1"]}})"}) {
    INFO(body);
    auto r = decode_prom_reply(200, body);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::parse);
  }
  auto matrix =
      decode_prom_reply(200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
  CHECK(matrix.code() == Errc::unsupported);
  auto gateway = decode_prom_reply(502, "<html>bad gateway</html>");
  CHECK(gateway.code() == Errc::server_error);
  CHECK(gateway.error().http_status == 502);
}

TEST_CASE("warnings are decoded with the result") {
  auto r = decode_prom_reply(200, R"({"status":"success","warnings":["partial response"],
      "data":{"resultType":"vector","result":[]}})");
  REQUIRE(r.ok());
  CHECK(r->warnings == std::vector<std::string>{"partial response"});
}

TEST_CASE("PromQL string escaping for {node}") {
  CHECK(promql_escape("worker-1") == "worker-1");
  CHECK(promql_escape(R"(a"b\c)") == R"(a\"b\\c)");
  CHECK(promql_escape("a\nb") == R"(a\nb)");
  CHECK(expand_node(R"(x{node="{node}"} + y{n="{node}"})", R"(n"1)") ==
        R"(x{node="n\"1"} + y{n="n\"1"})");
  CHECK(expand_node("up", "n1") == "up");
  CHECK(url_encode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9");
}

namespace {

struct Fixture {
  ScriptedServer server;
  HttpClientPool pool;
  std::vector<std::chrono::milliseconds> waits;

  PromClient client(policy::PrometheusConfig config = {}) {
    if (config.endpoint.empty()) {
      config.endpoint = server.url() + "/";
    }
    PromClientOptions options;
    options.config = config;
    options.sleep = [this](std::chrono::milliseconds d) { waits.push_back(d); };
    return PromClient(pool, options);
  }
};

}  // namespace

TEST_CASE("the client sends the query and timeout, and decodes the answer") {
  Fixture f;
  f.server.script("/api/v1/query", {{200, prom_vector({{{{"node", "n1"}}, "7"}})}});
  auto client = f.client();
  auto r = client.query(R"(sum by (node) (rate(x{job="a b"}[1m])))");
  REQUIRE(r.ok());
  CHECK(r->samples.at(0).value == 7);
  auto seen = f.server.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].params.at("query") == R"(sum by (node) (rate(x{job="a b"}[1m])))");
  CHECK(seen[0].params.at("timeout") == "5000ms");
  CHECK(seen[0].authorization.empty());
  CHECK(f.waits.empty());
}

TEST_CASE("one retry with backoff for 5xx and no answer; none for bad queries") {
  Fixture f;
  auto client = f.client();
  f.server.script("/api/v1/query", {{503, "overloaded"}, {200, prom_vector({{{}, "1"}})}});
  REQUIRE(client.query("up").ok());
  CHECK(f.server.count("/api/v1/query") == 2);
  CHECK(f.waits == std::vector<std::chrono::milliseconds>{200ms});

  f.server.script("/api/v1/query", {{500, "a"}, {500, "b"}, {200, prom_vector({})}});
  auto twice = client.query("up");
  CHECK(twice.code() == Errc::server_error);
  CHECK(f.server.count("/api/v1/query") == 4);  // one retry only

  f.server.script("/api/v1/query",
                  {{400, R"({"status":"error","errorType":"bad_data","error":"bad"})"}});
  CHECK(client.query("up{").code() == Errc::invalid_argument);
  CHECK(f.server.count("/api/v1/query") == 5);

  policy::PrometheusConfig down;
  down.endpoint = "http://127.0.0.1:1";
  down.timeout = 1s;
  auto refused = f.client(down).query("up");
  CHECK(refused.code() == Errc::unavailable);
  CHECK(f.waits.size() == 3);
}

TEST_CASE("a slow Prometheus is a timeout, bounded by the configured timeout") {
  Fixture f;
  f.server.script("/api/v1/query", {{200, prom_vector({}), 3000ms}});
  policy::PrometheusConfig config;
  config.endpoint = f.server.url();
  config.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto r = f.client(config).query("up");
  CHECK(r.code() == Errc::timeout);
  // Two attempts of 300 ms; far below the server's 3 s delay.
  CHECK(std::chrono::steady_clock::now() - start < 2500ms);
}

TEST_CASE("a reply over the size bound is refused") {
  Fixture f;
  std::string big = prom_vector({{{{"node", std::string(4000, 'x')}}, "1"}});
  f.server.script("/api/v1/query", {{200, big}});
  PromClientOptions options;
  options.config.endpoint = f.server.url();
  options.max_body = 1000;
  options.sleep = [](std::chrono::milliseconds) {};
  PromClient client(f.pool, options);
  auto r = client.query("up");
  CHECK(r.code() == Errc::parse);
  CHECK_THAT(r.error().message, Catch::Contains("larger than 1000 bytes"));
}

TEST_CASE("the bearer token file is sent and re-read after the period") {
  Fixture f;
  joulie::test::TempDir dir;
  auto token_path = dir.path() / "token";
  std::ofstream(token_path) << "first-token\n";
  f.server.script("/api/v1/query", {{200, prom_vector({})}});
  ManualClock clock;
  PromClientOptions options;
  options.config.endpoint = f.server.url();
  options.config.bearer_token_file = token_path.string();
  PromClient client(f.pool, options, clock);
  REQUIRE(client.query("up").ok());
  std::ofstream(token_path) << "second-token\n";
  REQUIRE(client.query("up").ok());
  clock.advance(61s);
  REQUIRE(client.query("up").ok());
  auto seen = f.server.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].authorization == "Bearer first-token");
  CHECK(seen[1].authorization == "Bearer first-token");
  CHECK(seen[2].authorization == "Bearer second-token");
}

TEST_CASE("a warning is logged once, not on every query") {
  Fixture f;
  std::vector<std::string> lines;
  log::set_sink([&](std::string_view line) { lines.emplace_back(line); });
  f.server.script("/api/v1/query", {{200, R"({"status":"success","warnings":["w1"],
      "data":{"resultType":"vector","result":[]}})"}});
  auto client = f.client();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(client.query("up").ok());
  }
  log::set_sink(nullptr);
  std::size_t warned = 0;
  for (const auto& l : lines) {
    warned += l.find("w1") != std::string::npos ? 1 : 0;
  }
  CHECK(warned == 1);
}

TEST_CASE("a query too long for a URL goes as a POST form, a short one as GET") {
  Fixture f;
  f.server.script("/api/v1/query",
                  {{200, prom_vector({{{}, "1"}})}, {200, prom_vector({{{}, "2"}})}});
  auto client = f.client();
  REQUIRE(client.query("up").ok());
  // 150 alternatives of a selector with a regex: over 4 KiB once percent-encoded (and under the
  // test server's 8 KiB form limit).
  std::string long_query = "max by (node) (";
  for (int i = 0; i < 150; ++i) {
    long_query += (i ? " or " : "") + std::string("x{node=~\"n") + std::to_string(i) + "\"}";
  }
  long_query += ")";
  auto r = client.query(long_query);
  REQUIRE(r.ok());
  CHECK(r->samples.at(0).value == 2);
  auto seen = f.server.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].params.at("query") == "up");
  CHECK(seen[1].method == "POST");
  CHECK(seen[1].params.at("query") == long_query);  // decoded from the form body by the server
  CHECK(seen[1].params.at("timeout") == "5000ms");
  CHECK(seen[1].body.find("query=max%20by") == 0);
}
