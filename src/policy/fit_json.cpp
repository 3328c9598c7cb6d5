// Reading the fit inputs from Pod and Node JSON (the informers' decode step). Lenient where
// the scheduler would be: a request that does not parse counts as absent; a field of the wrong
// JSON type marks the requirement malformed so the caller can decide.
#include <algorithm>

#include "joulie/policy/fit.hpp"

namespace joulie::policy {

namespace {

std::string_view view(const rapidjson::Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

const rapidjson::Value* member(const rapidjson::Value* obj, const char* name) {
  if (obj == nullptr || !obj->IsObject()) {
    return nullptr;
  }
  const auto it = obj->FindMember(name);
  if (it == obj->MemberEnd() || it->value.IsNull()) {
    return nullptr;
  }
  return &it->value;
}

std::optional<std::string_view> string_member(const rapidjson::Value* obj, const char* name) {
  const auto* v = member(obj, name);
  if (v == nullptr || !v->IsString()) {
    return std::nullopt;
  }
  return view(*v);
}

// cpu (milli) and memory (bytes) of a ResourceList object.
Resources resource_list(const rapidjson::Value* list) {
  Resources r;
  if (auto cpu = string_member(list, "cpu")) {
    r.cpu_milli = parse_milli_quantity(*cpu).value_or(0);
  }
  if (auto memory = string_member(list, "memory")) {
    r.memory_bytes = parse_unit_quantity(*memory).value_or(0);
  }
  return r;
}

Resources container_requests(const rapidjson::Value& c) {
  return resource_list(member(member(&c, "resources"), "requests"));
}

void add(Resources& into, const Resources& r) {
  into.cpu_milli += r.cpu_milli;
  into.memory_bytes += r.memory_bytes;
}

void take_max(Resources& into, const Resources& r) {
  into.cpu_milli = std::max(into.cpu_milli, r.cpu_milli);
  into.memory_bytes = std::max(into.memory_bytes, r.memory_bytes);
}

bool read_expressions(const rapidjson::Value* list, std::vector<FitExpression>& out) {
  if (list == nullptr) {
    return true;
  }
  if (!list->IsArray()) {
    return false;
  }
  for (const auto& e : list->GetArray()) {
    const auto key = string_member(&e, "key");
    const auto op = string_member(&e, "operator");
    if (!key || !op) {
      return false;
    }
    FitExpression x{std::string(*key), parse_fit_operator(*op), {}};
    if (const auto* values = member(&e, "values")) {
      if (!values->IsArray()) {
        return false;
      }
      for (const auto& v : values->GetArray()) {
        if (!v.IsString()) {
          return false;
        }
        x.values.emplace_back(view(v));
      }
    }
    out.push_back(std::move(x));
  }
  return true;
}

bool read_affinity(const rapidjson::Value* spec, PodRequirement& out) {
  const auto* required = member(member(member(spec, "affinity"), "nodeAffinity"),
                                "requiredDuringSchedulingIgnoredDuringExecution");
  if (required == nullptr) {
    return true;
  }
  if (!required->IsObject()) {
    return false;
  }
  out.has_required_affinity = true;
  const auto* terms = member(required, "nodeSelectorTerms");
  if (terms == nullptr) {
    return true;  // no term: matches no node
  }
  if (!terms->IsArray()) {
    return false;
  }
  for (const auto& t : terms->GetArray()) {
    FitTerm term;
    if (!t.IsObject() || !read_expressions(member(&t, "matchExpressions"), term.expressions) ||
        !read_expressions(member(&t, "matchFields"), term.fields)) {
      return false;
    }
    out.terms.push_back(std::move(term));
  }
  return true;
}

bool read_tolerations(const rapidjson::Value* spec, PodRequirement& out) {
  const auto* list = member(spec, "tolerations");
  if (list == nullptr) {
    return true;
  }
  if (!list->IsArray()) {
    return false;
  }
  for (const auto& t : list->GetArray()) {
    if (!t.IsObject()) {
      return false;
    }
    Toleration x;
    x.key = std::string(string_member(&t, "key").value_or(""));
    const auto op = string_member(&t, "operator").value_or("Equal");
    if (op != "Equal" && op != "Exists" && !op.empty()) {
      continue;  // an operator the scheduler does not know tolerates nothing
    }
    x.exists = op == "Exists";
    x.value = std::string(string_member(&t, "value").value_or(""));
    if (auto effect = string_member(&t, "effect"); effect && !effect->empty()) {
      x.effect = parse_taint_effect(*effect);
    }
    out.tolerations.push_back(std::move(x));
  }
  return true;
}

}  // namespace

Resources pod_requests(const rapidjson::Value& pod) {
  const auto* spec = member(&pod, "spec");
  Resources sum;
  if (const auto* containers = member(spec, "containers"); containers && containers->IsArray()) {
    for (const auto& c : containers->GetArray()) {
      add(sum, container_requests(c));
    }
  }
  // Init containers run one after another before the app containers; restartable ones
  // (sidecars) keep running, so each later step and the app containers add to them.
  Resources sidecars;
  Resources init_peak;
  if (const auto* inits = member(spec, "initContainers"); inits && inits->IsArray()) {
    for (const auto& c : inits->GetArray()) {
      const Resources r = container_requests(c);
      if (string_member(&c, "restartPolicy") == std::optional<std::string_view>("Always")) {
        add(sum, r);
        add(sidecars, r);
        take_max(init_peak, sidecars);
      } else {
        Resources step = r;
        add(step, sidecars);
        take_max(init_peak, step);
      }
    }
  }
  take_max(sum, init_peak);
  add(sum, resource_list(member(spec, "overhead")));
  sum.pods = 1;
  return sum;
}

PodRequirement requirement_from_pod_json(const rapidjson::Value& pod, bool* malformed) {
  PodRequirement out;
  bool ok = pod.IsObject();
  const auto* spec = member(&pod, "spec");
  if (const auto* selector = member(spec, "nodeSelector")) {
    if (!selector->IsObject()) {
      ok = false;
    } else {
      for (const auto& m : selector->GetObject()) {
        if (!m.value.IsString()) {
          ok = false;
          break;
        }
        out.node_selector.emplace(std::string(view(m.name)), std::string(view(m.value)));
      }
    }
  }
  ok = ok && read_affinity(spec, out) && read_tolerations(spec, out);
  if (malformed != nullptr) {
    *malformed = !ok;
  }
  return out;
}

std::vector<Taint> blocking_taints_from_node_json(const rapidjson::Value& node) {
  std::vector<Taint> out;
  const auto* taints = member(member(&node, "spec"), "taints");
  if (taints == nullptr || !taints->IsArray()) {
    return out;
  }
  for (const auto& t : taints->GetArray()) {
    const auto key = string_member(&t, "key");
    const auto effect = parse_taint_effect(string_member(&t, "effect").value_or(""));
    if (!key || (effect != TaintEffect::no_schedule && effect != TaintEffect::no_execute)) {
      continue;
    }
    out.push_back(
        {std::string(*key), std::string(string_member(&t, "value").value_or("")), effect});
  }
  return out;
}

Resources allocatable_from_node_json(const rapidjson::Value& node) {
  const auto* allocatable = member(member(&node, "status"), "allocatable");
  Resources r = resource_list(allocatable);
  if (auto pods = string_member(allocatable, "pods")) {
    r.pods = parse_unit_quantity(*pods).value_or(0);
  }
  return r;
}

}  // namespace joulie::policy
