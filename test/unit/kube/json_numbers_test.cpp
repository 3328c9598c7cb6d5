// JSON numbers from outside the process (API server objects, watch events): every token has a
// defined, documented value (include/joulie/kube/json.hpp; docs/decisions.md, "JSON numbers"). The
// tokens here include the ones the fuzzers found reaching undefined behaviour in RapidJSON 1.1.0's
// full-precision parser (`0e308`: clz(0) in DiyFp::Normalize).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "joulie/agent/http_route.hpp"
#include "joulie/api/codec.hpp"
#include "joulie/kube/json.hpp"
#include "joulie/policy/classify.hpp"
#include "kube/watch_decoder.hpp"

using joulie::Errc;
using joulie::kube::parse_object;
using joulie::kube::to_json;

namespace {

// The value of `{"n": <token>}`; the parse must succeed.
rapidjson::Document number_doc(const std::string& token) {
  auto r = parse_object("{\"n\":" + token + "}");
  INFO("token " << token);
  REQUIRE(r.ok());
  return std::move(r.value());
}

double as_double(const std::string& token) {
  auto doc = number_doc(token);
  INFO("token " << token);
  REQUIRE(doc["n"].IsDouble());
  return doc["n"].GetDouble();
}

// What we write for the token, after one parse.
std::string written(const std::string& token) { return to_json(number_doc(token)); }

}  // namespace

TEST_CASE("json numbers: zero with any exponent is 0.0 (the fuzzers' clz(0) input)") {
  for (const char* token : {"0e308", "0E308", "0e+308", "0.0e308", "0e-308", "0.000e-400",
                            "0e-99999999999", "0.0", "0e0"}) {
    INFO(token);
    const double d = as_double(token);
    CHECK(d == 0.0);
    CHECK_FALSE(std::signbit(d));
  }
  CHECK(written("0e308") == R"({"n":0.0})");
}

TEST_CASE("json numbers: negative zero") {
  const double d = as_double("-0.0");
  CHECK(d == 0.0);
  CHECK(std::signbit(d));
  CHECK(std::signbit(as_double("-0e308")));
  CHECK(written("-0.0") == R"({"n":-0.0})");
  // "-0" is an integer token: the integer 0, as RapidJSON has it.
  auto doc = number_doc("-0");
  REQUIRE(doc["n"].IsInt());
  CHECK(doc["n"].GetInt() == 0);
  CHECK(written("-0") == R"({"n":0})");
}

TEST_CASE("json numbers: underflow rounds to zero with the sign kept, subnormals are exact") {
  CHECK(as_double("1e-400") == 0.0);
  CHECK_FALSE(std::signbit(as_double("1e-400")));
  CHECK(std::signbit(as_double("-1e-400")));
  CHECK(as_double("2e-324") == 0.0);  // below half the smallest subnormal
  CHECK(as_double("1e-99999999999999999999") == 0.0);
  CHECK(as_double("0.0000000000000000000001e-310") == 0.0);
  CHECK(as_double("4.9406564584124654e-324") == std::numeric_limits<double>::denorm_min());
  CHECK(as_double("2.5e-324") == std::numeric_limits<double>::denorm_min());  // rounds up
  CHECK(as_double("2.2250738585072014e-308") == std::numeric_limits<double>::min());
}

TEST_CASE("json numbers: beyond the range of double is a parse error, never infinity") {
  const std::vector<std::string> tokens = {"1e309",
                                           "1.8e308",
                                           "-1.8e308",
                                           "1.7976931348623159e308",
                                           "100000000000000000000e300",
                                           std::string(400, '9')};
  for (const std::string& token : tokens) {
    INFO(token);
    auto r = parse_object("{\"n\":" + token + "}");
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == Errc::parse);
    CHECK_THAT(r.error().message, Catch::Contains("byte"));
  }
  // RapidJSON's scanner refuses a positive exponent above 308 (plus the fraction digits) before
  // the token reaches us, even on a zero: "0e309" is a parse error, "0.0e309" is 0.0.
  CHECK(parse_object(R"({"n":0e309})").code() == Errc::parse);
  CHECK(as_double("0.0e309") == 0.0);
  // The largest double itself is fine.
  CHECK(as_double("1.7976931348623157e308") == std::numeric_limits<double>::max());
  CHECK(as_double("-1.7976931348623158e308") == -std::numeric_limits<double>::max());
}

