// Test driver for the informer and leader election against a real (or the test) API server.
//
//   informer_probe --kubeconfig K informer [--resource nodes|pods] --dump FILE
//       Runs an informer. On SIGUSR1 it writes its cache to FILE (atomically: FILE.tmp, then
//       rename): a status line {"status":{...}} then one sorted JSON line per object.
//   informer_probe --kubeconfig K leader --identity ID --heartbeat-node NODE [durations]
//       Runs leader election and prints "LEADING <epoch ms> <id>", "HEARTBEAT <epoch ms> <id>
//       <seq>" and "STOPPED <epoch ms> <id>" lines; while leading it merge-patches the node's
//       annotation joulie.io/probe-heartbeat = "<id>/<seq>" every --heartbeat-interval. Losing the
//       lease exits like the operator does; SIGTERM stops cleanly (releasing the lease).
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cxxopts.hpp>
#include <fstream>
#include <thread>

#include "joulie/common/duration.hpp"
#include "joulie/common/log.hpp"
#include "joulie/common/metrics.hpp"
#include "joulie/kube/client.hpp"
#include "joulie/kube/config.hpp"
#include "joulie/kube/informer.hpp"
#include "joulie/kube/leader.hpp"

namespace {

using namespace std::chrono_literals;
using joulie::kube::InternedString;

volatile std::sig_atomic_t g_dump_requested = 0;
volatile std::sig_atomic_t g_terminate = 0;

void on_signal(int sig) {
  if (sig == SIGUSR1) {
    g_dump_requested = 1;
  } else {
    g_terminate = 1;
  }
}

int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

// What the informer keeps: labels for nodes; node name and phase for pods.
struct Projection {
  std::vector<std::pair<std::string, std::string>> labels;
  InternedString node;
  std::string phase;
  bool operator==(const Projection&) const = default;
};

std::string str_at(const rapidjson::Value& v, const char* a, const char* b) {
  if (!v.IsObject() || !v.HasMember(a) || !v[a].IsObject()) {
    return {};
  }
  const auto& inner = v[a];
  auto it = inner.FindMember(b);
  return it != inner.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

joulie::Result<joulie::Duration> duration_arg(const cxxopts::ParseResult& args, const char* name) {
  return joulie::parse_duration(args[name].as<std::string>());
}

std::chrono::milliseconds ms(joulie::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

int run_informer(joulie::kube::Api& api, const cxxopts::ParseResult& args) {
  std::string resource = args["resource"].as<std::string>();
  std::string dump_path = args["dump"].as<std::string>();
  joulie::kube::InformerOptions options;
  options.resource =
      resource == "pods" ? joulie::kube::resources::pods : joulie::kube::resources::nodes;
  options.label_selector = args["label-selector"].as<std::string>();
  options.page_size = args["page-size"].as<int64_t>();
  auto idle = duration_arg(args, "read-idle-timeout");
  if (!idle) {
    std::fprintf(stderr, "informer_probe: %s\n", idle.error().message.c_str());
    return 2;
  }
  options.read_idle_timeout = ms(*idle);
  auto backoff_max = duration_arg(args, "backoff-max");
  if (!backoff_max) {
    std::fprintf(stderr, "informer_probe: %s\n", backoff_max.error().message.c_str());
    return 2;
  }
  options.backoff.max = ms(*backoff_max);
  joulie::metrics::Registry registry;
  options.metrics = &registry;
  joulie::kube::StringInterner interner;
  bool pods = resource == "pods";
  joulie::kube::Informer<Projection> informer(
      api, options, [&](const rapidjson::Value& object) -> std::optional<Projection> {
        Projection p;
        if (pods) {
          p.node = interner.intern(str_at(object, "spec", "nodeName"));
          p.phase = str_at(object, "status", "phase");
          return p;
        }
        const auto& md = object["metadata"];
        if (md.HasMember("labels") && md["labels"].IsObject()) {
          for (const auto& m : md["labels"].GetObject()) {
            if (m.value.IsString()) {
              p.labels.emplace_back(m.name.GetString(), m.value.GetString());
            }
          }
          std::sort(p.labels.begin(), p.labels.end());
        }
        return p;
      });
  informer.start();
  say("READY");  // signal handlers are installed: SIGUSR1 is safe from now on

  uint64_t generation = 0;
  while (!g_terminate) {
    if (g_dump_requested) {
      g_dump_requested = 0;
      ++generation;
      rapidjson::StringBuffer out;
      {
        rapidjson::Writer<rapidjson::StringBuffer> w(out);
        w.StartObject();
        w.Key("status");
        w.StartObject();
        w.Key("generation");
        w.Uint64(generation);
        w.Key("synced");
        w.Bool(informer.synced());
        w.Key("healthy");
        w.Bool(informer.healthy());
        w.Key("restarts");
        w.Uint64(informer.watch_restarts());
        w.Key("relists");
        w.Uint64(informer.relists());
        w.Key("resourceVersion");
        w.String(informer.resource_version());
        w.Key("size");
        w.Uint64(informer.size());
        w.EndObject();
        w.EndObject();
      }
      std::string text(out.GetString(), out.GetSize());
      text += "\n";
      for (const auto& [key, p] : informer.snapshot()) {
        rapidjson::StringBuffer line;
        rapidjson::Writer<rapidjson::StringBuffer> w(line);
        w.StartObject();
        w.Key("key");
        w.String(key);
        if (pods) {
          w.Key("node");
          w.String(p.node.str());
          w.Key("phase");
          w.String(p.phase);
        } else {
          w.Key("labels");
          w.StartObject();
          for (const auto& [k, v] : p.labels) {
            w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
            w.String(v);
          }
          w.EndObject();
        }
        w.EndObject();
        text.append(line.GetString(), line.GetSize()).append("\n");
      }
      std::string tmp = dump_path + ".tmp";
      {
        std::ofstream file(tmp, std::ios::trunc);
        file << text;
      }
      std::rename(tmp.c_str(), dump_path.c_str());
    }
    std::this_thread::sleep_for(20ms);
  }
  informer.stop();
  return 0;
}

int run_leader(joulie::kube::Api& api, const cxxopts::ParseResult& args) {
  joulie::kube::LeaderElectionOptions options;
  options.lease_resource = joulie::kube::resources::leases;
  options.ns = args["lease-namespace"].as<std::string>();
  options.name = args["lease-name"].as<std::string>();
  options.identity = args["identity"].as<std::string>();
  auto lease = duration_arg(args, "lease-duration");
  auto renew = duration_arg(args, "renew-deadline");
  auto retry = duration_arg(args, "retry-period");
  auto beat = duration_arg(args, "heartbeat-interval");
  for (const auto* d : {&lease, &renew, &retry, &beat}) {
    if (!d->ok()) {
      std::fprintf(stderr, "informer_probe: %s\n", d->error().message.c_str());
      return 2;
    }
  }
  options.lease_duration = ms(*lease);
  options.renew_deadline = ms(*renew);
  options.retry_period = ms(*retry);
  if (auto valid = joulie::kube::LeaderElector::validate(options); !valid.ok()) {
    std::fprintf(stderr, "informer_probe: %s\n", valid.error().message.c_str());
    return 2;
  }
  std::string node = args["heartbeat-node"].as<std::string>();
  std::atomic<bool> lost{false};
  joulie::kube::LeaderCallbacks callbacks;
  std::string id;
  callbacks.started_leading = [&] { say(fmt::format("LEADING {} {}", epoch_ms(), id)); };
  callbacks.stopped_leading = [&] {
    say(fmt::format("STOPPED {} {}", epoch_ms(), id));
    lost = true;
  };
  joulie::kube::LeaderElector elector(api, options, callbacks);
  id = elector.identity();
  say(fmt::format("CANDIDATE {} {}", epoch_ms(), id));
  elector.start();

  uint64_t seq = 0;
  while (!g_terminate && !lost) {
    if (elector.is_leader() && !node.empty()) {
      ++seq;
      std::string value = fmt::format("{}/{}", id, seq);
      std::string patch = fmt::format(
          R"({{"metadata":{{"annotations":{{"joulie.io/probe-heartbeat":"{}"}}}}}})", value);
      auto patched = api.merge_patch(joulie::kube::resources::nodes, "", node, patch);
      if (patched.ok()) {
        say(fmt::format("HEARTBEAT {} {} {}", epoch_ms(), id, seq));
      } else {
        joulie::log::warn("probe", "heartbeat failed", {{"error", patched.error()}});
      }
    }
    std::this_thread::sleep_for(ms(*beat));
  }
  elector.stop();  // releases the lease when still leading (clean stop)
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options cli("informer_probe", "informer / leader election test driver");
  cli.add_options()("kubeconfig", "kubeconfig path",
                    cxxopts::value<std::string>()->default_value(""))(
      "mode", "informer|leader", cxxopts::value<std::string>())(
      "resource", "nodes|pods", cxxopts::value<std::string>()->default_value("nodes"))(
      "dump", "dump file (informer)", cxxopts::value<std::string>()->default_value("cache.jsonl"))(
      "label-selector", "", cxxopts::value<std::string>()->default_value(""))(
      "page-size", "", cxxopts::value<int64_t>()->default_value("500"))(
      "read-idle-timeout", "", cxxopts::value<std::string>()->default_value("3m"))(
      "backoff-max", "", cxxopts::value<std::string>()->default_value("30s"))(
      "identity", "", cxxopts::value<std::string>()->default_value(""))(
      "lease-namespace", "", cxxopts::value<std::string>()->default_value("default"))(
      "lease-name", "", cxxopts::value<std::string>()->default_value("joulie-operator"))(
      "lease-duration", "", cxxopts::value<std::string>()->default_value("15s"))(
      "renew-deadline", "", cxxopts::value<std::string>()->default_value("10s"))(
      "retry-period", "", cxxopts::value<std::string>()->default_value("2s"))(
      "heartbeat-node", "", cxxopts::value<std::string>()->default_value(""))(
      "heartbeat-interval", "", cxxopts::value<std::string>()->default_value("200ms"))(
      "log-level", "", cxxopts::value<std::string>()->default_value("info"));
  cli.parse_positional({"mode"});
  cxxopts::ParseResult args;
  try {
    args = cli.parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "informer_probe: %s\n", e.what());
    return 2;
  }
  if (!args.count("mode")) {
    std::fprintf(stderr, "%s\n", cli.help().c_str());
    return 2;
  }
  auto level = joulie::log::parse_level(args["log-level"].as<std::string>());
  joulie::log::configure(joulie::log::Format::text, level.ok() ? *level : joulie::log::Level::info);

  std::signal(SIGUSR1, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);

  auto sources =
      joulie::kube::ConfigSources::from_environment(args["kubeconfig"].as<std::string>(), "");
  auto config = joulie::kube::load_config(sources);
  if (!config) {
    std::fprintf(stderr, "informer_probe: %s\n", config.error().describe().c_str());
    return 2;
  }
  auto client = joulie::kube::Client::create(std::move(*config));
  if (!client) {
    std::fprintf(stderr, "informer_probe: %s\n", client.error().describe().c_str());
    return 2;
  }
  std::string mode = args["mode"].as<std::string>();
  if (mode == "informer") {
    return run_informer(**client, args);
  }
  if (mode == "leader") {
    return run_leader(**client, args);
  }
  std::fprintf(stderr, "informer_probe: unknown mode %s\n", mode.c_str());
  return 2;
}
