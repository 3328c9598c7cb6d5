#include <catch2/catch.hpp>

#include <string>

#include "joulie/kube/errors.hpp"
#include "joulie/kube/json.hpp"

using joulie::Errc;
using joulie::kube::errc_from_http;
using joulie::kube::error_from_response;
using joulie::kube::parse_object;

TEST_CASE("json: objects parse; anything else is a parse error") {
  CHECK(parse_object(R"({"kind":"Node","a":[1,2,{"b":null}]})").ok());
  CHECK(parse_object("").code() == Errc::parse);
  CHECK(parse_object("[]").code() == Errc::parse);
  CHECK(parse_object("\"str\"").code() == Errc::parse);
  CHECK(parse_object("{\"a\":").code() == Errc::parse);
  CHECK(parse_object("{} {}").code() == Errc::parse);
  auto bad = parse_object("{\"a\": tru}");
  CHECK_THAT(bad.error().message, Catch::Contains("byte"));
}

TEST_CASE("json: nesting is bounded, deep input is refused without exhausting the stack") {
  std::string ok_nested = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  CHECK(parse_object(ok_nested).ok());
  std::string deep = "{\"a\":" + std::string(5'000'000, '[');
  auto r = parse_object(deep);
  CHECK(r.code() == Errc::parse);
  CHECK_THAT(r.error().message, Catch::Contains("nested deeper"));
}

TEST_CASE("json: a multi-MiB body parses") {
  std::string big = "{\"items\":[";
  for (int i = 0; i < 100000; ++i) {
    big += (i ? ",{\"name\":\"node-" : "{\"name\":\"node-") + std::to_string(i) + "\"}";
  }
  big += "]}";
  REQUIRE(big.size() > (2u << 20));
  auto r = parse_object(big);
  REQUIRE(r.ok());
  CHECK(r.value()["items"].Size() == 100000);
}

TEST_CASE("errors: Status objects give code, reason and message") {
  auto e = error_from_response(
      409,
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"nodes \"n1\" already exists","reason":"AlreadyExists","code":409})");
  CHECK(e.code == Errc::already_exists);
  CHECK(e.http_status == 409);
  CHECK(e.reason == "AlreadyExists");
  CHECK(e.message == "nodes \"n1\" already exists");
  CHECK(e.describe() == "AlreadyExists (409): nodes \"n1\" already exists");

  auto conflict = error_from_response(
      409, R"({"kind":"Status","reason":"Conflict","message":"stale","code":409})");
  CHECK(conflict.code == Errc::conflict);
  auto gone = error_from_response(
      410, R"({"kind":"Status","reason":"Expired","message":"too old","code":410})");
  CHECK(gone.code == Errc::gone);
}

TEST_CASE("errors: non-Status bodies are typed from the HTTP code and summarised") {
  CHECK(error_from_response(404, "").code == Errc::not_found);
  CHECK(error_from_response(403, "<html>no</html>").code == Errc::forbidden);
  CHECK(error_from_response(401, "{\"kind\":\"Other\"}").code == Errc::unauthorized);
  CHECK(error_from_response(422, "x").code == Errc::invalid);
  CHECK(error_from_response(429, "x").code == Errc::too_many_requests);
  CHECK(error_from_response(500, "x").code == Errc::server_error);
  CHECK(error_from_response(503, "x").code == Errc::server_error);
  CHECK(error_from_response(400, "x").code == Errc::bad_request);
  CHECK(error_from_response(410, "x").code == Errc::gone);
  auto e = error_from_response(502, std::string(5000, 'z') + "\x01\x02");
  CHECK(e.http_status == 502);
  CHECK(e.message.size() < 300);
  CHECK(errc_from_http(409, "") == Errc::conflict);
  CHECK(errc_from_http(400, "Invalid") == Errc::invalid);
}
