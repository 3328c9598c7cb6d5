#include <catch2/catch.hpp>

#include <string>

#include "joulie/policy/selector.hpp"

using joulie::Errc;
using joulie::policy::Labels;
using joulie::policy::parse_selector;
using joulie::policy::Selector;

namespace {

bool match(const char* selector, const Labels& labels) {
  auto s = parse_selector(selector);
  REQUIRE(s.ok());
  return s->matches(labels);
}

}  // namespace

TEST_CASE("selector matching, table-driven") {
  const Labels node{{"joulie.io/managed", "true"}, {"zone", "a"}, {"tier", "gold"}, {"empty", ""}};
  struct Case {
    const char* selector;
    bool matches;
  };
  const Case cases[] = {
      {"", true},
      {"joulie.io/managed=true", true},
      {"joulie.io/managed==true", true},
      {"joulie.io/managed=false", false},
      {"joulie.io/managed!=false", true},
      {"joulie.io/managed!=true", false},
      {"missing!=x", true},  // != matches objects without the label, as in Kubernetes
      {"zone in (a,b)", true},
      {"zone in (b,c)", false},
      {"missing in (a)", false},
      {"zone notin (b,c)", true},
      {"zone notin (a)", false},
      {"missing notin (a)", true},
      {"tier", true},
      {"missing", false},
      {"!missing", true},
      {"!tier", false},
      {"joulie.io/managed=true,zone=a", true},
      {"joulie.io/managed=true,zone=b", false},
      {"joulie.io/managed=true,!missing,tier in (gold,silver),zone!=c", true},
      {"empty=", true},
      {"empty", true},
      {"zone=", false},
      {"  zone  =  a  ,  tier  ", true},
      {"zone\tin\t(\ta\t)", true},
      {"zone in(a)", true},
      {"in=x", false},  // "in" is an ordinary key outside operator position
  };
  for (const auto& c : cases) {
    INFO(c.selector);
    CHECK(match(c.selector, node) == c.matches);
  }
}

TEST_CASE("malformed selectors are errors naming the offending text") {
  struct Case {
    const char* selector;
    const char* needle;
  };
  const Case cases[] = {
      {"a=b,", "expected a label key, found end of input"},
      {",a=b", "expected a label key, found \",\""},
      {"a=b,,c=d", "expected a label key, found \",\""},
      {"a b", "after \"a\", found \"b\""},
      {"a=b c", "expected ',' or end of input, found \"c\""},
      {"a=b=c", "found \"=\""},
      {"a in b", "expected '(' after \"a in\", found \"b\""},
      {"a in (b", "expected ',' or ')' in the list for \"a\", found end of input"},
      {"a in ()", "expected a value in the list for \"a\", found \")\""},
      {"a in (b,)", "expected a value in the list for \"a\", found \")\""},
      {"a notin (b c)", "found \"c\""},
      {"a>1", "operator \">\" after \"a\" is not supported"},
      {"a<1", "operator \"<\""},
      {"!", "expected a label key, found end of input"},
      {"!a=b", "found \"=\""},
      {"a!", "found \"!\""},
      {"=b", "expected a label key, found \"=\""},
      {"a=(", "expected a value after \"a=\", found \"(\""},
      {"Bad_Prefix.io/x=1", "key \"Bad_Prefix.io/x\": prefix must be a DNS subdomain"},
      {"a/b/c=1", "key \"a/b/c\": key may contain at most one '/'"},
      {"example.com/=1", "name part must not be empty"},
      {"/x=1", "prefix must not be empty"},
      {"-x=1", "key \"-x\": name part must begin and end with a letter or digit"},
      {"x@y=1", "key \"x@y\": name part may only contain"},
      {"x=-v", "value \"-v\": value must begin and end with a letter or digit"},
      {"x=v/w", "value \"v/w\": value may only contain"},
      {"x in (ok,bad$)", "value \"bad$\""},
  };
  for (const auto& c : cases) {
    INFO(c.selector);
    auto s = parse_selector(c.selector);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Errc::invalid_argument);
    CHECK_THAT(s.error().message, Catch::Contains(c.needle));
    CHECK_THAT(s.error().message,
               Catch::StartsWith(std::string("invalid label selector \"") + c.selector + "\""));
  }
}

TEST_CASE("length limits of keys and values") {
  const std::string name63(63, 'a');
  const std::string name64(64, 'a');
  CHECK(parse_selector(name63 + "=x").ok());
  CHECK_FALSE(parse_selector(name64 + "=x").ok());
  CHECK(parse_selector("x=" + name63).ok());
  auto long_value = parse_selector("x=" + name64);
  REQUIRE_FALSE(long_value.ok());
  CHECK_THAT(long_value.error().message, Catch::Contains("at most 63 characters"));

  std::string prefix253;
  while (prefix253.size() < 253) {
    prefix253 += prefix253.empty() ? "a" : ".a";
  }
  REQUIRE(prefix253.size() == 253);
  CHECK(parse_selector(prefix253 + "/k").ok());
  CHECK_FALSE(parse_selector("b" + prefix253 + "/k").ok());
  CHECK_FALSE(parse_selector("a..b/k").ok());
}

TEST_CASE("to_string is canonical and parses back to the same selector") {
  struct Case {
    const char* input;
    const char* canonical;
  };
  const Case cases[] = {
      {"", ""},
      {"joulie.io/managed=true", "joulie.io/managed=true"},
      {"joulie.io/managed == true", "joulie.io/managed=true"},
      {"z!=1, a", "a,z!=1"},
      {"k in (c, a, b, a)", "k in (a,b,c)"},
      {"k notin (y,x)", "k notin (x,y)"},
      {"!gone,  here", "!gone,here"},
      {"e=", "e="},
  };
  for (const auto& c : cases) {
    INFO(c.input);
    auto s = parse_selector(c.input);
    REQUIRE(s.ok());
    CHECK(s->to_string() == c.canonical);
    auto again = parse_selector(s->to_string());
    REQUIRE(again.ok());
    CHECK(again->requirements() == s->requirements());
  }
}

TEST_CASE("an empty selector matches everything, including unlabelled objects") {
  auto s = parse_selector("   ");
  REQUIRE(s.ok());
  CHECK(s->empty());
  CHECK(s->matches(Labels{}));
  CHECK(Selector{}.matches(Labels{{"a", "b"}}));
}

TEST_CASE("matching through a lookup function") {
  auto s = parse_selector("role=worker,!gpu");
  REQUIRE(s.ok());
  auto lookup = [](std::string_view key) -> std::optional<std::string_view> {
    if (key == "role") {
      return std::string_view("worker");
    }
    return std::nullopt;
  };
  CHECK(s->matches(joulie::policy::LabelLookup(lookup)));
}

TEST_CASE("key and value validation helpers") {
  CHECK(joulie::policy::label_key_problem("joulie.io/power-profile").empty());
  CHECK(joulie::policy::label_key_problem("simple").empty());
  CHECK_FALSE(joulie::policy::label_key_problem("").empty());
  CHECK_FALSE(joulie::policy::label_key_problem("UPPER.io/x").empty());
  CHECK(joulie::policy::label_key_problem("x.io/Upper_ok.1").empty());
  CHECK(joulie::policy::label_value_problem("").empty());
  CHECK(joulie::policy::label_value_problem("draining-performance").empty());
  CHECK_FALSE(joulie::policy::label_value_problem(" performance").empty());
}
