#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "joulie/policy/classify.hpp"

using namespace joulie::policy;

namespace {

constexpr std::string_view kKey = "joulie.io/power-profile";

AffinityExpression expr(AffinityOperator op, std::vector<std::string> values = {},
                        std::string key = std::string(kKey)) {
  return AffinityExpression{std::move(key), op, std::move(values)};
}

struct Pod {
  std::optional<std::string> node_selector;
  std::optional<std::vector<std::vector<AffinityExpression>>> required;  // terms
};

PodPlacement placement(const Pod& p) {
  PodPlacement out;
  out.node_selector_value = p.node_selector;
  if (p.required) {
    out.has_required_affinity = true;
    for (const auto& t : *p.required) {
      out.terms.push_back(AffinityTerm{t});
    }
  }
  return out;
}

using Op = AffinityOperator;
using Terms = std::vector<std::vector<AffinityExpression>>;

// Builds the Pod JSON equivalent of a Pod case, so the JSON path runs the same table.
std::string pod_json(const Pod& p) {
  std::string spec;
  if (p.node_selector) {
    spec +=
        R"("nodeSelector":{"other":"x","joulie.io/power-profile":")" + *p.node_selector + R"("})";
  }
  if (p.required) {
    if (!spec.empty()) {
      spec += ",";
    }
    spec += R"("affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[],)"
            R"("requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[)";
    bool first_term = true;
    for (const auto& term : *p.required) {
      spec += first_term ? "" : ",";
      first_term = false;
      spec += R"({"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}],)"
              R"("matchExpressions":[)";
      bool first_expr = true;
      for (const auto& e : term) {
        spec += first_expr ? "" : ",";
        first_expr = false;
        const char* op = e.op == Op::in               ? "In"
                         : e.op == Op::not_in         ? "NotIn"
                         : e.op == Op::exists         ? "Exists"
                         : e.op == Op::does_not_exist ? "DoesNotExist"
                                                      : "Gt";
        spec += R"({"key":")" + e.key + R"(","operator":")" + op + R"(","values":[)";
        for (std::size_t i = 0; i < e.values.size(); ++i) {
          if (i > 0) {
            spec += ",";
          }
          spec += "\"";
          spec += e.values[i];
          spec += "\"";
        }
        spec += "]}";
      }
      spec += "]}";
    }
    spec += "]}}}";
  }
  return R"({"metadata":{"name":"p"},"spec":{)" + spec + "}}";
}

}  // namespace

