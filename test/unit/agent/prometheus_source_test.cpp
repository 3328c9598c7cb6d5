#include <catch2/catch.hpp>
#include <cmath>

#include "joulie/agent/prometheus_source.hpp"

using namespace joulie;
using namespace joulie::agent;
using joulie::signals::PromResult;
using joulie::signals::PromSample;

namespace {

Result<PromResult> samples(std::vector<double> values, SystemTime ts) {
  PromResult r;
  for (double v : values) {
    r.samples.push_back(PromSample{{{"node", "n1"}}, v, ts});
  }
  return r;
}

}  // namespace

TEST_CASE("prometheus source: exactly one finite sample, dated by its own timestamp") {
  SystemTime now = SystemTime(std::chrono::seconds(2000000000));
  SystemTime sampled = now - std::chrono::seconds(90);
  auto one = single_prom_value(samples({142.5}, sampled), now, "power");
  REQUIRE(one.value);
  CHECK(*one.value == 142.5);
  CHECK(one.timestamp == sampled);
  CHECK(one.missing_reason.empty());

  auto none = single_prom_value(samples({}, sampled), now, "power");
  CHECK_FALSE(none.value);
  CHECK(none.missing_reason == "prometheus power query returned no series");
  CHECK(none.timestamp == now);

  auto two = single_prom_value(samples({1, 2}, sampled), now, "power");
  CHECK_FALSE(two.value);
  CHECK(two.missing_reason == "prometheus power query returned 2 series, expected exactly one");

  for (double bad : {NAN, INFINITY, -INFINITY}) {
    auto r = single_prom_value(samples({bad}, sampled), now, "temperature");
    CHECK_FALSE(r.value);
    CHECK(r.missing_reason == "prometheus temperature value is not a finite number");
  }

  Result<PromResult> failed = Error(Errc::timeout, "no complete reply");
  auto err = single_prom_value(failed, now, "power");
  CHECK_FALSE(err.value);
  CHECK(err.missing_reason == "prometheus power query failed: no complete reply");
}
