#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "joulie/policy/eligibility.hpp"

using namespace joulie::policy;

namespace {

const Selector& default_selector() {
  static const Selector s = parse_selector("joulie.io/managed=true").value();
  return s;
}

NodeFacts node(std::string name, Labels labels, bool unschedulable = false) {
  return NodeFacts{std::move(name), std::move(labels), unschedulable};
}

}  // namespace

TEST_CASE("managed = selector matches, not reserved, not cordoned") {
  struct Case {
    const char* what;
    Labels labels;
    bool unschedulable;
    bool managed;
  };
  const Case cases[] = {
      {"selected", {{"joulie.io/managed", "true"}}, false, true},
      {"not selected", {{"joulie.io/managed", "false"}}, false, false},
      {"no labels", {}, false, false},
      {"cordoned", {{"joulie.io/managed", "true"}}, true, false},
      {"reserved true",
       {{"joulie.io/managed", "true"}, {"joulie.io/reserved", "true"}},
       false,
       false},
      {"reserved True is not exactly true",
       {{"joulie.io/managed", "true"}, {"joulie.io/reserved", "True"}},
       false,
       true},
      {"reserved false",
       {{"joulie.io/managed", "true"}, {"joulie.io/reserved", "false"}},
       false,
       true},
      {"reserved empty", {{"joulie.io/managed", "true"}, {"joulie.io/reserved", ""}}, false, true},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    CHECK(is_managed(default_selector(), "joulie.io/reserved", c.labels, c.unschedulable) ==
          c.managed);
  }
}

TEST_CASE("the reserved label key is configurable") {
  const Labels labels{{"joulie.io/managed", "true"}, {"ops/hold", "true"}};
  CHECK(is_managed(default_selector(), "joulie.io/reserved", labels, false));
  CHECK_FALSE(is_managed(default_selector(), "ops/hold", labels, false));
}

TEST_CASE("eligible nodes come out sorted byte-wise") {
  const Labels managed{{"joulie.io/managed", "true"}};
  const std::vector<NodeFacts> nodes = {
      node("node-2", managed),
      node("node-10", managed),
      node("node-1", managed),
      node("Node-3", managed),
      node("node-cordoned", managed, true),
      node("other", {}),
      node("node-\xC3\xA9", managed),
      node("node-reserved", {{"joulie.io/managed", "true"}, {"joulie.io/reserved", "true"}}),
  };
  const auto names = eligible_nodes(nodes, default_selector(), "joulie.io/reserved");
  CHECK(names ==
        std::vector<std::string>{"Node-3", "node-1", "node-10", "node-2", "node-\xC3\xA9"});
}

TEST_CASE("an empty selector manages every schedulable, unreserved node") {
  const std::vector<NodeFacts> nodes = {node("b", {}), node("a", {{"x", "y"}}),
                                        node("c", {}, true)};
  CHECK(eligible_nodes(nodes, Selector{}, "joulie.io/reserved") ==
        std::vector<std::string>{"a", "b"});
}
