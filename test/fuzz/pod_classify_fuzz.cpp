// Pod classification from Pod JSON (docs/design.md#pod-classification). Input: [key selector][pod
// JSON].
// Properties: classify_pod_json is classify(placement_from_pod_json); a malformed placement is
// `unknown` (fail safe); only expressions on the configured key are kept; an unselected,
// unaffine pod is `general`.
#include <string>

#include "fuzz_support.hpp"
#include "joulie/kube/json.hpp"
#include "joulie/policy/classify.hpp"

namespace policy = joulie::policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  joulie::fuzz::InputReader in(data, size);
  static constexpr std::string_view kKeys[] = {"joulie.io/power-profile", "k", ""};
  const std::string_view key = kKeys[in.byte() % 3];
  auto parsed = joulie::kube::parse_object(in.rest());
  if (!parsed.ok()) {
    return 0;
  }
  const rapidjson::Document& pod = parsed.value();
  const policy::PodPlacement placement = policy::placement_from_pod_json(pod, key);
  const policy::PodClass c = policy::classify(placement, key);
  FUZZ_CHECK(policy::classify_pod_json(pod, key) == c);
  if (placement.malformed) {
    FUZZ_CHECK(c == policy::PodClass::unknown);
  }
  for (const auto& term : placement.terms) {
    for (const auto& e : term.expressions) {
      FUZZ_CHECK(e.key == key);
    }
  }
  if (!placement.malformed && !placement.node_selector_value && !placement.has_required_affinity) {
    FUZZ_CHECK(c == policy::PodClass::general);
  }
  (void)policy::is_counted_pod_json(pod);
  (void)policy::to_string(c);
  // Pods also arrive nested (list items, watch events).
  for (const auto& m : pod.GetObject()) {
    (void)policy::classify_pod_json(m.value, key);
    (void)policy::is_counted_pod_json(m.value);
  }
  return 0;
}
