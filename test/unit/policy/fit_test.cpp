// The fit predicates, one table per kube-scheduler filter, each row a rule the scheduler
// documents (kubernetes.io "Assigning Pods to Nodes", "Taints and Tolerations", "Resource
// Management for Pods and Containers") or implements (component-helpers nodeaffinity,
// v1 helper ToleratesTaint, resource helpers PodRequests).
#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "joulie/policy/fit.hpp"

using namespace joulie::policy;

namespace {

constexpr std::string_view kKey = "joulie.io/power-profile";

NodeFitView node(joulie::api::Labels labels, std::vector<Taint> taints = {},
                 Resources allocatable = {}, Resources requested = {}) {
  NodeFitView n;
  n.name = "n1";
  n.labels = std::move(labels);
  n.taints = std::move(taints);
  n.allocatable = allocatable;
  n.requested = requested;
  return n;
}

PodRequirement with_terms(std::vector<FitTerm> terms) {
  PodRequirement r;
  r.has_required_affinity = true;
  r.terms = std::move(terms);
  return r;
}

FitTerm term(std::vector<FitExpression> expressions, std::vector<FitExpression> fields = {}) {
  return FitTerm{std::move(expressions), std::move(fields)};
}

bool affinity_ok(const PodRequirement& pod, const NodeFitView& n, FitOptions o = {}) {
  return !check_node_affinity(pod, n, o).has_value();
}

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

}  // namespace

TEST_CASE("quantities: binary and decimal suffixes, exponents, milli", "[fit][quantity]") {
  struct Row {
    std::string_view text;
    std::optional<std::int64_t> bytes;
  };
  const std::vector<Row> rows = {
      {"128974848", 128974848},
      {"129e6", 129000000},
      {"129M", 129000000},
      {"123Mi", 128974848},
      {"1Ki", 1024},
      {"1.5Gi", 1610612736},
      {"2Ti", 2199023255552},
      {"1k", 1000},
      {"1G", 1000000000},
      {"1E", 1000000000000000000},  // exa, not an exponent
      {"1e3", 1000},
      {"1E3", 1000},
      {"2E-2", 1},   // 0.02 bytes rounds up to 1, like Value()
      {"1500m", 2},  // 1.5 bytes rounds up
      {"0", 0},
      {"+5", 5},
      {"", std::nullopt},
      {"Mi", std::nullopt},
      {"1.2.3", std::nullopt},
      {"12Xi", std::nullopt},
      {"-1Gi", std::nullopt},
      {"1 Gi", std::nullopt},
      {"inf", std::nullopt},
      {"nan", std::nullopt},
      {"1e", std::nullopt},
  };
  for (const auto& row : rows) {
    INFO(row.text);
    CHECK(parse_unit_quantity(row.text) == row.bytes);
  }
}

TEST_CASE("quantities: cpu in millicores rounds up", "[fit][quantity]") {
  CHECK(parse_milli_quantity("500m") == 500);
  CHECK(parse_milli_quantity("0.1") == 100);
  CHECK(parse_milli_quantity("1.5") == 1500);
  CHECK(parse_milli_quantity("48") == 48000);
  CHECK(parse_milli_quantity("100u") == 1);  // 0.1 m rounds up to 1 m
  CHECK(parse_milli_quantity("2k") == 2000000);
  CHECK_FALSE(parse_milli_quantity("abc"));
}

