// `kubectl joulie`: dispatch, the Kubernetes client, and the status / pause / resume commands.
// plan and explain (the operator's own dry-run pass, in-process) live in plan.cpp.
#include "joulie/cli/plugin.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "commands.hpp"
#include "joulie/api/names.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/common/http_client.hpp"
#include "joulie/common/log.hpp"
#include "joulie/common/strings.hpp"
#include "joulie/config/cli.hpp"
#include "joulie/kube/client.hpp"
#include "joulie/kube/config.hpp"
#include "joulie/kube/pagination.hpp"
#include "joulie/signals/promql.hpp"
#include "json_util.hpp"
#include "options.hpp"
#include "render.hpp"
#include "status.hpp"

namespace joulie::cli {

bool is_plugin_program(std::string_view argv0) {
  auto slash = argv0.rfind('/');
  std::string_view base = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
  return base == "kubectl-joulie";
}

void print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

int fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return config::kExitRuntimeError;
}

Result<std::unique_ptr<kube::Client>> connect(const Options& o) {
  auto cluster =
      kube::load_config(kube::ConfigSources::from_environment(join(o.kubeconfig, ':'), o.context));
  if (!cluster.ok()) {
    return cluster.error();
  }
  kube::ClientOptions options;
  options.user_agent = "kubectl-joulie";
  options.retry.max_total = std::chrono::seconds(10);
  return kube::Client::create(std::move(*cluster), options);
}

Result<rapidjson::Document> list_everything(kube::Api& api, const kube::Resource& r,
                                            const std::string& label_selector) {
  rapidjson::Document all(rapidjson::kObjectType);
  rapidjson::Value out(rapidjson::kArrayType);
  kube::ListOptions options;
  options.label_selector = label_selector;
  options.limit = 500;
  Status s = kube::list_all(api, r, "", options, [&](rapidjson::Document&& page) {
    if (const rapidjson::Value* items = field(&page, "items"); items && items->IsArray()) {
      for (auto& item : items->GetArray()) {
        out.PushBack(rapidjson::Value(item, all.GetAllocator()), all.GetAllocator());
      }
    }
    return Status::success();
  });
  if (!s.ok()) {
    return s.error();
  }
  all.AddMember("items", out, all.GetAllocator());
  return all;
}

// An object that may be absent: nullopt when it does not exist, an error for anything else.
Result<std::optional<rapidjson::Document>> get_optional(kube::Api& api, const kube::Resource& r,
                                                        const std::string& ns,
                                                        std::string_view name) {
  auto got = api.get(r, ns, name);
  if (got.ok()) {
    return std::optional<rapidjson::Document>(std::move(*got));
  }
  if (got.code() == Errc::not_found) {
    return std::optional<rapidjson::Document>();
  }
  return got.error();
}

Result<StatusData> read_status(kube::Api& api, const Options& o) {
  StatusData d;
  auto nodes = list_everything(api, kube::resources::nodes, "");
  if (!nodes) return Error(nodes.code(), "listing nodes: " + nodes.error().message);
  auto npps = list_everything(
      api, kube::resources::node_power_profiles,
      std::string(api::kManagedByLabel) + "=" + std::string(api::kManagedByOperator));
  if (!npps) return Error(npps.code(), "listing nodepowerprofiles: " + npps.error().message);
  auto pods = list_everything(api, kube::resources::pods, "");
  if (!pods) return Error(pods.code(), "listing pods: " + pods.error().message);
  auto lease = get_optional(api, kube::resources::leases, o.ns, o.lease);
  if (!lease) return Error(lease.code(), "reading the operator's Lease: " + lease.error().message);
  auto control = get_optional(api, kube::resources::config_maps, o.ns, api::kControlConfigMap);
  if (!control) {
    return Error(control.code(), "reading the pause switch: " + control.error().message);
  }
  d.nodes = std::move(*nodes);
  d.npps = std::move(*npps);
  d.pods = std::move(*pods);
  d.lease = std::move(*lease);
  d.control = std::move(*control);
  return d;
}

StatusView view_of(const StatusData& d) {
  StatusInputs in;
  in.nodes = &d.nodes;
  in.npps = &d.npps;
  in.pods = &d.pods;
  in.lease = d.lease ? &*d.lease : nullptr;
  in.control = d.control ? &*d.control : nullptr;
  return build_status(in);
}

