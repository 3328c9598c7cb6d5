// Kubeconfig loading and merging (kubectl semantics) with yaml-cpp. yaml-cpp throws; every
// exception is caught here and becomes Errc::parse naming the file and line.
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "base64.hpp"
#include "joulie/kube/config.hpp"
#include "joulie/kube/file_util.hpp"

namespace joulie::kube {

namespace {

// A named map entry and the directory of the file that defined it (for relative paths).
struct Entry {
  YAML::Node node;
  std::string file;
  std::string dir;
};

struct Merged {
  std::map<std::string, Entry> clusters;
  std::map<std::string, Entry> users;
  std::map<std::string, Entry> contexts;
  std::string current_context;
  std::vector<std::string> files;
};

std::vector<std::string> split_paths(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t colon = list.find(':', start);
    const size_t end = colon == std::string::npos ? list.size() : colon;
    if (end > start) {
      out.push_back(list.substr(start, end - start));
    }
    if (colon == std::string::npos) {
      break;
    }
    start = colon + 1;
  }
  return out;
}

Error yaml_error(const std::string& file, const YAML::Exception& e) {
  if (e.mark.is_null()) {
    return Error(Errc::parse, fmt::format("{}: invalid kubeconfig: {}", file, e.msg));
  }
  return Error(Errc::parse,
               fmt::format("{}:{}: invalid kubeconfig: {}", file, e.mark.line + 1, e.msg));
}

std::string scalar(const YAML::Node& node, const char* key) {
  const YAML::Node v = node[key];
  if (!v || v.IsNull()) {
    return {};
  }
  return v.as<std::string>();  // throws TypedBadConversion on a map/sequence (caught above)
}

bool boolean(const YAML::Node& node, const char* key) {
  const YAML::Node v = node[key];
  if (!v || v.IsNull()) {
    return false;
  }
  return v.as<bool>();
}

// clusters: [{name, cluster: {...}}] → name → entry; first definition wins (also within a file).
void merge_list(const YAML::Node& root, const char* list_key, const char* item_key,
                const std::string& file, std::map<std::string, Entry>& into) {
  const YAML::Node list = root[list_key];
  if (!list || list.IsNull()) {
    return;
  }
  if (!list.IsSequence()) {
    throw YAML::RepresentationException(list.Mark(), fmt::format("'{}' must be a list", list_key));
  }
  for (const YAML::Node& item : list) {
    if (!item.IsMap()) {
      throw YAML::RepresentationException(item.Mark(),
                                          fmt::format("'{}' entries must be maps", list_key));
    }
    const std::string name = scalar(item, "name");
    if (name.empty()) {
      throw YAML::RepresentationException(item.Mark(),
                                          fmt::format("'{}' entry without a name", list_key));
    }
    YAML::Node body = item[item_key];
    if (body && !body.IsNull() && !body.IsMap()) {
      throw YAML::RepresentationException(body.Mark(), fmt::format("'{}' must be a map", item_key));
    }
    into.try_emplace(name,
                     Entry{body ? body : YAML::Node(YAML::NodeType::Map), file, dir_of(file)});
  }
}

Status merge_file(const std::string& file, const std::string& text, Merged& merged) {
  try {
    const YAML::Node root = YAML::Load(text);
    if (root.IsNull()) {
      return Status::success();  // an empty file contributes nothing, like kubectl
    }
    if (!root.IsMap()) {
      return Error(Errc::parse, fmt::format("{}: invalid kubeconfig: not a YAML map", file));
    }
    merge_list(root, "clusters", "cluster", file, merged.clusters);
    merge_list(root, "users", "user", file, merged.users);
    merge_list(root, "contexts", "context", file, merged.contexts);
    if (merged.current_context.empty()) {
      merged.current_context = scalar(root, "current-context");
    }
  } catch (const YAML::Exception& e) {
    return yaml_error(file, e);
  }
  return Status::success();
}

// `<field>-data` (base64) wins over `<field>` (a path relative to the defining file).
Result<std::string> pem_field(const Entry& entry, const std::string& what, const char* path_key,
                              const char* data_key) {
  const std::string data = scalar(entry.node, data_key);
  if (!data.empty()) {
    auto decoded = base64_decode(data);
    if (!decoded) {
      return Error(Errc::parse,
                   fmt::format("{}: {}.{} is not valid base64", entry.file, what, data_key));
    }
    return std::move(*decoded);
  }
  const std::string path = scalar(entry.node, path_key);
  if (path.empty()) {
    return std::string();
  }
  return read_small_file(resolve_path(entry.dir, path));
}

Result<ExecConfig> exec_config(const Entry& user, const std::string& user_name) {
  const YAML::Node exec = user.node["exec"];
  ExecConfig out;
  out.api_version = scalar(exec, "apiVersion");
  out.command = scalar(exec, "command");
  if (out.command.empty()) {
    return Error(
        Errc::invalid_argument,
        fmt::format("{}: user \"{}\": exec plugin without a command", user.file, user_name));
  }
  if (out.api_version != "client.authentication.k8s.io/v1" &&
      out.api_version != "client.authentication.k8s.io/v1beta1") {
    return Error(Errc::unsupported,
                 fmt::format("{}: user \"{}\": exec plugin apiVersion \"{}\" is not supported "
                             "(client.authentication.k8s.io/v1 or v1beta1)",
                             user.file, user_name, out.api_version));
  }
  if (out.command.find('/') != std::string::npos) {
    out.command = resolve_path(user.dir, out.command);
  }
  if (const YAML::Node args = exec["args"]; args && args.IsSequence()) {
    for (const YAML::Node& a : args) {
      out.args.push_back(a.as<std::string>());
    }
  }
  if (const YAML::Node env = exec["env"]; env && env.IsSequence()) {
    for (const YAML::Node& e : env) {
      out.env.emplace_back(scalar(e, "name"), scalar(e, "value"));
    }
  }
  out.provide_cluster_info = boolean(exec, "provideClusterInfo");
  out.interactive_mode = scalar(exec, "interactiveMode");
  return out;
}

// `current_file` tracks the file whose entry is being read, for error messages.
Result<ClusterConfig> resolve(const Merged& merged, const std::string& wanted_context,
                              std::string& current_file) {
  const std::string files = fmt::format("{}", fmt::join(merged.files, ":"));
  const std::string context_name = wanted_context.empty() ? merged.current_context : wanted_context;
  if (context_name.empty()) {
    return Error(
        Errc::invalid_argument,
        fmt::format("kubeconfig {}: no current-context set and no --context given", files));
  }
  auto ctx_it = merged.contexts.find(context_name);
  if (ctx_it == merged.contexts.end()) {
    return Error(Errc::invalid_argument,
                 fmt::format("kubeconfig {}: context \"{}\" not found", files, context_name));
  }
  const Entry& context = ctx_it->second;
  current_file = context.file;
  const std::string cluster_name = scalar(context.node, "cluster");
  auto cluster_it = merged.clusters.find(cluster_name);
  if (cluster_name.empty() || cluster_it == merged.clusters.end()) {
    return Error(Errc::invalid_argument,
                 fmt::format("kubeconfig {}: cluster \"{}\" (of context \"{}\") not found", files,
                             cluster_name, context_name));
  }
  const Entry& cluster = cluster_it->second;
  current_file = cluster.file;

  ClusterConfig out;
  out.source = fmt::format("kubeconfig {} (context {})", files, context_name);
  out.server = scalar(cluster.node, "server");
  while (!out.server.empty() && out.server.back() == '/') {
    out.server.pop_back();
  }
  if (out.server.empty()) {
    return Error(Errc::invalid_argument,
                 fmt::format("{}: cluster \"{}\" has no server", cluster.file, cluster_name));
  }
  if (out.server.rfind("https://", 0) != 0 && out.server.rfind("http://", 0) != 0) {
    return Error(
        Errc::invalid_argument,
        fmt::format("{}: cluster \"{}\": server \"{}\" must start with https:// or http://",
                    cluster.file, cluster_name, out.server));
  }
  out.insecure_skip_tls_verify = boolean(cluster.node, "insecure-skip-tls-verify");
  out.tls_server_name = scalar(cluster.node, "tls-server-name");
  auto ca = pem_field(cluster, "cluster \"" + cluster_name + "\"", "certificate-authority",
                      "certificate-authority-data");
  if (!ca.ok()) {
    return std::move(ca).error();
  }
  out.ca_pem = std::move(ca.value());
  if (const std::string ns = scalar(context.node, "namespace"); !ns.empty()) {
    out.default_namespace = ns;
  }

  const std::string user_name = scalar(context.node, "user");
  if (user_name.empty()) {
    return out;  // anonymous
  }
  auto user_it = merged.users.find(user_name);
  if (user_it == merged.users.end()) {
    return Error(Errc::invalid_argument,
                 fmt::format("kubeconfig {}: user \"{}\" (of context \"{}\") not found", files,
                             user_name, context_name));
  }
  const Entry& user = user_it->second;
  current_file = user.file;
  const std::string what = "user \"" + user_name + "\"";
  auto cert = pem_field(user, what, "client-certificate", "client-certificate-data");
  if (!cert.ok()) {
    return std::move(cert).error();
  }
  auto key = pem_field(user, what, "client-key", "client-key-data");
  if (!key.ok()) {
    return std::move(key).error();
  }
  if (cert->empty() != key->empty()) {
    return Error(
        Errc::invalid_argument,
        fmt::format("{}: {} has a client certificate or key but not both", user.file, what));
  }
  out.client_cert_pem = std::move(cert.value());
  out.client_key_pem = std::move(key.value());
  out.token = scalar(user.node, "token");
  if (const std::string token_file = scalar(user.node, "tokenFile"); !token_file.empty()) {
    out.token_file = resolve_path(user.dir, token_file);
  }
  if (const YAML::Node exec = user.node["exec"]; exec && !exec.IsNull()) {
    auto e = exec_config(user, user_name);
    if (!e.ok()) {
      return std::move(e).error();
    }
    out.exec = std::move(e.value());
  }
  if (const YAML::Node ap = user.node["auth-provider"]; ap && !ap.IsNull()) {
    return Error(Errc::unsupported,
                 fmt::format("{}: {} uses auth-provider, which is not supported (use exec)",
                             user.file, what));
  }
  return out;
}

}  // namespace

Result<ClusterConfig> load_kubeconfig(const std::string& paths, const std::string& context) {
  const std::vector<std::string> files = split_paths(paths);
  if (files.empty()) {
    return Error(Errc::invalid_argument, "no kubeconfig file given");
  }
  Merged merged;
  for (const std::string& file : files) {
    if (files.size() > 1 && !file_exists(file)) {
      continue;  // kubectl ignores missing entries of a KUBECONFIG list
    }
    auto text = read_small_file(file);
    if (!text.ok()) {
      return std::move(text).error();
    }
    merged.files.push_back(file);
    if (Status s = merge_file(file, text.value(), merged); !s.ok()) {
      return s.error();
    }
  }
  if (merged.files.empty()) {
    return Error(Errc::io, fmt::format("none of the kubeconfig files exists: {}", paths));
  }
  std::string current_file = merged.files.front();
  try {
    return resolve(merged, context, current_file);
  } catch (const YAML::Exception& e) {
    // Field-level type errors (a map where a string belongs) surface while resolving.
    return yaml_error(current_file, e);
  }
}

}  // namespace joulie::kube
