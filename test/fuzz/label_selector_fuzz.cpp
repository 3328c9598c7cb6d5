// Label-selector parser. Properties: a parsed selector's canonical text re-parses to an equal
// selector (and is a fixed point); every accepted key and value passes the API server's
// validation; matches() agrees with the documented meaning (docs/design.md#label-selectors) of each
// operator on label sets built from the selector itself. Input: the selector text.
#include <algorithm>
#include <functional>
#include <string>

#include "fuzz_support.hpp"
#include "joulie/policy/selector.hpp"

namespace {

using joulie::policy::Labels;
using joulie::policy::Requirement;
using joulie::policy::Selector;
using joulie::policy::SelectorOp;

bool contains(const std::vector<std::string>& values, const std::string& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

bool requirement_holds(const Requirement& req, const Labels& labels) {
  const auto it = labels.find(req.key);
  const bool has = it != labels.end();
  switch (req.op) {
    case SelectorOp::equals:
    case SelectorOp::in:
      return has && contains(req.values, it->second);
    case SelectorOp::not_equals:
    case SelectorOp::not_in:
      return !has || !contains(req.values, it->second);
    case SelectorOp::exists:
      return has;
    case SelectorOp::does_not_exist:
      return !has;
  }
  return false;
}

// Labels that hit or miss each requirement, chosen by `seed` (absent, one of its values, or a
// value it does not list).
Labels labels_for(const Selector& selector, size_t seed) {
  Labels labels;
  for (const auto& req : selector.requirements()) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    const size_t choice = (seed >> 33) % 3;
    if (choice == 0) {
      continue;
    }
    if (choice == 1 && !req.values.empty()) {
      labels.try_emplace(req.key, req.values[(seed >> 40) % req.values.size()]);
    } else {
      labels.try_emplace(req.key, "zz-not-listed-value");
    }
  }
  return labels;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)joulie::policy::label_key_problem(text);
  (void)joulie::policy::label_value_problem(text);

  auto parsed = joulie::policy::parse_selector(text);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.code() == joulie::Errc::invalid_argument);
    return 0;
  }
  const Selector& selector = parsed.value();
  for (const auto& req : selector.requirements()) {
    FUZZ_CHECK(joulie::policy::label_key_problem(req.key).empty());
    for (const auto& v : req.values) {
      FUZZ_CHECK(joulie::policy::label_value_problem(v).empty());
    }
    FUZZ_CHECK(std::is_sorted(req.values.begin(), req.values.end()));
    FUZZ_CHECK(std::adjacent_find(req.values.begin(), req.values.end()) == req.values.end());
    const bool one_value = req.op == SelectorOp::equals || req.op == SelectorOp::not_equals;
    const bool no_value = req.op == SelectorOp::exists || req.op == SelectorOp::does_not_exist;
    FUZZ_CHECK(!one_value || req.values.size() == 1);
    FUZZ_CHECK(!no_value || req.values.empty());
  }

  const std::string canonical = selector.to_string();
  auto reparsed = joulie::policy::parse_selector(canonical);
  if (!reparsed.ok()) {
    std::fprintf(stderr, "canonical text %s does not re-parse: %s\n", canonical.c_str(),
                 reparsed.error().message.c_str());
  }
  FUZZ_CHECK(reparsed.ok());
  FUZZ_CHECK(reparsed->requirements() == selector.requirements());
  FUZZ_CHECK(reparsed->to_string() == canonical);
  FUZZ_CHECK(selector.empty() == canonical.empty());

  const size_t seed = std::hash<std::string_view>{}(text);
  for (size_t round = 0; round < 4; ++round) {
    const Labels labels = labels_for(selector, seed + round);
    bool expected = true;
    for (const auto& req : selector.requirements()) {
      expected = expected && requirement_holds(req, labels);
    }
    FUZZ_CHECK(selector.matches(labels) == expected);
    const joulie::policy::LabelLookup lookup =
        [&labels](std::string_view key) -> std::optional<std::string_view> {
      const auto it = labels.find(key);
      if (it == labels.end()) {
        return std::nullopt;
      }
      return std::string_view(it->second);
    };
    FUZZ_CHECK(selector.matches(lookup) == expected);
  }
  return 0;
}
