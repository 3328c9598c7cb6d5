#pragma once
// Kubernetes label selectors (docs/design.md#label-selectors): `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
// `k notin (a,b)`, `k`, `!k`, comma = AND, whitespace ignored around tokens. Keys and values are
// validated like the API server does (qualified names; values ≤ 63 characters of
// [A-Za-z0-9._-] beginning and ending alphanumeric), so a selector accepted here is accepted
// there as well.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/api/types.hpp"
#include "joulie/common/result.hpp"

namespace joulie::policy {

using api::Labels;

enum class SelectorOp { equals, not_equals, in, not_in, exists, does_not_exist };

struct Requirement {
  std::string key;
  SelectorOp op = SelectorOp::exists;
  std::vector<std::string>
      values;  // sorted, unique; one for (not_)equals, none for (does_not_)exist

  bool operator==(const Requirement&) const = default;
};

// Looks a label up; nullopt when the object does not carry it.
using LabelLookup = std::function<std::optional<std::string_view>(std::string_view key)>;

class Selector {
 public:
  Selector() = default;  // matches everything
  explicit Selector(std::vector<Requirement> requirements);

  bool matches(const Labels& labels) const;
  bool matches(const LabelLookup& lookup) const;

  // Canonical text for the API server's labelSelector parameter: requirements ordered by key,
  // `=` for equality, value lists sorted ("a=b,c in (x,y),!d" style). "" matches everything.
  std::string to_string() const;

  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

// Errc::invalid_argument naming the selector and the offending text. Stricter than Kubernetes
// in two corners: an empty list `k in ()` and the `<` / `>` operators are rejected.
Result<Selector> parse_selector(std::string_view text);

// Kubernetes' validation rules, exposed for other label handling (the profile label key).
// Empty string: valid; otherwise the reason it is not.
std::string label_key_problem(std::string_view key);
std::string label_value_problem(std::string_view value);

}  // namespace joulie::policy
