#pragma once
// client.authentication.k8s.io exec credential plugins: run the configured command with its
// args and env plus KUBERNETES_EXEC_INFO, and parse the ExecCredential it prints on stdout.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "joulie/common/clock.hpp"
#include "joulie/common/result.hpp"
#include "joulie/kube/config.hpp"

namespace joulie::kube {

struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<SystemTime> expiry;  // none: valid until a 401
};

// Parses the plugin's stdout. Errc::parse for anything that is not a well-formed ExecCredential
// of `expected_api_version` with a token or a certificate/key pair.
Result<ExecCredential> parse_exec_credential(std::string_view text,
                                             std::string_view expected_api_version);

// The KUBERNETES_EXEC_INFO value handed to the plugin.
std::string exec_info_json(const ExecConfig& exec, const ClusterConfig& cluster);

// Runs the plugin (no shell; stdin is /dev/null). A non-zero exit, a signal, or no answer within
// `timeout` (the plugin is killed) is Errc::unauthorized with the plugin's first stderr line.
Result<ExecCredential> run_exec_plugin(const ExecConfig& exec, const ClusterConfig& cluster,
                                       std::chrono::milliseconds timeout);

}  // namespace joulie::kube
