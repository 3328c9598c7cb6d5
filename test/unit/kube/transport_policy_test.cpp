#include <catch2/catch.hpp>

#include "joulie/common/clock.hpp"
#include "joulie/kube/api.hpp"
#include "joulie/kube/client.hpp"
#include "joulie/kube/retry.hpp"
#include "kube/connection.hpp"
#include "kube/rate_limiter.hpp"

using namespace std::chrono_literals;
using joulie::Errc;
using joulie::ManualClock;
using namespace joulie::kube;

TEST_CASE("token bucket: burst immediately, then qps") {
  ManualClock clock;
  TokenBucket bucket(10.0, 3, clock);
  CHECK(bucket.reserve() == 0ns);
  CHECK(bucket.reserve() == 0ns);
  CHECK(bucket.reserve() == 0ns);
  CHECK(bucket.reserve() == 100ms);  // 4th request waits one token at 10/s
  CHECK(bucket.reserve() == 200ms);  // queued behind it
  clock.advance(1s);  // the two queued requests have gone; the bucket refilled to its burst
  CHECK(bucket.reserve() == 0ns);
  CHECK(bucket.reserve() == 0ns);
  CHECK(bucket.reserve() == 0ns);
  CHECK(bucket.reserve() == 100ms);
  clock.advance(50ms);
  CHECK(bucket.reserve() == 150ms);  // 1.5 tokens owed at 10/s
  TokenBucket unlimited(0.0, 1, clock);
  for (int i = 0; i < 100; ++i) {
    CHECK(unlimited.reserve() == 0ns);
  }
}

TEST_CASE("retry: exponential backoff with jitter, capped") {
  RetryOptions o;
  o.initial_backoff = 100ms;
  o.max_backoff = 1000ms;
  CHECK(backoff_delay(o, 1, 1.0) == 100ms);
  CHECK(backoff_delay(o, 2, 1.0) == 200ms);
  CHECK(backoff_delay(o, 4, 1.0) == 800ms);
  CHECK(backoff_delay(o, 5, 1.0) == 1000ms);
  CHECK(backoff_delay(o, 50, 1.0) == 1000ms);
  CHECK(backoff_delay(o, 1, 0.0) == 50ms);  // jitter scales into [0.5, 1]
}

TEST_CASE("retry: Retry-After and retryable codes") {
  CHECK(parse_retry_after("2") == std::optional<std::chrono::milliseconds>(2000ms));
  CHECK(parse_retry_after(" 0 ") == std::optional<std::chrono::milliseconds>(0ms));
  CHECK(parse_retry_after("99999999") == std::optional<std::chrono::milliseconds>(600000ms));
  CHECK_FALSE(parse_retry_after(""));
  CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
  CHECK_FALSE(parse_retry_after("-1"));
  CHECK(retryable_status(429));
  CHECK(retryable_status(500));
  CHECK(retryable_status(503));
  CHECK_FALSE(retryable_status(501));
  CHECK_FALSE(retryable_status(409));
  CHECK_FALSE(retryable_status(404));
}

TEST_CASE("resource paths and URL encoding") {
  CHECK(resources::nodes.path() == "/api/v1/nodes");
  CHECK(resources::nodes.path("ignored", "n1") == "/api/v1/nodes/n1");
  CHECK(resources::nodes.path({}, "n1", "status") == "/api/v1/nodes/n1/status");
  CHECK(resources::pods.path("kube-system") == "/api/v1/namespaces/kube-system/pods");
  CHECK(resources::pods.path() == "/api/v1/pods");
  CHECK(resources::leases.path("joulie", "operator") ==
        "/apis/coordination.k8s.io/v1/namespaces/joulie/leases/operator");
  CHECK(resources::node_power_profiles.path({}, "n1", "status") ==
        "/apis/joulie.io/v1alpha1/nodepowerprofiles/n1/status");
  CHECK(resources::telemetry_profiles.api_version() == "joulie.io/v1alpha1");
  CHECK(url_encode("joulie.io/power-profile in (eco,performance)") ==
        "joulie.io%2Fpower-profile%20in%20%28eco%2Cperformance%29");
  CHECK(url_encode("spec.nodeName=n-1_x~") == "spec.nodeName%3Dn-1_x~");
}

TEST_CASE("server URLs") {
  auto a = parse_server_url("https://kapi.joulie.test:6443/prefix/");
  REQUIRE(a.ok());
  CHECK(a->https);
  CHECK(a->host == "kapi.joulie.test");
  CHECK(a->port == 6443);
  CHECK(a->base_path == "/prefix");
  auto b = parse_server_url("http://[::1]:8080");
  REQUIRE(b.ok());
  CHECK_FALSE(b->https);
  CHECK(b->host == "::1");
  CHECK(b->port == 8080);
  CHECK(parse_server_url("https://h")->port == 443);
  CHECK(parse_server_url("ftp://h").code() == Errc::invalid_argument);
  CHECK(parse_server_url("https://h:99999").code() == Errc::invalid_argument);
  CHECK(parse_server_url("https://h:x").code() == Errc::invalid_argument);
  CHECK(parse_server_url("https://").code() == Errc::invalid_argument);
  CHECK(parse_server_url("https://[::1").code() == Errc::invalid_argument);
}

TEST_CASE("client creation refuses unusable TLS material") {
  ClusterConfig cfg;
  cfg.server = "https://127.0.0.1:1";
  cfg.ca_pem = "not a certificate";
  auto r = Client::create(cfg);
  CHECK(r.code() == Errc::tls);
  cfg.ca_pem.clear();
  cfg.client_cert_pem = "garbage";
  cfg.client_key_pem = "garbage";
  CHECK(Client::create(cfg).code() == Errc::tls);
  cfg.server = "nonsense";
  CHECK(Client::create(cfg).code() == Errc::invalid_argument);
}
