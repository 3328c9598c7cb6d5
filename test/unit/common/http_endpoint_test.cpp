#include <httplib.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "joulie/common/http_endpoint.hpp"
#include "joulie/common/metrics.hpp"

using joulie::HttpEndpoint;
using joulie::parse_listen_address;
using joulie::Readiness;

TEST_CASE("listen addresses use Go's syntax") {
  auto any = parse_listen_address(":8081");
  REQUIRE(any.ok());
  CHECK(any->host.empty());
  CHECK(any->port == 8081);

  auto loopback = parse_listen_address("127.0.0.1:0");
  REQUIRE(loopback.ok());
  CHECK(loopback->host == "127.0.0.1");
  CHECK(loopback->port == 0);

  auto v6 = parse_listen_address("[::1]:9000");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 9000);

  auto named = parse_listen_address("localhost:8080");
  REQUIRE(named.ok());
  CHECK(named->host == "localhost");

  for (const char* bad : {"", "8081", ":", "host:", ":http", ":65536", ":-1", "::1:9000", "[::1]",
                          "[::1]9000", "[]:80", "[::1:80"}) {
    INFO(bad);
    auto r = parse_listen_address(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(std::string("\"") + bad + "\"") != std::string::npos);
  }
}

TEST_CASE("the endpoint serves /metrics, /healthz and /readyz over loopback") {
  joulie::metrics::Registry registry;
  registry.gauge("joulie_operator_is_leader", "Leader.").with({}).set(1);

  std::mutex mutex;
  Readiness readiness{false, "caches not synced"};
  HttpEndpoint endpoint("127.0.0.1:0", registry, [&] {
    std::lock_guard lock(mutex);
    return readiness;
  });
  REQUIRE(endpoint.start().ok());
  REQUIRE(endpoint.port() > 0);

  httplib::Client client("127.0.0.1", endpoint.port());
  client.set_connection_timeout(5);
  client.set_read_timeout(5);

  auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->get_header_value("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(metrics->body.find("joulie_operator_is_leader 1\n") != std::string::npos);

  // The scrape reflects the registry at request time.
  registry.gauge("joulie_operator_is_leader", "Leader.").with({}).set(0);
  auto again = client.Get("/metrics");
  REQUIRE(again);
  CHECK(again->body.find("joulie_operator_is_leader 0\n") != std::string::npos);

  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->body == "ok\n");

  auto not_ready = client.Get("/readyz");
  REQUIRE(not_ready);
  CHECK(not_ready->status == 503);
  CHECK(not_ready->body == "caches not synced\n");

  {
    std::lock_guard lock(mutex);
    readiness = Readiness{true, {}};
  }
  auto ready = client.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);

  auto missing = client.Get("/nope");
  REQUIRE(missing);
  CHECK(missing->status == 404);

  endpoint.stop();
  httplib::Client after("127.0.0.1", endpoint.port());
  after.set_connection_timeout(2);
  CHECK_FALSE(after.Get("/healthz"));
}

TEST_CASE("without a readiness check the endpoint is ready; an empty reason still explains") {
  joulie::metrics::Registry registry;
  HttpEndpoint always("127.0.0.1:0", registry);
  REQUIRE(always.start().ok());
  httplib::Client client("127.0.0.1", always.port());
  auto ready = client.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);

  HttpEndpoint never("127.0.0.1:0", registry, [] { return Readiness{false, ""}; });
  REQUIRE(never.start().ok());
  httplib::Client client2("127.0.0.1", never.port());
  auto res = client2.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->body == "not ready\n");
}

TEST_CASE("binding a busy port or a bad address fails with a message naming the address") {
  joulie::metrics::Registry registry;
  HttpEndpoint first("127.0.0.1:0", registry);
  REQUIRE(first.start().ok());

  std::string busy = "127.0.0.1:" + std::to_string(first.port());
  HttpEndpoint second(busy, registry);
  auto status = second.start();
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find(busy) != std::string::npos);
  CHECK(status.error().message.find("in use") != std::string::npos);

  HttpEndpoint bad("no-port", registry);
  auto bad_status = bad.start();
  REQUIRE_FALSE(bad_status.ok());
  CHECK(bad_status.error().message.find("no-port") != std::string::npos);

  // A second start() is refused rather than silently rebinding.
  auto twice = first.start();
  CHECK_FALSE(twice.ok());
}

TEST_CASE("all-interfaces and IPv6 loopback addresses bind") {
  joulie::metrics::Registry registry;
  HttpEndpoint any(":0", registry);
  REQUIRE(any.start().ok());
  httplib::Client v4("127.0.0.1", any.port());
  auto res = v4.Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 200);

  HttpEndpoint v6("[::1]:0", registry);
  auto status = v6.start();
  if (!status.ok()) {
    WARN("no IPv6 loopback here: " << status.error().message);
    return;
  }
  httplib::Client client("::1", v6.port());
  auto res6 = client.Get("/healthz");
  REQUIRE(res6);
  CHECK(res6->status == 200);
}

TEST_CASE("stop() is prompt even with an idle keep-alive connection open") {
  joulie::metrics::Registry registry;
  HttpEndpoint endpoint("127.0.0.1:0", registry);
  REQUIRE(endpoint.start().ok());
  httplib::Client client("127.0.0.1", endpoint.port());
  client.set_keep_alive(true);
  auto res = client.Get("/healthz");
  REQUIRE(res);

  auto begin = std::chrono::steady_clock::now();
  endpoint.stop();
  auto took = std::chrono::steady_clock::now() - begin;
  // Bounded by the 1 s keep-alive timeout, far below a Kubernetes grace period.
  CHECK(took < std::chrono::seconds(3));
  endpoint.stop();  // idempotent
}