TEST_CASE("pod classification vectors of docs/design.md (struct and Pod JSON)") {
  struct Case {
    const char* what;
    Pod pod;
    PodClass expected;
  };
  const std::vector<Case> cases = {
      {"empty", {}, PodClass::general},
      {"nodeSelector performance", {"performance", {}}, PodClass::performance_only},
      {"nodeSelector eco", {"eco", {}}, PodClass::eco_only},
      {"nodeSelector draining-performance",
       {"draining-performance", {}},
       PodClass::performance_only},
      {"nodeSelector ultra", {"ultra", {}}, PodClass::unknown},
      {"In [performance]",
       {{}, Terms{{expr(Op::in, {"performance"})}}},
       PodClass::performance_only},
      {"In [eco,performance]",
       {{}, Terms{{expr(Op::in, {"eco", "performance"})}}},
       PodClass::general},
      {"terms In [performance] OR In [eco]",
       {{}, Terms{{expr(Op::in, {"performance"})}, {expr(Op::in, {"eco"})}}},
       PodClass::general},
      {"NotIn [eco]", {{}, Terms{{expr(Op::not_in, {"eco"})}}}, PodClass::performance_only},
      {"NotIn [performance]", {{}, Terms{{expr(Op::not_in, {"performance"})}}}, PodClass::eco_only},
      {"DoesNotExist", {{}, Terms{{expr(Op::does_not_exist)}}}, PodClass::unknown},
      {"Gt [1]", {{}, Terms{{expr(Op::other, {"1"})}}}, PodClass::unknown},
      {"nodeSelector performance + In [eco]",
       {"performance", Terms{{expr(Op::in, {"eco"})}}},
       PodClass::unknown},
      {"In []", {{}, Terms{{expr(Op::in, {})}}}, PodClass::unknown},
      {"Exists", {{}, Terms{{expr(Op::exists)}}}, PodClass::general},
      {"In [eco,ultra]", {{}, Terms{{expr(Op::in, {"eco", "ultra"})}}}, PodClass::eco_only},
      {"NotIn [ultra]", {{}, Terms{{expr(Op::not_in, {"ultra"})}}}, PodClass::general},
      {"In [performance,eco] + NotIn [eco] in one term",
       {{}, Terms{{expr(Op::in, {"performance", "eco"}), expr(Op::not_in, {"eco"})}}},
       PodClass::performance_only},
      {"terms [DoesNotExist] OR [In performance]",
       {{}, Terms{{expr(Op::does_not_exist)}, {expr(Op::in, {"performance"})}}},
       PodClass::performance_only},
      {"required block with zero terms", {{}, Terms{}}, PodClass::unknown},
      {"nodeSelector \" performance \"", {" performance ", {}}, PodClass::performance_only},
      // Beyond the listed vectors:
      {"expressions on other keys are ignored",
       {"eco", Terms{{expr(Op::in, {"x"}, "zone"), expr(Op::does_not_exist, {}, "gpu")}}},
       PodClass::eco_only},
      {"Gt on another key does not matter",
       {{}, Terms{{expr(Op::other, {"1"}, "cores")}}},
       PodClass::general},
      {"Gt in a later term still makes the pod unknown",
       {{}, Terms{{expr(Op::in, {"eco"})}, {expr(Op::other, {"1"})}}},
       PodClass::unknown},
      {"In [draining-performance] needs performance",
       {{}, Terms{{expr(Op::in, {"draining-performance"})}}},
       PodClass::performance_only},
      {"NotIn [draining-performance] excludes no profile",
       {{}, Terms{{expr(Op::not_in, {"draining-performance"})}}},
       PodClass::general},
      {"NotIn [performance,eco]",
       {{}, Terms{{expr(Op::not_in, {"performance", "eco"})}}},
       PodClass::unknown},
      {"term with only other keys keeps the nodeSelector mask",
       {"performance", Terms{{expr(Op::in, {"a"}, "zone")}}},
       PodClass::performance_only},
      {"nodeSelector empty string is unrecognised", {"", {}}, PodClass::unknown},
      {"affinity values are trimmed too",
       {{}, Terms{{expr(Op::in, {" eco "})}}},
       PodClass::eco_only},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    CHECK(classify(placement(c.pod), kKey) == c.expected);

    const std::string text = pod_json(c.pod);
    INFO(text);
    rapidjson::Document doc;
    doc.Parse(text.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    CHECK(classify_pod_json(doc, kKey) == c.expected);
  }
}

TEST_CASE("only the configured key counts") {
  Pod pod{{}, Terms{{expr(Op::in, {"performance"}, "example.com/profile")}}};
  CHECK(classify(placement(pod), kKey) == PodClass::general);
  CHECK(classify(placement(pod), "example.com/profile") == PodClass::performance_only);

  rapidjson::Document doc;
  doc.Parse(R"({"spec":{"nodeSelector":{"example.com/profile":"eco"}}})");
  CHECK(classify_pod_json(doc, kKey) == PodClass::general);
  CHECK(classify_pod_json(doc, "example.com/profile") == PodClass::eco_only);
}

TEST_CASE("the JSON projection keeps only expressions on the key") {
  rapidjson::Document doc;
  doc.Parse(
      R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      {"nodeSelectorTerms":[{"matchExpressions":[
        {"key":"zone","operator":"In","values":["a"]},
        {"key":"joulie.io/power-profile","operator":"NotIn","values":["eco"]}]},
        {"matchFields":[{"key":"metadata.name","operator":"In","values":["n"]}]}]}}}}})");
  const auto p = placement_from_pod_json(doc, kKey);
  CHECK_FALSE(p.malformed);
  CHECK(p.has_required_affinity);
  REQUIRE(p.terms.size() == 2);
  REQUIRE(p.terms[0].expressions.size() == 1);
  CHECK(p.terms[0].expressions[0].op == Op::not_in);
  CHECK(p.terms[0].expressions[0].values == std::vector<std::string>{"eco"});
  CHECK(p.terms[1].expressions.empty());
  CHECK(classify(p, kKey) == PodClass::general);  // second term allows anything
}

