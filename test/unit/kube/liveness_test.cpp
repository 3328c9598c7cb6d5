// The API-server liveness probe: silence beyond the threshold is "stale", any HTTP answer (an
// error included) is not, and recovery needs no restart.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "fake_api.hpp"
#include "joulie/common/metrics.hpp"
#include "joulie/kube/liveness.hpp"

using namespace joulie;
using namespace joulie::kube;
using namespace std::chrono_literals;

namespace {

// Bounded poll of a condition the probe thread sets.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

TEST_CASE("no answer beyond the threshold is stale; the first answer clears it") {
  testing::FakeApi api;
  std::atomic<bool> silent{false};
  std::atomic<bool> forbidden{false};
  api.list_hook([&](const Resource&, const ListOptions&) -> std::optional<Error> {
    if (silent) {
      return Error(Errc::timeout, "read timed out");
    }
    if (forbidden) {
      return Error(Errc::forbidden, "nodes is forbidden");
    }
    return std::nullopt;
  });
  metrics::Registry registry;
  LivenessOptions options;
  options.resource = resources::nodes;
  options.component = "test";
  options.period = 10ms;
  options.stale_after = 100ms;
  options.metrics = &registry;
  ApiLiveness liveness(api, options);
  liveness.start();
  CHECK(eventually([&] { return api.calls(testing::Verb::list) >= 3; }));
  CHECK_FALSE(liveness.stale());

  forbidden = true;  // an error is still an answer
  CHECK(eventually([&] { return api.calls(testing::Verb::list) >= 20; }));
  CHECK_FALSE(liveness.stale());

  silent = true;
  REQUIRE(eventually([&] { return liveness.stale(); }));
  CHECK(liveness.silence() >= 100ms);
  CHECK_THAT(registry.expose(), Catch::Contains("joulie_kube_api_stale 1"));

  silent = false;
  REQUIRE(eventually([&] { return !liveness.stale(); }));
  CHECK_THAT(registry.expose(), Catch::Contains("joulie_kube_api_stale 0"));
  liveness.stop();
}

TEST_CASE("transport failures are no answer; HTTP errors are answers") {
  for (Errc code : {Errc::timeout, Errc::unavailable, Errc::io, Errc::tls}) {
    CHECK(is_no_answer(code));
  }
  for (Errc code : {Errc::forbidden, Errc::server_error, Errc::too_many_requests, Errc::gone}) {
    CHECK_FALSE(is_no_answer(code));
  }
}