TEST_CASE("json numbers: 64-bit integers are exact, wider ones are the nearest double") {
  {
    auto doc = number_doc("18446744073709551615");  // 20 digits, UINT64_MAX
    REQUIRE(doc["n"].IsUint64());
    CHECK(doc["n"].GetUint64() == std::numeric_limits<std::uint64_t>::max());
  }
  {
    auto doc = number_doc("12345678901234567890");
    REQUIRE(doc["n"].IsUint64());
    CHECK(doc["n"].GetUint64() == 12345678901234567890u);
    CHECK_FALSE(doc["n"].IsInt64());
  }
  {
    auto doc = number_doc("-9223372036854775808");
    REQUIRE(doc["n"].IsInt64());
    CHECK(doc["n"].GetInt64() == std::numeric_limits<std::int64_t>::min());
  }
  {
    auto doc = number_doc("2147483648");
    REQUIRE(doc["n"].IsUint());
    CHECK_FALSE(doc["n"].IsInt());
    CHECK(doc["n"].GetInt64() == 2147483648);
  }
  CHECK(as_double("18446744073709551616") == 18446744073709551616.0);
  CHECK(as_double("-9223372036854775809") == -9223372036854775808.0);
  CHECK(as_double("99999999999999999999") == 1e20);
  // The crash reproducer test/fuzz/crashes/kube_json/number_above_uint64_not_idempotent.
  CHECK(as_double("18446744074095561610") == 18446744074095561610.0);
}

TEST_CASE("json numbers: decimals are correctly rounded") {
  CHECK(as_double("0.1") == 0.1);
  CHECK(as_double("120.5") == 120.5);
  CHECK(as_double("1.2e2") == 120.0);
  CHECK(as_double("1E2") == 100.0);
  // Exactly halfway between two doubles: rounds to even.
  CHECK(as_double("9007199254740993.0") == 9007199254740992.0);
  // Halfway plus a digit far beyond the 17th: rounds up (a normal-precision parser gets this
  // wrong).
  CHECK(as_double("9007199254740993.00000000000000000000000000001") == 9007199254740994.0);
  CHECK(as_double("2.2250738585072011e-308") == 2.2250738585072009e-308);
}

TEST_CASE("json numbers: what we write parses back to the same text") {
  for (const char* token :
       {"0e308", "-0.0", "1e-400", "-1e-400", "4.9e-324", "18446744073709551616",
        "-9223372036854775809", "99999999999999999999", "0.1", "1.7976931348623157e308",
        "123456789012345678901234567890", "2.2250738585072011e-308", "3.141592653589793238462643",
        "18446744074095561610"}) {
    INFO(token);
    const std::string once = written(token);
    auto again = parse_object(once);
    REQUIRE(again.ok());
    CHECK(to_json(again.value()) == once);
  }
}

TEST_CASE("json numbers: tokens outside the JSON grammar are parse errors") {
  for (const char* token : {"01", ".5", "1.", "+1", "1e", "1e+", "-", "NaN", "Infinity",
                            "-Infinity", "0x10", "1_000"}) {
    INFO(token);
    CHECK(parse_object(std::string("{\"n\":") + token + "}").code() == Errc::parse);
  }
}

TEST_CASE("json numbers: a watch event carrying such numbers decodes") {
  std::vector<rapidjson::Document> objects;
  joulie::kube::WatchDecoder decoder([&objects](joulie::kube::WatchEvent&& e) {
    objects.push_back(std::move(e.object));
    return true;
  });
  REQUIRE(decoder
              .feed(R"({"type":"MODIFIED","object":{"kind":"Node","metadata":{"name":"n1",)"
                    R"("generation":0e308,"x":[-0.0,1e-400,18446744073709551616]}}})"
                    "\n")
              .ok());
  REQUIRE(objects.size() == 1);
  const auto& md = objects[0]["metadata"];
  CHECK(md["generation"].GetDouble() == 0.0);
  CHECK(std::signbit(md["x"][0].GetDouble()));
  CHECK(md["x"][1].GetDouble() == 0.0);
  CHECK(md["x"][2].GetDouble() == 18446744073709551616.0);
  // Out of range: the event is refused as a parse error (the informer relists), not infinity.
  joulie::kube::WatchDecoder refusing([](joulie::kube::WatchEvent&&) { return true; });
  auto s = refusing.feed(R"({"type":"ADDED","object":{"kind":"Node","n":1e400}})"
                         "\n");
  CHECK(s.code() == Errc::parse);
}