TEST_CASE("preferred affinity is ignored; null blocks count as absent") {
  struct Case {
    const char* json;
    PodClass expected;
  };
  const Case cases[] = {
      {R"({"spec":{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":
          [{"weight":1,"preference":{"matchExpressions":[
          {"key":"joulie.io/power-profile","operator":"In","values":["performance"]}]}}]}}}})",
       PodClass::general},
      {R"({"spec":{"nodeSelector":null,"affinity":null}})", PodClass::general},
      {R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":null}}}})",
       PodClass::general},
      {R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{}}}}})",
       PodClass::unknown},
      {R"({"spec":{"affinity":{"podAntiAffinity":{}}}})", PodClass::general},
      {R"({})", PodClass::general},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    rapidjson::Document doc;
    doc.Parse(c.json);
    REQUIRE_FALSE(doc.HasParseError());
    CHECK(classify_pod_json(doc, kKey) == c.expected);
  }
}

TEST_CASE("unreadable pod structure is unknown, never a crash") {
  const char* cases[] = {
      R"([])",
      R"({"spec":[]})",
      R"({"spec":{"nodeSelector":"performance"}})",
      R"({"spec":{"nodeSelector":{"joulie.io/power-profile":1}}})",
      R"({"spec":{"affinity":"x"}})",
      R"({"spec":{"affinity":{"nodeAffinity":[]}}})",
      R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[]}}}})",
      R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
          {"nodeSelectorTerms":{}}}}}})",
      R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
          {"nodeSelectorTerms":[1]}}}}})",
      R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
          {"nodeSelectorTerms":[{"matchExpressions":{}}]}}}}})",
      R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
          {"nodeSelectorTerms":[{"matchExpressions":[{"operator":"In"}]}]}}}}})",
      R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
          {"nodeSelectorTerms":[{"matchExpressions":[{"key":"joulie.io/power-profile"}]}]}}}}})",
      R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
          {"nodeSelectorTerms":[{"matchExpressions":[{"key":"joulie.io/power-profile",
          "operator":"In","values":"eco"}]}]}}}}})",
      R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
          {"nodeSelectorTerms":[{"matchExpressions":[{"key":"joulie.io/power-profile",
          "operator":"In","values":[1]}]}]}}}}})",
  };
  for (const char* json : cases) {
    INFO(json);
    rapidjson::Document doc;
    doc.Parse(json);
    REQUIRE_FALSE(doc.HasParseError());
    CHECK(placement_from_pod_json(doc, kKey).malformed);
    CHECK(classify_pod_json(doc, kKey) == PodClass::unknown);
  }
}

TEST_CASE("performance-sensitive = performance-only or unknown") {
  CHECK(is_performance_sensitive(PodClass::performance_only));
  CHECK(is_performance_sensitive(PodClass::unknown));
  CHECK_FALSE(is_performance_sensitive(PodClass::general));
  CHECK_FALSE(is_performance_sensitive(PodClass::eco_only));
  CHECK(to_string(PodClass::performance_only) == "performance-only");
  CHECK(to_string(PodClass::eco_only) == "eco-only");
}

TEST_CASE("counted pods: not terminating, not finished") {
  CHECK(is_counted(false, "Running"));
  CHECK(is_counted(false, "Pending"));
  CHECK(is_counted(false, ""));
  CHECK(is_counted(false, "Unknown"));
  CHECK_FALSE(is_counted(false, "Succeeded"));
  CHECK_FALSE(is_counted(false, "Failed"));
  CHECK_FALSE(is_counted(true, "Running"));

  struct Case {
    const char* json;
    bool counted;
  };
  const Case cases[] = {
      {R"({"status":{"phase":"Running"}})", true},
      {R"({"status":{"phase":"Pending"}})", true},
      {R"({})", true},
      {R"({"status":{"phase":"Succeeded"}})", false},
      {R"({"status":{"phase":"Failed"}})", false},
      {R"({"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z"},"status":{"phase":"Running"}})",
       false},
      {R"({"metadata":{"deletionTimestamp":null},"status":{"phase":"Running"}})", true},
      {R"({"metadata":[],"status":"Running"})", true},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    rapidjson::Document doc;
    doc.Parse(c.json);
    REQUIRE_FALSE(doc.HasParseError());
    CHECK(is_counted_pod_json(doc) == c.counted);
  }
}
