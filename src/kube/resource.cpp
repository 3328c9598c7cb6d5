// Resource paths and the resources Joulie uses.
#include <string>

#include "joulie/kube/api.hpp"

namespace joulie::kube {

std::string Resource::path(std::string_view ns, std::string_view name,
                           std::string_view subresource) const {
  std::string out = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) {
    out += "/namespaces/";
    out += ns;
  }
  out += "/";
  out += plural;
  if (!name.empty()) {
    out += "/";
    out += name;
    if (!subresource.empty()) {
      out += "/";
      out += subresource;
    }
  }
  return out;
}

namespace resources {
const Resource nodes{"", "v1", "nodes", "Node", false};
const Resource pods{"", "v1", "pods", "Pod", true};
const Resource events{"", "v1", "events", "Event", true};
const Resource leases{"coordination.k8s.io", "v1", "leases", "Lease", true};
const Resource config_maps{"", "v1", "configmaps", "ConfigMap", true};
const Resource node_power_profiles{"joulie.io", "v1alpha1", "nodepowerprofiles", "NodePowerProfile",
                                   false};
const Resource telemetry_profiles{"joulie.io", "v1alpha1", "telemetryprofiles", "TelemetryProfile",
                                  false};
}  // namespace resources

}  // namespace joulie::kube