TEST_CASE("nodeSelector: every key must equal the node's label", "[fit][affinity]") {
  PodRequirement pod;
  pod.node_selector = {{"node.kubernetes.io/instance-type", "c7.24xlarge"},
                       {std::string(kKey), "performance"}};
  const FitOptions at_performance{kKey};
  // Our key is read as performance: an eco node of the right type fits once upgraded.
  CHECK(affinity_ok(
      pod, node({{"node.kubernetes.io/instance-type", "c7.24xlarge"}, {std::string(kKey), "eco"}}),
      at_performance));
  // Without the override the eco label fails (the key is an ordinary label then).
  CHECK_FALSE(affinity_ok(pod, node({{"node.kubernetes.io/instance-type", "c7.24xlarge"},
                                     {std::string(kKey), "eco"}})));
  // Another key that does not match fails whatever the profile.
  CHECK(check_node_affinity(pod, node({{"node.kubernetes.io/instance-type", "m7.large"}}),
                            at_performance) == std::string(kReasonNodeAffinity));
  // A missing key fails.
  CHECK_FALSE(affinity_ok(pod, node({}), at_performance));
  // The profile key's value still matters: a pod asking for eco does not fit at performance.
  PodRequirement eco;
  eco.node_selector = {{std::string(kKey), "eco"}};
  CHECK_FALSE(affinity_ok(eco, node({{std::string(kKey), "eco"}}), at_performance));
  // No selector at all fits everything.
  CHECK(affinity_ok(PodRequirement{}, node({})));
}

TEST_CASE("required node affinity: operators", "[fit][affinity]") {
  struct Row {
    const char* what;
    FitExpression expr;
    joulie::api::Labels labels;
    bool fits;
  };
  using O = FitOperator;
  const std::vector<Row> rows = {
      {"In: value listed", {"type", O::in, {"a", "c"}}, {{"type", "c"}}, true},
      {"In: value not listed", {"type", O::in, {"a", "b"}}, {{"type", "c"}}, false},
      {"In: label absent", {"type", O::in, {"a"}}, {}, false},
      {"In: no values is invalid", {"type", O::in, {}}, {{"type", "a"}}, false},
      {"NotIn: value listed", {"type", O::not_in, {"c"}}, {{"type", "c"}}, false},
      {"NotIn: other value", {"type", O::not_in, {"c"}}, {{"type", "a"}}, true},
      {"NotIn: label absent matches", {"type", O::not_in, {"c"}}, {}, true},
      {"Exists: present", {"gpu", O::exists, {}}, {{"gpu", ""}}, true},
      {"Exists: absent", {"gpu", O::exists, {}}, {}, false},
      {"Exists with values is invalid", {"gpu", O::exists, {"x"}}, {{"gpu", "x"}}, false},
      {"DoesNotExist: absent", {"gpu", O::does_not_exist, {}}, {}, true},
      {"DoesNotExist: present", {"gpu", O::does_not_exist, {}}, {{"gpu", "1"}}, false},
      {"Gt: greater", {"cores", O::gt, {"32"}}, {{"cores", "96"}}, true},
      {"Gt: equal", {"cores", O::gt, {"96"}}, {{"cores", "96"}}, false},
      {"Gt: label not an integer", {"cores", O::gt, {"32"}}, {{"cores", "many"}}, false},
      {"Gt: label absent", {"cores", O::gt, {"32"}}, {}, false},
      {"Gt: two values is invalid", {"cores", O::gt, {"1", "2"}}, {{"cores", "96"}}, false},
      {"Gt: value not an integer is invalid", {"cores", O::gt, {"x"}}, {{"cores", "96"}}, false},
      {"Lt: smaller", {"cores", O::lt, {"64"}}, {{"cores", "32"}}, true},
      {"Lt: negative integers", {"t", O::lt, {"-1"}}, {{"t", "-5"}}, true},
      {"Lt: larger", {"cores", O::lt, {"64"}}, {{"cores", "96"}}, false},
      {"unknown operator", {"type", O::unknown, {"a"}}, {{"type", "a"}}, false},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    CHECK(affinity_ok(with_terms({term({row.expr})}), node(row.labels)) == row.fits);
  }
}

