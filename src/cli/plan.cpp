// `kubectl joulie plan` and `explain`: the operator's own one-shot dry-run pass (run_operator with
// --once --dry-run), run in this process against the live cluster with the configuration the
// operator published on its Lease (or a candidate policy file). Nothing is written.
#include <fmt/format.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "commands.hpp"
#include "joulie/api/names.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/common/strings.hpp"
#include "joulie/config/cli.hpp"
#include "joulie/operator/pass_report.hpp"
#include "joulie/operator/run.hpp"
#include "joulie/policy/classify.hpp"
#include "joulie/policy/write_planner.hpp"
#include "json_util.hpp"
#include "render.hpp"

namespace joulie::cli {

namespace {

using operator_mode::NodeOutcome;
using operator_mode::PassResult;

// A temporary file removed when it goes out of scope.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    const char* dir = std::getenv("TMPDIR");
    std::string pattern = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") +
                          "/kubectl-joulie-policy-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    int fd = ::mkstemp(name.data());
    if (fd < 0) return;
    ::close(fd);
    path_ = name.data();
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Rehearsal {
  PassResult result;
  std::string policy_source;  // "the operator's policy file", "candidate FILE", "flags only"
  bool ok = false;
};

Result<Rehearsal> rehearse(const StatusData& data, const Options& o) {
  const rapidjson::Value* annotations =
      data.lease ? field(field(&*data.lease, "metadata"), "annotations") : nullptr;
  auto invocation = text(annotations, api::kConfigAnnotation);
  if (!invocation) {
    return Error(Errc::not_found,
                 fmt::format("the operator has not published its configuration on Lease {}/{} "
                             "(it does while it leads, with --leader-elect): nothing to rehearse",
                             o.ns, o.lease));
  }
  rapidjson::Document doc;
  if (doc.Parse(invocation->c_str()).HasParseError() || !doc.IsObject()) {
    return Error(Errc::invalid_argument, "the operator's published configuration is not JSON");
  }
  std::vector<std::string> args;
  if (const rapidjson::Value* a = field(&doc, "args"); a && a->IsArray()) {
    for (const auto& v : a->GetArray()) {
      if (v.IsString()) args.emplace_back(v.GetString(), v.GetStringLength());
    }
  }
  std::map<std::string, std::string> env;
  if (const rapidjson::Value* e = field(&doc, "env"); e && e->IsObject()) {
    for (auto it = e->MemberBegin(); it != e->MemberEnd(); ++it) {
      if (it->value.IsString()) env[it->name.GetString()] = it->value.GetString();
    }
  }
  auto replay = config::operator_replay(args, env);
  if (!replay) {
    return Error(Errc::invalid_argument,
                 "the operator's published flags do not parse here: " + replay.error().message);
  }

  Rehearsal out;
  std::string policy_text;
  if (!o.policy_config.empty()) {
    std::ifstream in(o.policy_config, std::ios::binary);
    if (!in) return Error(Errc::invalid_argument, "cannot read " + o.policy_config);
    std::stringstream buffer;
    buffer << in.rdbuf();
    policy_text = buffer.str();
    out.policy_source = "candidate " + o.policy_config;
  } else {
    policy_text = text(annotations, api::kPolicyFileAnnotation).value_or("");
    out.policy_source = policy_text.empty() ? "the operator's flags (no policy file)"
                                            : "the operator's policy file (as published)";
  }
  std::unique_ptr<TempFile> file;
  std::vector<std::string> argv = {"operator"};
  argv.insert(argv.end(), replay->args.begin(), replay->args.end());
  argv.insert(argv.end(),
              {"--once", "--dry-run", "--output=json", "--leader-elect=false", "--log-level=warn"});
  if (!o.kubeconfig.empty()) argv.push_back("--kubeconfig=" + join(o.kubeconfig, ':'));
  if (!o.context.empty()) argv.push_back("--context=" + o.context);
  if (!policy_text.empty()) {
    file = std::make_unique<TempFile>(policy_text);
    if (file->path().empty()) return Error(Errc::io, "cannot write a temporary policy file");
    argv.push_back("--policy-config=" + file->path());
  }
  // The published environment decides; only where to connect (and the zone database) is ours.
  const config::EnvLookup process = config::process_env();
  const std::map<std::string, std::string> published = replay->env;
  config::EnvLookup lookup = [&](std::string_view name) -> std::optional<std::string> {
    if (auto it = published.find(std::string(name)); it != published.end()) return it->second;
    if (name == "KUBECONFIG" || name == "KUBE_CONTEXT" || name == "ZONEINFO" || name == "TZDIR" ||
        name == "HOME") {
      return process(name);
    }
    return std::nullopt;
  };
  auto parsed = config::parse_command_line(argv, lookup);
  if (!parsed) {
    return Error(Errc::invalid_argument,
                 "rehearsing the operator's configuration: " + parsed.error().message);
  }
  operator_mode::RunHooks hooks;
  hooks.once_result = [&out](const PassResult& r) {
    out.result = r;
    out.ok = true;
  };
  const int code = operator_mode::run_operator(parsed->operator_config, hooks);
  if (!out.ok) {
    return Error(Errc::io, fmt::format("the dry-run pass did not complete (exit {})", code));
  }
  return out;
}

const NodeRow* row_of(const StatusView& v, const std::string& node) {
  for (const auto& n : v.nodes) {
    if (n.name == node) return &n;
  }
  return nullptr;
}

// The node's power-profile label as the API shows it ("-" when absent), for a node that has no
// NodePowerProfile yet (a first downgrade writes the eco label before the profile).
std::string label_of(const StatusData& data, const std::string& node) {
  for (const rapidjson::Value* n : items(&data.nodes)) {
    const rapidjson::Value* metadata = field(n, "metadata");
    if (text(metadata, "name") == std::optional<std::string>(node)) {
      return text(field(metadata, "labels"), api::kPowerProfileLabel).value_or("-");
    }
  }
  return "-";
}

// "until 2026-12-06T10:42:07Z (4m58s left)".
std::string until_text(SystemTime until, SystemTime now) {
  const auto left =
      std::max(std::chrono::seconds(0), std::chrono::ceil<std::chrono::seconds>(until - now));
  return fmt::format("until {} ({} left)", format_rfc3339(until, false), human_duration(left));
}

// What holds the node this pass, from the operator's per-node memory (joulie.io/state-since on the
// Node, joulie.io/apply-wait-until on the NodePowerProfile): the policy's minDwell and the write
// planner's waits between two phases. `brief`: the table's short form.
std::vector<std::string> holds(const NodeOutcome& n, SystemTime now, bool brief) {
  std::vector<std::string> out;
  if (n.held_until) {
    out.push_back(brief ? "minDwell " + until_text(*n.held_until, now)
                        : "minDwell: held in performance " + until_text(*n.held_until, now));
  }
  if (!n.waiting.empty()) {
    std::string what = n.waiting;
    if (brief) {
      what = n.waiting == policy::to_string(policy::Wait::settle)         ? "settle"
             : n.waiting == policy::to_string(policy::Wait::agent)        ? "agent's report"
             : n.waiting == policy::to_string(policy::Wait::pods_unknown) ? "pod data"
                                                                          : n.waiting;
    }
    out.push_back(n.wait_until ? what + " " + until_text(*n.wait_until, now) : what);
  }
  return out;
}

std::string signals_line(const PassResult& r) {
  std::string s;
  for (const auto& sig : r.context.signals) {
    s += (s.empty() ? "" : ", ") + sig.name + "=" + sig.health;
    if (sig.health == "error") s += " (unreachable from here?)";
  }
  return s;
}

std::string header(const PassResult& r, const Rehearsal& h) {
  std::string out = fmt::format(
      "Rehearsal: the operator's own dry-run pass, run here with {}; nothing was written.\n"
      "Policy:    {} (window {}), {} of {} managed nodes performance\n",
      h.policy_source, r.policy, r.context.window.empty() ? "none" : r.context.window,
      r.performance, r.managed);
  for (const auto& reason : r.context.reasons) out += "           " + reason + "\n";
  if (!r.context.signals.empty()) out += "Signals:   " + signals_line(r) + "\n";
  if (!r.pods_known) out += "Pods:      unknown here: no downgrade would be made\n";
  return out;
}

std::string structured(const PassResult& r, Output output) {
  std::string json = operator_mode::format_pass_json(r);
  if (output == Output::json) return json + "\n";
  rapidjson::Document d;
  d.Parse(json.c_str());
  return to_yaml(d);
}

}  // namespace

int cmd_plan(kube::Api& api, const Options& o) {
  auto data = read_status(api, o);
  if (!data) return fail(data.error().message);
  auto h = rehearse(*data, o);
  if (!h) return fail(h.error().message);
  const PassResult& r = h->result;
  if (o.output == Output::json || o.output == Output::yaml) {
    print(structured(r, o.output));
    return config::kExitOk;
  }
  const StatusView now = view_of(*data);
  const SystemTime clock = std::chrono::system_clock::now();
  std::vector<std::vector<std::string>> rows = {{"NODE", "NOW", "PLAN", "CHANGE", "HELD", "WHY"}};
  std::size_t changes = 0, held = 0;
  for (const NodeOutcome& n : r.nodes) {
    const NodeRow* cur = row_of(now, n.node);
    const bool profiled = cur != nullptr && cur->profile != "-";
    std::string before = profiled ? cur->label + " " + watts_text(cur->cap)
                                  : label_of(*data, n.node) + " (no profile)";
    std::string after = n.label + " " + watts_text(n.cap_watts);
    std::string change = n.changed ? "yes" : "-";
    if (n.result == policy::GuardResult::deferred) change = "deferred (drain)";
    changes += n.changed ? 1 : 0;
    const std::vector<std::string> waits = holds(n, clock, true);
    held += waits.empty() ? 0 : 1;
    std::string why = n.reasons.empty() ? "-" : n.reasons.front();
    if (o.output == Output::wide) {
      why.clear();
      for (const auto& reason : n.reasons) why += (why.empty() ? "" : "; ") + reason;
    }
    std::string held_text;
    for (const auto& w : waits) held_text += (held_text.empty() ? "" : "; ") + w;
    rows.push_back({n.node, before, after, change, held_text.empty() ? "-" : held_text, why});
  }
  print(header(r, *h) +
        fmt::format("Changes:   {} node(s)\nHeld:      {} node(s)\n\n", changes, held) +
        table(rows));
  return config::kExitOk;
}

namespace {

// The guard's view: the performance-sensitive pods on the node block its cap.
std::vector<std::string> blocking_pods(const StatusData& data, const std::string& node) {
  std::vector<std::string> blocking;
  for (const rapidjson::Value* p : items(&data.pods)) {
    if (text(field(p, "spec"), "nodeName") != std::optional<std::string>(node) ||
        !policy::is_counted_pod_json(*p)) {
      continue;
    }
    auto cls = policy::classify_pod_json(*p, api::kPowerProfileLabel);
    if (policy::is_performance_sensitive(cls)) {
      blocking.push_back(
          fmt::format("{}/{} ({})", text(field(p, "metadata"), "namespace").value_or(""),
                      text(field(p, "metadata"), "name").value_or(""), policy::to_string(cls)));
    }
  }
  return blocking;
}

// -o json|yaml: the node's entry of the pass report, the blocking pods and the pass context.
std::string explain_structured(const PassResult& r, const std::string& node,
                               const std::vector<std::string>& blocking, Output output) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  rapidjson::Document pass;
  pass.Parse(operator_mode::format_pass_json(r).c_str());
  rapidjson::Value entry(rapidjson::kNullType);
  if (const rapidjson::Value* nodes = field(&pass, "nodes"); nodes && nodes->IsArray()) {
    for (auto& n : nodes->GetArray()) {
      if (text(&n, "node") == std::optional<std::string>(node)) entry.CopyFrom(n, a);
    }
  }
  d.AddMember("node", rapidjson::Value(node.c_str(), a), a);
  d.AddMember("plan", entry, a);
  rapidjson::Value pods(rapidjson::kArrayType);
  for (const auto& b : blocking) pods.PushBack(rapidjson::Value(b.c_str(), a), a);
  d.AddMember("blockingPods", pods, a);
  rapidjson::Value ctx(rapidjson::kObjectType);
  if (const rapidjson::Value* c = field(&pass, "context")) ctx.CopyFrom(*c, a);
  d.AddMember("context", ctx, a);
  return output == Output::json ? to_json(d) : to_yaml(d);
}

// The node's lines of the text form: now, pin, plan, reasons, guard, waits, signals.
std::string explain_node(const PassResult& r, const NodeOutcome& out, const NodeRow* cur,
                         const std::string& label, const std::vector<std::string>& blocking) {
  std::string s = fmt::format("Node:      {}\n", out.node);
  if (cur != nullptr && cur->profile != "-") {
    s += fmt::format("Now:       {} (label {}), NodePowerProfile {} {}, applied {} ({}, {})\n",
                     cur->state, cur->label, cur->profile, watts_text(cur->cap),
                     watts_text(cur->applied_cap), cur->result, cur->backend);
  } else {
    s += fmt::format("Now:       label {}, no NodePowerProfile yet\n", label);
  }
  s += fmt::format("Pin:       {}\n", cur && !cur->pin.empty() ? cur->pin : "none");
  s += fmt::format("Plan:      {} (label {}, cap {}), guard result {}{}\n",
                   policy::to_string(out.state), out.label, watts_text(out.cap_watts),
                   policy::to_string(out.result), out.changed ? ", would write" : "");
  s += "Reasons:\n";
  for (const auto& reason : out.reasons) s += "  - " + reason + "\n";
  if (out.reasons.empty()) s += "  - (the policy gave none)\n";
  s += fmt::format("Guard:     {} performance-sensitive pod(s) on the node{}\n", blocking.size(),
                   blocking.empty() ? ": nothing blocks a downgrade" : " block a downgrade:");
  for (const auto& b : blocking) s += "  - " + b + "\n";
  const std::vector<std::string> waits = holds(out, std::chrono::system_clock::now(), false);
  s += waits.empty() ? "Waiting:   nothing\n" : "Waiting:\n";
  for (const auto& w : waits) s += "  - " + w + "\n";
  for (const auto& sig : r.context.signals) {
    if (auto it = sig.by_node.find(out.node); it != sig.by_node.end()) {
      s += fmt::format("Signal:    {} = {} ({}){}\n", sig.name,
                       it->second.value ? fmt::format("{}", *it->second.value) : "-",
                       it->second.health,
                       it->second.message.empty() ? "" : ": " + it->second.message);
    }
  }
  return s;
}

}  // namespace

int cmd_explain(kube::Api& api, const Options& o) {
  const std::string& node = o.positional.front();
  auto data = read_status(api, o);
  if (!data) return fail(data.error().message);
  auto h = rehearse(*data, o);
  if (!h) return fail(h.error().message);
  const PassResult& r = h->result;
  const NodeOutcome* out = nullptr;
  for (const auto& n : r.nodes) {
    if (n.node == node) out = &n;
  }
  if (out == nullptr) {
    return fail(
        fmt::format("node {} is not managed: it fails the operator's --node-selector, carries "
                    "joulie.io/reserved=true or is cordoned (or does not exist)",
                    node));
  }
  const std::vector<std::string> blocking = blocking_pods(*data, node);
  if (o.output == Output::json || o.output == Output::yaml) {
    print(explain_structured(r, node, blocking, o.output));
    return config::kExitOk;
  }
  const StatusView now = view_of(*data);
  print(header(r, *h) + "\n" +
        explain_node(r, *out, row_of(now, node), label_of(*data, node), blocking));
  return config::kExitOk;
}

}  // namespace joulie::cli