TEST_CASE("json numbers: NodePowerProfile fields get the documented values") {
  auto decode = [](const std::string& cap, const std::string& generation) {
    auto doc = parse_object(R"({"metadata":{"name":"n","generation":)" + generation +
                            R"(},"spec":{"nodeName":"n1","profile":"eco","cpu":)"
                            R"({"packagePowerCapWatts":)" +
                            cap + "}}}");
    REQUIRE(doc.ok());
    return joulie::api::decode_node_power_profile(doc.value());
  };
  {
    auto r = decode("1.2e2", "3");
    REQUIRE(r.ok());
    CHECK(r->spec.package_power_cap_watts == 120.0);
    CHECK(r->metadata.generation == 3);
  }
  // A cap of zero, however written, is below the minimum of 1 W: invalid, named.
  for (const char* cap : {"0e308", "-0.0", "1e-400"}) {
    INFO(cap);
    auto r = decode(cap, "1");
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == Errc::invalid);
    CHECK_THAT(r.error().message, Catch::Contains("packagePowerCapWatts"));
  }
  // generation must be an int64: "-0" is 0, a 20-digit value past INT64_MAX and 1e2 are refused.
  {
    auto r = decode("120", "-0");
    REQUIRE(r.ok());
    CHECK(r->metadata.generation == 0);
  }
  for (const char* generation : {"18446744073709551615", "1e2", "0e308"}) {
    INFO(generation);
    auto r = decode("120", generation);
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == Errc::parse);
    CHECK_THAT(r.error().message, Catch::Contains("metadata.generation"));
  }
}

TEST_CASE("json numbers: a Pod carrying such numbers classifies as without them") {
  for (const char* number : {"0e308", "-0.0", "1e-400", "18446744073709551616", "-0"}) {
    INFO(number);
    auto pod = parse_object(std::string(R"({"kind":"Pod","spec":{"priority":)") + number +
                            R"(,"nodeSelector":{"joulie.io/power-profile":"eco"}},)"
                            R"("status":{"phase":"Running"}})");
    REQUIRE(pod.ok());
    CHECK(joulie::policy::classify_pod_json(pod.value(), "joulie.io/power-profile") ==
          joulie::policy::PodClass::eco_only);
  }
}

TEST_CASE("json numbers: simulator power readings get the documented values") {
  const joulie::SystemTime now{};
  auto watts = [&](const std::string& number) {
    return joulie::agent::parse_telemetry_reply(R"({"packagePowerWatts":)" + number + "}", now);
  };
  CHECK(watts("1.25e2").watts == 125.0);
  CHECK(watts("0e308").watts == 0.0);
  CHECK(watts("1e-400").watts == 0.0);
  // -0.0 is a reading of zero, reported as 0 (not "-0").
  REQUIRE(watts("-0.0").watts.has_value());
  CHECK_FALSE(std::signbit(*watts("-0.0").watts));
  CHECK(watts("-1e-400").watts == 0.0);
  // A reading beyond double is no reading, with a reason; never infinity.
  auto huge = watts("1e400");
  CHECK_FALSE(huge.watts.has_value());
  CHECK_FALSE(huge.missing_reason.empty());
}

TEST_CASE("json: an object with a duplicate key is refused, at any depth") {
  CHECK(parse_object(R"({"a":1,"a":2})").code() == Errc::parse);
  CHECK(parse_object(R"({"spec":{"policy":{},"x":1,"policy":{"name":"p"}}})").code() ==
        Errc::parse);
  CHECK(parse_object(R"({"items":[{"k":1},{"k":2,"k":3}]})").code() == Errc::parse);
  auto r = parse_object(R"({"a":{"b":1,"b":1}})");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("duplicate key"));
  // The same name in different objects, or as a value, is fine.
  CHECK(parse_object(R"({"a":{"a":"a"},"b":[{"a":1},{"a":2}],"c":"a"})").ok());
}