TEST_CASE("required node affinity: terms are ORed, expressions ANDed", "[fit][affinity]") {
  using O = FitOperator;
  const auto c = node({{"type", "c"}, {"zone", "z1"}});
  // Both expressions of one term must hold.
  CHECK_FALSE(
      affinity_ok(with_terms({term({{"type", O::in, {"c"}}, {"zone", O::in, {"z2"}}})}), c));
  // One matching term is enough.
  CHECK(affinity_ok(with_terms({term({{"type", O::in, {"a"}}}), term({{"zone", O::in, {"z1"}}})}),
                    c));
  // An empty term matches no node; zero terms match no node.
  CHECK_FALSE(affinity_ok(with_terms({term({})}), c));
  CHECK_FALSE(affinity_ok(with_terms({}), c));
  // An invalid expression sinks only its own term.
  CHECK(affinity_ok(with_terms({term({{"type", O::in, {}}}), term({{"type", O::in, {"c"}}})}), c));
  // nodeSelector and affinity must both hold.
  PodRequirement both = with_terms({term({{"type", O::in, {"c"}}})});
  both.node_selector = {{"zone", "z2"}};
  CHECK_FALSE(affinity_ok(both, c));
  // The profile key in an expression is read as performance.
  const auto eco_node = node({{std::string(kKey), "eco"}});
  CHECK(affinity_ok(with_terms({term({{std::string(kKey), O::in, {"performance"}}})}), eco_node,
                    FitOptions{kKey}));
  CHECK_FALSE(affinity_ok(with_terms({term({{std::string(kKey), O::not_in, {"performance"}}})}),
                          eco_node, FitOptions{kKey}));
}

TEST_CASE("required node affinity: matchFields on metadata.name", "[fit][affinity]") {
  using O = FitOperator;
  auto n = node({});
  n.name = "worker-7";
  CHECK(affinity_ok(with_terms({term({}, {{"metadata.name", O::in, {"worker-7"}}})}), n));
  CHECK_FALSE(affinity_ok(with_terms({term({}, {{"metadata.name", O::in, {"worker-8"}}})}), n));
  CHECK(affinity_ok(with_terms({term({}, {{"metadata.name", O::not_in, {"worker-8"}}})}), n));
  // Only metadata.name exists as a field; only In/NotIn with one value.
  CHECK_FALSE(affinity_ok(with_terms({term({}, {{"metadata.uid", O::in, {"worker-7"}}})}), n));
  CHECK_FALSE(
      affinity_ok(with_terms({term({}, {{"metadata.name", O::in, {"worker-7", "x"}}})}), n));
  CHECK_FALSE(affinity_ok(with_terms({term({}, {{"metadata.name", O::exists, {}}})}), n));
}

TEST_CASE("taints and tolerations", "[fit][taints]") {
  using E = TaintEffect;
  struct Row {
    const char* what;
    Taint taint;
    std::vector<Toleration> tolerations;
    bool fits;
  };
  const Taint gpu{"pool", "gpu", E::no_schedule};
  const std::vector<Row> rows = {
      {"no toleration", gpu, {}, false},
      {"Equal, same value", gpu, {{"pool", false, "gpu", E::no_schedule}}, true},
      {"Equal, other value", gpu, {{"pool", false, "cpu", E::no_schedule}}, false},
      {"Equal, any effect", gpu, {{"pool", false, "gpu", std::nullopt}}, true},
      {"Exists ignores the value", gpu, {{"pool", true, "whatever", std::nullopt}}, true},
      {"other key", gpu, {{"zone", true, "", std::nullopt}}, false},
      {"other effect", gpu, {{"pool", true, "", E::no_execute}}, false},
      {"empty key with Exists tolerates all", gpu, {{"", true, "", std::nullopt}}, true},
      {"empty key with Exists, effect must still match",
       gpu,
       {{"", true, "", E::no_execute}},
       false},
      {"NoExecute blocks too", {"dedicated", "x", E::no_execute}, {}, false},
      {"NoExecute tolerated",
       {"dedicated", "x", E::no_execute},
       {{"dedicated", false, "x", E::no_execute}},
       true},
      {"PreferNoSchedule never blocks", {"soft", "", E::prefer_no_schedule}, {}, true},
      {"taint without value, Equal with empty value",
       {"k", "", E::no_schedule},
       {{"k", false, "", E::no_schedule}},
       true},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    PodRequirement pod;
    pod.tolerations = row.tolerations;
    CHECK(!check_taints(pod, node({}, {row.taint})).has_value() == row.fits);
  }
  PodRequirement none;
  CHECK(check_taints(none, node({}, {gpu})) ==
        std::string("node(s) had untolerated taint {pool: gpu}"));
  // Every taint must be tolerated; the reason names the first one that is not.
  PodRequirement one;
  one.tolerations = {{"pool", true, "", std::nullopt}};
  CHECK(check_taints(one, node({}, {gpu, {"zone", "z", E::no_schedule}})) ==
        std::string("node(s) had untolerated taint {zone: z}"));
}

