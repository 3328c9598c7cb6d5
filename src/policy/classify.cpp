#include "joulie/policy/classify.hpp"

#include "joulie/api/names.hpp"
#include "joulie/kube/json_fields.hpp"

namespace joulie::policy {
namespace {

namespace json = kube::json;

using Mask = unsigned;
constexpr Mask kPerformance = 1;
constexpr Mask kEco = 2;
constexpr Mask kAny = kPerformance | kEco;

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) {
    return {};
  }
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

// The profiles a label value stands for: draining-performance nodes run the performance
// profile, so a pod that asks for them needs performance.
Mask profiles_of(std::string_view value) {
  const auto v = trim(value);
  if (v == api::kProfilePerformance || v == api::kProfileDrainingPerformance) {
    return kPerformance;
  }
  if (v == api::kProfileEco) {
    return kEco;
  }
  return 0;
}

// NotIn removes exactly the profiles it names. Excluding draining-performance still leaves
// performance (and eco) nodes, so it removes nothing.
Mask excluded_by(std::string_view value) {
  const auto v = trim(value);
  if (v == api::kProfilePerformance) {
    return kPerformance;
  }
  if (v == api::kProfileEco) {
    return kEco;
  }
  return 0;
}

PodClass from_mask(Mask m) {
  switch (m) {
    case kAny:
      return PodClass::general;
    case kPerformance:
      return PodClass::performance_only;
    case kEco:
      return PodClass::eco_only;
    default:
      return PodClass::unknown;
  }
}

std::string_view as_view(const rapidjson::Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

// Reads one term's expressions on `key` into `term`; false when the structure is broken.
bool read_term(const rapidjson::Value& term_json, std::string_view key, AffinityTerm& term) {
  if (!term_json.IsObject()) {
    return false;
  }
  const auto* expressions = json::present(term_json, "matchExpressions");
  if (expressions == nullptr) {
    return true;
  }
  if (!expressions->IsArray()) {
    return false;
  }
  for (const auto& e : expressions->GetArray()) {
    const auto k = json::string_at(e, "key");
    if (!k) {
      return false;
    }
    if (*k != key) {
      continue;
    }
    const auto op = json::string_at(e, "operator");
    if (!op) {
      return false;
    }
    AffinityExpression expr;
    expr.key = std::string(key);
    expr.op = parse_affinity_operator(*op);
    if (const auto* values = json::present(e, "values")) {
      if (!values->IsArray()) {
        return false;
      }
      for (const auto& v : values->GetArray()) {
        if (!v.IsString()) {
          return false;
        }
        expr.values.emplace_back(as_view(v));
      }
    }
    term.expressions.push_back(std::move(expr));
  }
  return true;
}

}  // namespace

std::string_view to_string(PodClass c) {
  switch (c) {
    case PodClass::general:
      return "general";
    case PodClass::performance_only:
      return "performance-only";
    case PodClass::eco_only:
      return "eco-only";
    case PodClass::unknown:
      return "unknown";
  }
  return "unknown";
}

AffinityOperator parse_affinity_operator(std::string_view name) {
  if (name == "In") {
    return AffinityOperator::in;
  }
  if (name == "NotIn") {
    return AffinityOperator::not_in;
  }
  if (name == "Exists") {
    return AffinityOperator::exists;
  }
  if (name == "DoesNotExist") {
    return AffinityOperator::does_not_exist;
  }
  return AffinityOperator::other;
}

PodClass classify(const PodPlacement& placement, std::string_view key) {
  if (placement.malformed) {
    return PodClass::unknown;
  }
  Mask base = kAny;
  if (placement.node_selector_value) {
    const Mask wanted = profiles_of(*placement.node_selector_value);
    if (wanted == 0) {
      return PodClass::unknown;
    }
    base &= wanted;
  }
  if (!placement.has_required_affinity) {
    return from_mask(base);
  }
  if (placement.terms.empty()) {
    return PodClass::unknown;
  }
  Mask pod = 0;
  for (const auto& term : placement.terms) {
    Mask m = base;
    for (const auto& expr : term.expressions) {
      if (expr.key != key) {
        continue;
      }
      switch (expr.op) {
        case AffinityOperator::in: {
          Mask any_of = 0;
          for (const auto& v : expr.values) {
            any_of |= profiles_of(v);
          }
          m &= any_of;
          break;
        }
        case AffinityOperator::not_in:
          for (const auto& v : expr.values) {
            m &= ~excluded_by(v);
          }
          break;
        case AffinityOperator::exists:
          break;
        case AffinityOperator::does_not_exist:
          m = 0;
          break;
        case AffinityOperator::other:
          return PodClass::unknown;
      }
    }
    pod |= m;
  }
  return from_mask(pod & kAny);
}

bool is_counted(bool has_deletion_timestamp, std::string_view phase) {
  return !has_deletion_timestamp && phase != "Succeeded" && phase != "Failed";
}

PodPlacement placement_from_pod_json(const rapidjson::Value& pod, std::string_view key) {
  PodPlacement out;
  if (!pod.IsObject()) {
    out.malformed = true;
    return out;
  }
  const auto* spec = json::present(pod, "spec");
  if (spec != nullptr && !spec->IsObject()) {
    out.malformed = true;
    return out;
  }
  if (const auto* selector = json::present(spec, "nodeSelector")) {
    if (!selector->IsObject()) {
      out.malformed = true;
      return out;
    }
    if (const auto* value = json::member(selector, key)) {
      if (!value->IsString()) {
        out.malformed = true;
        return out;
      }
      out.node_selector_value = std::string(as_view(*value));
    }
  }
  const auto* affinity = json::present(spec, "affinity");
  const auto* node_affinity = json::present(affinity, "nodeAffinity");
  const auto* required =
      json::present(node_affinity, "requiredDuringSchedulingIgnoredDuringExecution");
  if ((affinity != nullptr && !affinity->IsObject()) ||
      (node_affinity != nullptr && !node_affinity->IsObject()) ||
      (required != nullptr && !required->IsObject())) {
    out.malformed = true;
    return out;
  }
  if (required == nullptr) {
    return out;
  }
  out.has_required_affinity = true;
  const auto* terms = json::present(required, "nodeSelectorTerms");
  if (terms == nullptr) {
    return out;  // zero terms
  }
  if (!terms->IsArray()) {
    out.malformed = true;
    return out;
  }
  for (const auto& t : terms->GetArray()) {
    AffinityTerm term;
    if (!read_term(t, key, term)) {
      out.malformed = true;
      out.terms.clear();
      return out;
    }
    out.terms.push_back(std::move(term));
  }
  return out;
}

PodClass classify_pod_json(const rapidjson::Value& pod, std::string_view key) {
  return classify(placement_from_pod_json(pod, key), key);
}

bool is_counted_pod_json(const rapidjson::Value& pod) {
  const auto* deletion = json::present(json::member(pod, "metadata"), "deletionTimestamp");
  return is_counted(deletion != nullptr,
                    json::string_or_empty(json::member(pod, "status"), "phase"));
}

}  // namespace joulie::policy
