// Test driver exposing the Kubernetes transport (src/kube/client) to integration tests.
//
//   kube_probe [--kubeconfig K] [--context C] [--token-reread 1s] [transport flags] COMMAND ...
//     get RESOURCE NAME            print the object (one JSON line)
//     list RESOURCE                print the List (one JSON line); -l / --field-selector / --limit
//     list-all RESOURCE --limit N  print "page <n> <items>" per page, then "item <name>" lines
//     create-from FILE RESOURCE    create the JSON object in FILE, print the answer
//     patch RESOURCE NAME JSON     merge-patch, print the answer
//     watch RESOURCE --count N     print {"type","name","resourceVersion"} per event, stop after N
//                                  (--stop-after D: set the stop flag after D, print "stopped")
//     loop-get RESOURCE NAME --interval 200ms --duration 5s
//                                  one line per attempt: "ok <resourceVersion>" or "error: ..."
//   Errors: "error: <describe()>" on stderr, exit 1. Usage errors: exit 2.
//   --print-metrics prints the metrics exposition after the command.
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cxxopts.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "joulie/common/duration.hpp"
#include "joulie/common/log.hpp"
#include "joulie/common/metrics.hpp"
#include "joulie/common/net.hpp"
#include "joulie/kube/client.hpp"
#include "joulie/kube/config.hpp"
#include "joulie/kube/json.hpp"
#include "joulie/kube/pagination.hpp"

