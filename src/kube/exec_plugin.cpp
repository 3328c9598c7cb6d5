#include "exec_plugin.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base64.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/kube/json.hpp"
#include "joulie/kube/json_fields.hpp"

extern char** environ;

namespace joulie::kube {

namespace {

constexpr size_t kMaxOutput = 1u << 20;

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 200) {
    line = line.substr(0, 200) + "…";
  }
  return line;
}

struct Pipe {
  int fds[2] = {-1, -1};
  ~Pipe() {
    for (int fd : fds) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
  void close_end(int i) {
    if (fds[i] >= 0) {
      ::close(fds[i]);
      fds[i] = -1;
    }
  }
};

}  // namespace

Result<ExecCredential> parse_exec_credential(std::string_view text,
                                             std::string_view expected_api_version) {
  auto parsed = parse_object(text);
  if (!parsed.ok()) {
    return Error(Errc::parse, "exec plugin output: " + parsed.error().message);
  }
  const auto& doc = parsed.value();
  if (json::string_or_empty(doc, "kind") != "ExecCredential") {
    return Error(Errc::parse, "exec plugin output: kind is not ExecCredential");
  }
  if (const std::string_view v = json::string_or_empty(doc, "apiVersion");
      v != expected_api_version) {
    return Error(Errc::parse, fmt::format("exec plugin output: apiVersion \"{}\", expected \"{}\"",
                                          v, expected_api_version));
  }
  const rapidjson::Value* status_object = json::object_at(doc, "status");
  if (status_object == nullptr) {
    return Error(Errc::parse, "exec plugin output: no status");
  }
  const rapidjson::Value& status = *status_object;
  ExecCredential out;
  out.token = json::string_or_empty(status, "token");
  out.client_cert_pem = json::string_or_empty(status, "clientCertificateData");
  out.client_key_pem = json::string_or_empty(status, "clientKeyData");
  if (out.client_cert_pem.empty() != out.client_key_pem.empty()) {
    return Error(Errc::parse,
                 "exec plugin output: clientCertificateData and clientKeyData must come together");
  }
  if (out.token.empty() && out.client_cert_pem.empty()) {
    return Error(Errc::parse, "exec plugin output: neither token nor client certificate");
  }
  if (const std::string_view expiry = json::string_or_empty(status, "expirationTimestamp");
      !expiry.empty()) {
    auto t = parse_rfc3339(expiry);
    if (!t.ok()) {
      return Error(Errc::parse,
                   "exec plugin output: bad expirationTimestamp: " + t.error().message);
    }
    out.expiry = t.value();
  }
  return out;
}

std::string exec_info_json(const ExecConfig& exec, const ClusterConfig& cluster) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("apiVersion");
  w.String(exec.api_version.c_str());
  w.Key("kind");
  w.String("ExecCredential");
  w.Key("spec");
  w.StartObject();
  w.Key("interactive");
  w.Bool(false);
  if (exec.provide_cluster_info) {
    w.Key("cluster");
    w.StartObject();
    w.Key("server");
    w.String(cluster.server.c_str());
    if (!cluster.tls_server_name.empty()) {
      w.Key("tls-server-name");
      w.String(cluster.tls_server_name.c_str());
    }
    if (cluster.insecure_skip_tls_verify) {
      w.Key("insecure-skip-tls-verify");
      w.Bool(true);
    }
    if (!cluster.ca_pem.empty()) {
      w.Key("certificate-authority-data");
      w.String(base64_encode(cluster.ca_pem).c_str());
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

Result<ExecCredential> run_exec_plugin(const ExecConfig& exec, const ClusterConfig& cluster,
                                       std::chrono::milliseconds timeout) {
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    env_strings.emplace_back(*e);
  }
  for (const auto& [name, value] : exec.env) {
    env_strings.push_back(name + "=" + value);
  }
  env_strings.push_back("KUBERNETES_EXEC_INFO=" + exec_info_json(exec, cluster));
  std::vector<char*> envp;
  for (std::string& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> arg_strings{exec.command};
  arg_strings.insert(arg_strings.end(), exec.args.begin(), exec.args.end());
  std::vector<char*> argv;
  for (std::string& s : arg_strings) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);

  Pipe out_pipe;
  Pipe err_pipe;
  if (::pipe2(out_pipe.fds, O_CLOEXEC) != 0 || ::pipe2(err_pipe.fds, O_CLOEXEC) != 0) {
    return Error(Errc::io, fmt::format("exec plugin: pipe: {}", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe.fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe.fds[1], 2);
  pid_t pid = -1;
  const int rc =
      posix_spawnp(&pid, exec.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Error(Errc::unauthorized,
                 fmt::format("exec plugin {}: cannot run: {}", exec.command, std::strerror(rc)));
  }
  out_pipe.close_end(1);
  err_pipe.close_end(1);

  std::string out;
  std::string err;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true;
  bool err_open = true;
  bool timed_out = false;
  while (out_open || err_open) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_open ? out_pipe.fds[0] : -1, POLLIN, 0},
                     {err_open ? err_pipe.fds[0] : -1, POLLIN, 0}};
    const int ready = ::poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      char buf[8192];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      std::string& sink = i == 0 ? out : err;
      if (n > 0 && sink.size() < kMaxOutput) {
        sink.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
  }
  // The plugin closed its output; give it the rest of the budget to exit.
  int wstatus = 0;
  while (!timed_out) {
    const pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) {
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    ::poll(nullptr, 0, 5);
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
  }
  if (timed_out) {
    return Error(Errc::unauthorized, fmt::format("exec plugin {}: no answer within {} ms (killed)",
                                                 exec.command, timeout.count()));
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    const std::string how = WIFEXITED(wstatus)
                                ? fmt::format("exit status {}", WEXITSTATUS(wstatus))
                                : fmt::format("killed by signal {}", WTERMSIG(wstatus));
    return Error(Errc::unauthorized, fmt::format("exec plugin {} failed: {}{}{}", exec.command, how,
                                                 err.empty() ? "" : ": ", first_line(err)));
  }
  auto credential = parse_exec_credential(out, exec.api_version);
  if (!credential.ok()) {
    return Error(Errc::unauthorized,
                 fmt::format("exec plugin {}: {}", exec.command, credential.error().message));
  }
  return credential;
}

}  // namespace joulie::kube