TEST_CASE("resources: requests against allocatable minus bound pods", "[fit][resources]") {
  const auto n = node({}, {}, Resources{48000, 64LL << 30, 110}, Resources{8000, 16LL << 30, 10});
  CHECK_FALSE(check_resources({40000, 48LL << 30, 1}, n));  // exactly fills
  CHECK(check_resources({40001, 0, 1}, n) == std::string("Insufficient cpu"));
  CHECK(check_resources({1000, (48LL << 30) + 1, 1}, n) == std::string("Insufficient memory"));
  // What the packing already placed counts like a bound pod.
  CHECK(check_resources({1000, 0, 1}, n, Resources{39500, 0, 1}) ==
        std::string("Insufficient cpu"));
  // A pod without requests fits even a full node (the scheduler checks only requested kinds).
  const auto full = node({}, {}, Resources{4000, 1LL << 30, 110}, Resources{4000, 1LL << 30, 3});
  CHECK_FALSE(check_resources({0, 0, 1}, full));
  // The pod count: allocatable pods reached.
  const auto crowded = node({}, {}, Resources{4000, 1LL << 30, 3}, Resources{0, 0, 3});
  CHECK(check_resources({0, 0, 1}, crowded) == std::string("Too many pods"));
  // Over-committed nodes (bound requests above allocatable) fit no request.
  const auto over = node({}, {}, Resources{4000, 0, 0}, Resources{5000, 0, 0});
  CHECK(check_resources({1, 0, 1}, over) == std::string("Insufficient cpu"));
}

TEST_CASE("check_fit: the scheduler's filter order", "[fit]") {
  PodRequirement pod;
  pod.node_selector = {{"type", "c"}};
  const auto n =
      node({{"type", "a"}}, {{"pool", "gpu", TaintEffect::no_schedule}}, Resources{1000, 0, 0});
  // Taint first, then affinity, then resources.
  CHECK(check_fit(pod, {2000, 0, 1}, n) ==
        std::string("node(s) had untolerated taint {pool: gpu}"));
  pod.tolerations = {{"pool", true, "", std::nullopt}};
  CHECK(check_fit(pod, {2000, 0, 1}, n) == std::string(kReasonNodeAffinity));
  pod.node_selector = {{"type", "a"}};
  CHECK(check_fit(pod, {2000, 0, 1}, n) == std::string("Insufficient cpu"));
  CHECK_FALSE(check_fit(pod, {1000, 0, 1}, n));
}

TEST_CASE("summary: the scheduler's 0/N sentence", "[fit]") {
  CHECK(summarize_unavailable(5, {std::string(kReasonNodeAffinity), "Insufficient cpu",
                                  std::string(kReasonNodeAffinity), "Insufficient cpu",
                                  std::string(kReasonNodeAffinity)}) ==
        "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) didn't match Pod's node "
        "affinity/selector.");
  CHECK(summarize_unavailable(0, {}) == "0/0 nodes are available.");
}