namespace {

// The measured power per node from the Prometheus the user named; a failure is shown in the
// summary, not fatal (the rest of status stands without it).
void read_measured_power(const Options& o, StatusView& v) {
  v.power_source = o.prometheus;
  HttpClientPool pool(1);
  signals::PromClientOptions options;
  options.config.endpoint = o.prometheus;
  options.config.ca_file = o.prometheus_ca_file;
  options.config.bearer_token_file = o.prometheus_token_file;
  options.config.timeout = std::chrono::seconds(5);
  signals::PromClient client(pool, options);
  auto reply = client.query(kMeasuredPowerQuery);
  if (!reply) {
    v.power_error = reply.error().message;
    return;
  }
  std::vector<std::pair<std::string, double>> watts;
  for (const auto& sample : reply->samples) {
    if (auto it = sample.labels.find("node"); it != sample.labels.end()) {
      watts.emplace_back(it->second, sample.value);
    }
  }
  set_measured_power(v, watts);
}

int cmd_status(kube::Api& api, const Options& o) {
  auto data = read_status(api, o);
  if (!data) return fail(data.error().message);
  StatusView view = view_of(*data);
  if (!o.prometheus.empty()) read_measured_power(o, view);
  print(render_status(view, o.output, std::chrono::system_clock::now()));
  return config::kExitOk;
}

std::string who() {
  const char* user = std::getenv("USER");
  return user != nullptr && *user != '\0' ? user : "kubectl-joulie";
}

// Writes data into the joulie-control ConfigMap, creating it when missing.
Status write_control(kube::Api& api, const Options& o,
                     const std::vector<std::pair<std::string, std::string>>& data) {
  rapidjson::Document patch(rapidjson::kObjectType);
  auto& a = patch.GetAllocator();
  rapidjson::Value values(rapidjson::kObjectType);
  for (const auto& [k, v] : data) {
    values.AddMember(rapidjson::Value(k.c_str(), a), rapidjson::Value(v.c_str(), a), a);
  }
  patch.AddMember("data", values, a);
  auto existing = get_optional(api, kube::resources::config_maps, o.ns, api::kControlConfigMap);
  if (!existing) return existing.error();
  if (*existing) {
    auto r =
        api.merge_patch(kube::resources::config_maps, o.ns, api::kControlConfigMap, to_json(patch));
    return r.ok() ? Status::success() : Status(r.error());
  }
  rapidjson::Value metadata(rapidjson::kObjectType);
  metadata.AddMember("name", rapidjson::Value(std::string(api::kControlConfigMap).c_str(), a), a);
  metadata.AddMember("namespace", rapidjson::Value(o.ns.c_str(), a), a);
  rapidjson::Value labels(rapidjson::kObjectType);
  labels.AddMember("app.kubernetes.io/part-of", "joulie", a);
  metadata.AddMember("labels", labels, a);
  patch.AddMember("apiVersion", "v1", a);
  patch.AddMember("kind", "ConfigMap", a);
  patch.AddMember("metadata", metadata, a);
  auto r = api.create(kube::resources::config_maps, o.ns, patch);
  return r.ok() ? Status::success() : Status(r.error());
}

int cmd_pause(kube::Api& api, const Options& o, bool pause) {
  const auto started = std::chrono::steady_clock::now();
  const std::string now = format_rfc3339(std::chrono::system_clock::now(), false);
  std::vector<std::pair<std::string, std::string>> data;
  if (pause) {
    data = {{"paused", "true"}, {"pausedBy", who()}, {"pausedAt", now}, {"reason", o.reason}};
  } else {
    data = {{"paused", "false"}, {"resumedBy", who()}, {"resumedAt", now}};
  }
  if (Status s = write_control(api, o, data); !s.ok()) {
    return fail(fmt::format("cannot write ConfigMap {}/{}: {}", o.ns, api::kControlConfigMap,
                            s.error().message));
  }
  print(fmt::format("configmap/{} {} in namespace {}\n", api::kControlConfigMap,
                    pause ? "paused" : "resumed", o.ns));
  if (!o.wait) return config::kExitOk;
  // Pause: done when every managed node's NodePowerProfile asks for performance (its cap lifted).
  // Resume: done when the operator has acted on it (its published state says not paused).
  const auto deadline = started + o.timeout;
  while (true) {
    auto data_now = read_status(api, o);
    if (data_now) {
      StatusView v = view_of(*data_now);
      std::size_t performance = 0;
      for (const auto& n : v.nodes) performance += n.profile == api::kProfilePerformance ? 1 : 0;
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (pause && performance == v.nodes.size()) {
        print(fmt::format("every cap lifted: {}/{} managed nodes performance after {:.1f}s\n",
                          performance, v.nodes.size(), seconds));
        return config::kExitOk;
      }
      if (!pause && (!v.published || !v.operator_paused)) {
        print(fmt::format("the policy decides again ({:.1f}s)\n", seconds));
        return config::kExitOk;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail(
          fmt::format("the operator has not acted within {}: is it running? "
                      "(kubectl joulie status)",
                      format_duration(o.timeout)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling the API, bounded
  }
}

}  // namespace

int run_plugin(const std::vector<std::string>& args) {
  auto options = parse_options(args);
  if (!options) {
    std::fprintf(stderr, "error: %s\nSee 'kubectl joulie --help' for usage.\n",
                 options.error().message.c_str());
    return config::kExitUsage;
  }
  if (options->help) {
    print(usage());
    return config::kExitOk;
  }
  // Library log lines (client retries) only when something is wrong, and never on stdout.
  log::configure(log::Format::text, log::Level::warn);
  auto client = connect(*options);
  if (!client) return fail(client.error().message);
  kube::Api& api = **client;
  const std::string& c = options->command;
  if (c == "status") return cmd_status(api, *options);
  if (c == "pause") return cmd_pause(api, *options, true);
  if (c == "resume") return cmd_pause(api, *options, false);
  if (c == "plan") return cmd_plan(api, *options);
  return cmd_explain(api, *options);
}

}  // namespace joulie::cli
