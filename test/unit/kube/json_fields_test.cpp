// The one field-access helper every JSON reader uses: a typed answer or "absent", never an
// assertion, whatever shape the input has.
#include "joulie/kube/json_fields.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "joulie/kube/json.hpp"

namespace json = joulie::kube::json;
using joulie::kube::parse_object;

TEST_CASE("json fields: typed members, absent when missing or of another type") {
  auto parsed = parse_object(
      R"({"s":"text","i":-7,"big":18446744073709551615,"d":2.5,"b":true,"o":{"k":"v"},)"
      R"("a":[1],"n":null,"e":""})");
  REQUIRE(parsed.ok());
  const rapidjson::Value& doc = *parsed;

  CHECK(json::string_at(doc, "s") == std::string_view("text"));
  CHECK(json::string_or_empty(doc, "s") == "text");
  CHECK(json::string_at(doc, "e") == std::string_view(""));  // empty is present
  CHECK(json::int_at(doc, "i") == -7);
  CHECK(json::number_at(doc, "i") == -7.0);
  CHECK(json::number_at(doc, "d") == 2.5);
  CHECK(json::bool_at(doc, "b") == true);
  REQUIRE(json::object_at(doc, "o") != nullptr);
  CHECK(json::string_or_empty(json::object_at(doc, "o"), "k") == "v");
  REQUIRE(json::array_at(doc, "a") != nullptr);
  CHECK(json::array_at(doc, "a")->Size() == 1);

  // Wrong type: absent, not converted.
  CHECK_FALSE(json::string_at(doc, "i"));
  CHECK(json::string_or_empty(doc, "i").empty());
  CHECK_FALSE(json::int_at(doc, "d"));    // a fraction is no integer
  CHECK_FALSE(json::int_at(doc, "big"));  // past int64
  CHECK(json::number_at(doc, "big").has_value());
  CHECK_FALSE(json::int_at(doc, "s"));
  CHECK_FALSE(json::bool_at(doc, "s"));
  CHECK(json::object_at(doc, "a") == nullptr);
  CHECK(json::array_at(doc, "o") == nullptr);

  // Missing, and null: member() sees a null member, present() does not.
  CHECK(json::member(doc, "missing") == nullptr);
  CHECK(json::member(doc, "n") != nullptr);
  CHECK(json::present(doc, "n") == nullptr);
  CHECK(json::present(doc, "s") != nullptr);
  CHECK_FALSE(json::string_at(doc, "n"));
}

TEST_CASE("json fields: a null or non-object parent answers absent") {
  auto parsed = parse_object(R"({"a":[1,2],"s":"x"})");
  REQUIRE(parsed.ok());
  const rapidjson::Value* none = nullptr;
  CHECK(json::member(none, "a") == nullptr);
  CHECK_FALSE(json::string_at(none, "a"));
  CHECK(json::string_or_empty(none, "a").empty());
  CHECK_FALSE(json::int_at(none, "a"));
  // An array or a string as the parent (a malformed object from the network).
  const rapidjson::Value& array = (*parsed)["a"];
  const rapidjson::Value& text = (*parsed)["s"];
  CHECK(json::member(array, "0") == nullptr);
  CHECK(json::object_at(text, "x") == nullptr);
  CHECK_FALSE(json::bool_at(array, "x"));
  // Chains through absent levels stay absent.
  CHECK_FALSE(json::string_at(json::object_at(json::object_at(*parsed, "x"), "y"), "z"));
}

TEST_CASE("json fields: member names need not be NUL-terminated") {
  auto parsed = parse_object(R"({"name":"n1","namespace":"ns"})");
  REQUIRE(parsed.ok());
  const std::string_view both = "namespace";
  CHECK(json::string_at(*parsed, both.substr(0, 4)) == std::string_view("n1"));
  CHECK(json::string_at(*parsed, both) == std::string_view("ns"));
}