TEST_CASE("pod requests: containers, init containers, sidecars, overhead", "[fit][json]") {
  auto requests = [](const std::string& spec) {
    return pod_requests(parse(R"({"spec":)" + spec + "}"));
  };
  CHECK(requests(R"({"containers":[{"resources":{"requests":{"cpu":"2","memory":"1Gi"}}},
                                   {"resources":{"requests":{"cpu":"500m"}}}]})") ==
        Resources{2500, 1LL << 30, 1});
  // The largest init container wins when it exceeds the app containers' sum.
  CHECK(requests(R"({"containers":[{"resources":{"requests":{"cpu":"1"}}}],
                     "initContainers":[{"resources":{"requests":{"cpu":"4","memory":"100Mi"}}},
                                       {"resources":{"requests":{"cpu":"2"}}}]})") ==
        Resources{4000, 100LL << 20, 1});
  // A sidecar (restartPolicy Always) adds to the app containers and to later init steps.
  CHECK(requests(R"({"containers":[{"resources":{"requests":{"cpu":"1"}}}],
                     "initContainers":[{"restartPolicy":"Always","resources":{"requests":{"cpu":"1"}}},
                                       {"resources":{"requests":{"cpu":"3"}}}]})") ==
        Resources{4000, 0, 1});
  CHECK(requests(R"({"containers":[{"resources":{"requests":{"cpu":"3"}}}],
                     "initContainers":[{"restartPolicy":"Always","resources":{"requests":{"cpu":"1"}}},
                                       {"resources":{"requests":{"cpu":"2"}}}]})") ==
        Resources{4000, 0, 1});
  // Overhead (RuntimeClass) is added; limits never count; garbage is absent.
  CHECK(requests(R"({"overhead":{"cpu":"250m"},"containers":[{"resources":{
                     "limits":{"cpu":"8"},"requests":{"cpu":"1","memory":"x"}}}]})") ==
        Resources{1250, 0, 1});
  CHECK(requests(R"({"containers":"nonsense"})") == Resources{0, 0, 1});
}

TEST_CASE("requirement from pod JSON", "[fit][json]") {
  bool malformed = true;
  const auto r = requirement_from_pod_json(parse(R"({"spec":{
      "nodeSelector":{"node.kubernetes.io/instance-type":"c","joulie.io/power-profile":"performance"},
      "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
        {"matchExpressions":[{"key":"cores","operator":"Gt","values":["32"]}],
         "matchFields":[{"key":"metadata.name","operator":"NotIn","values":["bad"]}]}]}}},
      "tolerations":[{"key":"pool","operator":"Equal","value":"gpu","effect":"NoSchedule"},
                     {"operator":"Exists"},{"key":"x","operator":"Bogus"}]}})"),
                                           &malformed);
  CHECK_FALSE(malformed);
  CHECK(r.node_selector.size() == 2);
  REQUIRE(r.has_required_affinity);
  REQUIRE(r.terms.size() == 1);
  CHECK(r.terms[0].expressions == std::vector<FitExpression>{{"cores", FitOperator::gt, {"32"}}});
  CHECK(r.terms[0].fields ==
        std::vector<FitExpression>{{"metadata.name", FitOperator::not_in, {"bad"}}});
  // The unknown operator is dropped: it tolerates nothing.
  CHECK(r.tolerations == std::vector<Toleration>{{"pool", false, "gpu", TaintEffect::no_schedule},
                                                 {"", true, "", std::nullopt}});
  requirement_from_pod_json(parse(R"({"spec":{"nodeSelector":["x"]}})"), &malformed);
  CHECK(malformed);
  requirement_from_pod_json(parse(R"({"spec":{"tolerations":{"key":"x"}}})"), &malformed);
  CHECK(malformed);
}

TEST_CASE("node taints and allocatable from node JSON", "[fit][json]") {
  const auto n = parse(R"({"spec":{"taints":[
      {"key":"pool","value":"gpu","effect":"NoSchedule"},
      {"key":"soft","effect":"PreferNoSchedule"},
      {"key":"node.kubernetes.io/not-ready","effect":"NoExecute"}]},
      "status":{"allocatable":{"cpu":"95500m","memory":"370Gi","pods":"110"}}})");
  CHECK(blocking_taints_from_node_json(n) ==
        std::vector<Taint>{{"pool", "gpu", TaintEffect::no_schedule},
                           {"node.kubernetes.io/not-ready", "", TaintEffect::no_execute}});
  CHECK(allocatable_from_node_json(n) == Resources{95500, 370LL << 30, 110});
  CHECK(allocatable_from_node_json(parse("{}")) == Resources{});
}
