// Scheduler-style fit predicates. Each rule follows what kube-scheduler's filter plugin does
// (NodeAffinity, TaintToleration, NodeResourcesFit) and reports its words, so an operator
// reading Joulie's reason recognises the scheduler's.
#include "joulie/policy/fit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

namespace joulie::policy {

namespace {

// ---- quantities -------------------------------------------------------------------------------

struct Suffix {
  std::string_view text;
  double scale;
};

constexpr Suffix kSuffixes[] = {
    {"Ki", 1024.0},
    {"Mi", 1024.0 * 1024},
    {"Gi", 1024.0 * 1024 * 1024},
    {"Ti", 1024.0 * 1024 * 1024 * 1024},
    {"Pi", 1024.0 * 1024 * 1024 * 1024 * 1024},
    {"Ei", 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024},
    {"n", 1e-9},
    {"u", 1e-6},
    {"m", 1e-3},
    {"k", 1e3},
    {"M", 1e6},
    {"G", 1e9},
    {"T", 1e12},
    {"P", 1e15},
    {"E", 1e18},
};

std::optional<double> number(std::string_view s) {
  if (s.empty()) {
    return std::nullopt;
  }
  // from_chars accepts neither a leading '+' nor forms like "inf" we must refuse: digits and
  // at most one '.', nothing else.
  std::size_t dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  if (dots > 1 || s == ".") {
    return std::nullopt;
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::int64_t> round_up(std::optional<double> v) {
  if (!v || !std::isfinite(*v) || *v < 0 || *v >= 9.2e18) {
    return std::nullopt;
  }
  // "0.1" × 1000 is 100.00000000000001 in binary, which must stay 100: a value within
  // rounding noise of a whole number is that number; anything else rounds up.
  const double nearest = std::round(*v);
  const double rounded =
      std::fabs(*v - nearest) <= 1e-12 * std::max(1.0, *v) ? nearest : std::ceil(*v);
  return static_cast<std::int64_t>(rounded);
}

// ---- node affinity ----------------------------------------------------------------------------

std::optional<std::string_view> label_of(const NodeFitView& node, std::string_view key,
                                         const FitOptions& options) {
  if (!options.profile_key.empty() && key == options.profile_key) {
    return options.profile_value;
  }
  auto it = node.labels.find(key);
  if (it == node.labels.end()) {
    return std::nullopt;
  }
  return std::string_view(it->second);
}

std::optional<std::int64_t> integer(std::string_view s) {
  std::int64_t v = 0;
  const char* begin = s.data();
  if (!s.empty() && s.front() == '+') {
    ++begin;  // strconv.ParseInt accepts a sign
  }
  auto [ptr, ec] = std::from_chars(begin, s.data() + s.size(), v);
  if (s.empty() || begin == s.data() + s.size() || ec != std::errc() ||
      ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

// The scheduler turns an expression into a label requirement first; one it cannot build
// (In without values, Exists with values, Gt with a non-integer, an unknown operator) makes
// its whole term match nothing.
bool valid_expression(const FitExpression& e) {
  switch (e.op) {
    case FitOperator::in:
    case FitOperator::not_in:
      return !e.values.empty();
    case FitOperator::exists:
    case FitOperator::does_not_exist:
      return e.values.empty();
    case FitOperator::gt:
    case FitOperator::lt:
      return e.values.size() == 1 && integer(e.values[0]).has_value();
    case FitOperator::unknown:
      return false;
  }
  return false;
}

bool contains(const std::vector<std::string>& values, std::string_view v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

bool matches(const FitExpression& e, std::optional<std::string_view> value) {
  switch (e.op) {
    case FitOperator::in:
      return value && contains(e.values, *value);
    case FitOperator::not_in:
      return !value || !contains(e.values, *value);
    case FitOperator::exists:
      return value.has_value();
    case FitOperator::does_not_exist:
      return !value.has_value();
    case FitOperator::gt:
    case FitOperator::lt: {
      if (!value) {
        return false;
      }
      auto have = integer(*value);
      auto want = integer(e.values[0]);
      if (!have || !want) {
        return false;
      }
      return e.op == FitOperator::gt ? *have > *want : *have < *want;
    }
    case FitOperator::unknown:
      return false;
  }
  return false;
}

// matchFields: only metadata.name, In or NotIn with exactly one value (the API's rule).
bool field_matches(const FitExpression& e, const NodeFitView& node) {
  if (e.key != "metadata.name" || e.values.size() != 1 ||
      (e.op != FitOperator::in && e.op != FitOperator::not_in)) {
    return false;
  }
  const bool equal = node.name == e.values[0];
  return e.op == FitOperator::in ? equal : !equal;
}

bool term_matches(const FitTerm& term, const NodeFitView& node, const FitOptions& options) {
  if (term.expressions.empty() && term.fields.empty()) {
    return false;  // an empty term selects no node
  }
  for (const auto& e : term.expressions) {
    if (!valid_expression(e) || !matches(e, label_of(node, e.key, options))) {
      return false;
    }
  }
  for (const auto& f : term.fields) {
    if (!field_matches(f, node)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string_view> fit_label(const NodeFitView& node, std::string_view key,
                                          const FitOptions& options) {
  return label_of(node, key, options);
}

std::optional<double> parse_quantity(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  bool negative = false;
  if (text.front() == '+' || text.front() == '-') {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  // The number: digits and a dot; then a suffix or an exponent.
  std::size_t end = 0;
  while (end < text.size() && ((text[end] >= '0' && text[end] <= '9') || text[end] == '.')) {
    ++end;
  }
  auto mantissa = number(text.substr(0, end));
  if (!mantissa) {
    return std::nullopt;
  }
  std::string_view suffix = text.substr(end);
  double scale = 1;
  if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    auto exponent = integer(suffix.substr(suffix[1] == '-' ? 2 : 1));
    if (!exponent || suffix.size() > 6) {
      return std::nullopt;
    }
    scale = std::pow(10.0, static_cast<double>(suffix[1] == '-' ? -*exponent : *exponent));
  } else if (!suffix.empty()) {
    const auto it = std::find_if(std::begin(kSuffixes), std::end(kSuffixes),
                                 [&](const Suffix& s) { return s.text == suffix; });
    if (it == std::end(kSuffixes)) {
      return std::nullopt;
    }
    scale = it->scale;
  }
  const double v = *mantissa * scale;
  if (!std::isfinite(v) || (negative && v != 0)) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::int64_t> parse_milli_quantity(std::string_view text) {
  auto v = parse_quantity(text);
  return round_up(v ? std::optional<double>(*v * 1000) : std::nullopt);
}

std::optional<std::int64_t> parse_unit_quantity(std::string_view text) {
  return round_up(parse_quantity(text));
}

FitOperator parse_fit_operator(std::string_view name) {
  static constexpr std::pair<std::string_view, FitOperator> kOps[] = {
      {"In", FitOperator::in},         {"NotIn", FitOperator::not_in},
      {"Exists", FitOperator::exists}, {"DoesNotExist", FitOperator::does_not_exist},
      {"Gt", FitOperator::gt},         {"Lt", FitOperator::lt}};
  for (const auto& [text, op] : kOps) {
    if (text == name) {
      return op;
    }
  }
  return FitOperator::unknown;
}

TaintEffect parse_taint_effect(std::string_view name) {
  if (name == "NoSchedule") {
    return TaintEffect::no_schedule;
  }
  if (name == "PreferNoSchedule") {
    return TaintEffect::prefer_no_schedule;
  }
  if (name == "NoExecute") {
    return TaintEffect::no_execute;
  }
  return TaintEffect::unknown;
}

bool node_affinity_matches(const PodRequirement& pod, const NodeFitView& node,
                           const FitOptions& options) {
  for (const auto& [key, want] : pod.node_selector) {
    auto have = label_of(node, key, options);
    if (!have || *have != want) {
      return false;
    }
  }
  return !pod.has_required_affinity ||
         std::any_of(pod.terms.begin(), pod.terms.end(),
                     [&](const FitTerm& t) { return term_matches(t, node, options); });
}

std::optional<std::string> check_node_affinity(const PodRequirement& pod, const NodeFitView& node,
                                               const FitOptions& options) {
  if (node_affinity_matches(pod, node, options)) {
    return std::nullopt;
  }
  return std::string(kReasonNodeAffinity);
}

bool tolerates(const Toleration& toleration, const Taint& taint) {
  if (toleration.effect && *toleration.effect != taint.effect) {
    return false;
  }
  if (!toleration.key.empty() && toleration.key != taint.key) {
    return false;
  }
  return toleration.exists || toleration.value == taint.value;
}

const Taint* untolerated(const PodRequirement& pod, const NodeFitView& node) {
  for (const auto& taint : node.taints) {
    if (taint.effect != TaintEffect::no_schedule && taint.effect != TaintEffect::no_execute) {
      continue;
    }
    const bool ok = std::any_of(pod.tolerations.begin(), pod.tolerations.end(),
                                [&](const Toleration& t) { return tolerates(t, taint); });
    if (!ok) {
      return &taint;
    }
  }
  return nullptr;
}

std::string untolerated_reason(const Taint& taint) {
  return fmt::format("node(s) had untolerated taint {{{}: {}}}", taint.key, taint.value);
}

std::optional<std::string> check_taints(const PodRequirement& pod, const NodeFitView& node) {
  if (const Taint* taint = untolerated(pod, node)) {
    return untolerated_reason(*taint);
  }
  return std::nullopt;
}

const char* insufficient(const Resources& request, const NodeFitView& node,
                         const Resources& also_used) {
  const Resources& a = node.allocatable;
  const Resources& r = node.requested;
  if (a.pods > 0 && r.pods + also_used.pods + 1 > a.pods) {
    return "Too many pods";
  }
  if (request.cpu_milli > 0 &&
      request.cpu_milli > a.cpu_milli - r.cpu_milli - also_used.cpu_milli) {
    return "Insufficient cpu";
  }
  if (request.memory_bytes > 0 &&
      request.memory_bytes > a.memory_bytes - r.memory_bytes - also_used.memory_bytes) {
    return "Insufficient memory";
  }
  return nullptr;
}

std::optional<std::string> check_resources(const Resources& request, const NodeFitView& node,
                                           const Resources& also_used) {
  if (const char* why = insufficient(request, node, also_used)) {
    return std::string(why);
  }
  return std::nullopt;
}

std::optional<std::string> check_fit(const PodRequirement& pod, const Resources& request,
                                     const NodeFitView& node, const FitOptions& options,
                                     const Resources& also_used) {
  if (auto why = check_taints(pod, node)) {
    return why;
  }
  if (auto why = check_node_affinity(pod, node, options)) {
    return why;
  }
  return check_resources(request, node, also_used);
}

std::string summarize_unavailable(std::size_t nodes, const std::vector<std::string>& reasons) {
  std::map<std::string, std::size_t> counts;
  for (const auto& r : reasons) {
    ++counts[r];
  }
  return summarize_counts(nodes, counts);
}

std::string summarize_counts(std::size_t nodes, const std::map<std::string, std::size_t>& counts) {
  std::vector<std::string> parts;
  parts.reserve(counts.size());
  for (const auto& [reason, count] : counts) {
    parts.push_back(fmt::format("{} {}", count, reason));
  }
  std::sort(parts.begin(), parts.end());  // the scheduler sorts "<count> <reason>" strings
  std::string out = fmt::format("0/{} nodes are available", nodes);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    out += (i == 0 ? ": " : ", ") + parts[i];
  }
  return out + ".";
}

}  // namespace joulie::policy