namespace {

using joulie::Errc;
using joulie::Error;
namespace kube = joulie::kube;

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

void say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

int fail(const Error& e) {
  std::fprintf(stderr, "error: %s\n", e.describe().c_str());
  return 1;
}

int usage(const std::string& message) {
  std::fprintf(stderr, "usage error: %s\n", message.c_str());
  return 2;
}

const kube::Resource* resource_named(const std::string& name) {
  for (const kube::Resource* r :
       {&kube::resources::nodes, &kube::resources::pods, &kube::resources::events,
        &kube::resources::leases, &kube::resources::node_power_profiles,
        &kube::resources::telemetry_profiles}) {
    if (r->plural == name) {
      return r;
    }
  }
  return nullptr;
}

std::string meta(const rapidjson::Value& obj, const char* field) {
  if (!obj.IsObject() || !obj.HasMember("metadata") || !obj["metadata"].IsObject()) {
    return {};
  }
  const auto& m = obj["metadata"];
  auto it = m.FindMember(field);
  return it != m.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

const char* type_name(kube::WatchEventType t) {
  switch (t) {
    case kube::WatchEventType::added:
      return "ADDED";
    case kube::WatchEventType::modified:
      return "MODIFIED";
    case kube::WatchEventType::deleted:
      return "DELETED";
    case kube::WatchEventType::bookmark:
      return "BOOKMARK";
    case kube::WatchEventType::error:
      return "ERROR";
  }
  return "?";
}

std::chrono::milliseconds ms(joulie::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

int run(int argc, char** argv) {
  cxxopts::Options spec("kube_probe", "Kubernetes transport test driver");
  spec.add_options()("kubeconfig", "kubeconfig file(s)",
                     cxxopts::value<std::string>()->default_value(""))(
      "context", "context", cxxopts::value<std::string>()->default_value(""))(
      "sa-dir", "in-cluster service account dir", cxxopts::value<std::string>()->default_value(""))(
      "token-reread", "token file re-read period",
      cxxopts::value<std::string>()->default_value("60s"))(
      "qps", "client QPS", cxxopts::value<double>()->default_value("50"))(
      "burst", "client burst", cxxopts::value<int>()->default_value("100"))(
      "max-attempts", "attempts per request", cxxopts::value<int>()->default_value("5"))(
      "initial-backoff", "first retry delay",
      cxxopts::value<std::string>()->default_value("100ms"))(
      "request-timeout", "per-request socket timeout",
      cxxopts::value<std::string>()->default_value("30s"))(
      "idle-timeout", "watch read-idle timeout",
      cxxopts::value<std::string>()->default_value("3m"))(
      "server-timeout", "watch timeoutSeconds", cxxopts::value<int>()->default_value("300"))(
      "resolve-timeout", "name lookup budget", cxxopts::value<std::string>()->default_value("5s"))(
      "n,namespace", "namespace", cxxopts::value<std::string>()->default_value(""))(
      "l,selector", "label selector", cxxopts::value<std::string>()->default_value(""))(
      "field-selector", "field selector", cxxopts::value<std::string>()->default_value(""))(
      "limit", "page size", cxxopts::value<int64_t>()->default_value("0"))(
      "resource-version", "watch from", cxxopts::value<std::string>()->default_value(""))(
      "count", "watch: events to print", cxxopts::value<int>()->default_value("0"))(
      "stop-after", "watch: set stop after", cxxopts::value<std::string>()->default_value(""))(
      "interval", "loop-get interval", cxxopts::value<std::string>()->default_value("200ms"))(
      "duration", "loop-get duration", cxxopts::value<std::string>()->default_value("5s"))(
      "print-metrics", "print metrics at the end")("args", "command and arguments",
                                                   cxxopts::value<std::vector<std::string>>());
  spec.parse_positional({"args"});
  cxxopts::ParseResult args;
  try {
    args = spec.parse(argc, argv);
  } catch (const std::exception& e) {
    return usage(e.what());
  }
  const auto positional =
      args.count("args") ? args["args"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (positional.empty()) {
    return usage("no command");
  }
  auto duration_flag = [&](const char* name) -> std::optional<std::chrono::milliseconds> {
    auto d = joulie::parse_duration(args[name].as<std::string>());
    if (!d.ok()) {
      return std::nullopt;
    }
    return ms(*d);
  };
  for (const char* name : {"token-reread", "initial-backoff", "request-timeout", "idle-timeout",
                           "interval", "duration", "resolve-timeout"}) {
    if (!duration_flag(name)) {
      return usage(fmt::format("--{}: bad duration", name));
    }
  }
  joulie::net::set_resolve_timeout(*duration_flag("resolve-timeout"));

  auto sources = kube::ConfigSources::from_environment(args["kubeconfig"].as<std::string>(),
                                                       args["context"].as<std::string>());
  if (!args["sa-dir"].as<std::string>().empty()) {
    sources.service_account_dir = args["sa-dir"].as<std::string>();
  }
  auto config = kube::load_config(sources);
  if (!config.ok()) {
    return fail(config.error());
  }
  joulie::metrics::Registry registry;
  kube::ClientOptions options;
  options.qps = args["qps"].as<double>();
  options.burst = args["burst"].as<int>();
  options.retry.max_attempts = args["max-attempts"].as<int>();
  options.retry.initial_backoff = *duration_flag("initial-backoff");
  options.request_timeout = *duration_flag("request-timeout");
  options.token_reread_period = *duration_flag("token-reread");
  options.metrics = &registry;
  auto created = kube::Client::create(std::move(config.value()), options);
  if (!created.ok()) {
    return fail(created.error());
  }
  kube::Client& client = *created.value();

  const std::string& command = positional[0];
  auto need = [&](size_t n) { return positional.size() >= n + 1; };
  const std::string ns = args["namespace"].as<std::string>();
  const kube::Resource* resource = nullptr;
  const size_t resource_index = command == "create-from" ? 2 : 1;
  if (positional.size() > resource_index) {
    resource = resource_named(positional[resource_index]);
    if (resource == nullptr) {
      return usage("unknown resource " + positional[resource_index]);
    }
  }
  int rc = 0;
  if (command == "get" && need(2)) {
    auto r = client.get(*resource, ns, positional[2]);
    rc = r.ok() ? (say(to_json(*r)), 0) : fail(r.error());
  } else if (command == "list" && need(1)) {
    kube::ListOptions lo;
    lo.label_selector = args["selector"].as<std::string>();
    lo.field_selector = args["field-selector"].as<std::string>();
    lo.limit = args["limit"].as<int64_t>();
    auto r = client.list(*resource, ns, lo);
    rc = r.ok() ? (say(to_json(*r)), 0) : fail(r.error());
  } else if (command == "list-all" && need(1)) {
    kube::ListOptions lo;
    lo.label_selector = args["selector"].as<std::string>();
    lo.limit = args["limit"].as<int64_t>();
    int page_no = 0;
    auto s = kube::list_all(client, *resource, ns, lo, [&](rapidjson::Document&& page) {
      const auto& items = page["items"];
      say(fmt::format("page {} {}", ++page_no, items.IsArray() ? items.Size() : 0));
      if (items.IsArray()) {
        for (const auto& item : items.GetArray()) {
          say("item " + meta(item, "name"));
        }
      }
      return joulie::Status::success();
    });
    rc = s.ok() ? 0 : fail(s.error());
  } else if (command == "create-from" && need(2)) {
    std::ifstream in(positional[1]);
    std::stringstream text;
    text << in.rdbuf();
    auto doc = kube::parse_object(text.str());
    if (!doc.ok()) {
      return usage("create-from: file is not a JSON object");
    }
    auto r = client.create(*resource, ns, doc.value());
    rc = r.ok() ? (say(to_json(*r)), 0) : fail(r.error());
  } else if (command == "patch" && need(3)) {
    auto r = client.merge_patch(*resource, ns, positional[2],
                                positional.size() > 3 ? positional[3] : "{}");
    rc = r.ok() ? (say(to_json(*r)), 0) : fail(r.error());
  } else if (command == "watch" && need(1)) {
    kube::WatchOptions wo;
    wo.label_selector = args["selector"].as<std::string>();
    wo.field_selector = args["field-selector"].as<std::string>();
    wo.resource_version = args["resource-version"].as<std::string>();
    wo.read_idle_timeout = *duration_flag("idle-timeout");
    wo.server_timeout = std::chrono::seconds(args["server-timeout"].as<int>());
    const int count = args["count"].as<int>();
    std::atomic<bool> stop{false};
    std::thread stopper;
    const std::string stop_after = args["stop-after"].as<std::string>();
    if (!stop_after.empty()) {
      auto d = joulie::parse_duration(stop_after);
      if (!d.ok()) {
        return usage("--stop-after: bad duration");
      }
      stopper = std::thread([&stop, d = *d] {
        std::this_thread::sleep_for(d);
        stop = true;
      });
    }
    int seen = 0;
    const auto started = std::chrono::steady_clock::now();
    auto s = client.watch(
        *resource, ns, wo,
        [&](kube::WatchEvent&& e) {
          say(fmt::format(R"({{"type":"{}","name":"{}","resourceVersion":"{}"}})",
                          type_name(e.type), meta(e.object, "name"),
                          meta(e.object, "resourceVersion")));
          return count <= 0 || ++seen < count;
        },
        stop);
    if (stopper.joinable()) {
      stopper.join();
    }
    if (stop.load() && s.ok()) {
      say(fmt::format("stopped after {} ms",
                      ms(std::chrono::steady_clock::now() - started).count()));
    }
    rc = s.ok() ? 0 : fail(s.error());
  } else if (command == "loop-get" && need(2)) {
    const auto interval = *duration_flag("interval");
    const auto end = std::chrono::steady_clock::now() + *duration_flag("duration");
    while (std::chrono::steady_clock::now() < end) {
      auto r = client.get(*resource, ns, positional[2]);
      say(r.ok() ? "ok " + meta(*r, "resourceVersion") : "error: " + r.error().describe());
      std::this_thread::sleep_for(interval);
    }
  } else {
    return usage("unknown command or missing arguments: " + command);
  }
  if (args.count("print-metrics")) {
    say("--- metrics");
    std::fputs(registry.expose().c_str(), stdout);
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  return run(argc, argv);
}
