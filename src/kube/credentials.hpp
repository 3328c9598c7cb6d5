#pragma once
// The credentials the client attaches to requests, kept fresh: a token file (kubeconfig tokenFile
// or the in-cluster service-account token) is re-read every `token_reread_period`; an exec plugin
// credential is cached until its expirationTimestamp and re-run after a 401.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "exec_plugin.hpp"
#include "joulie/common/clock.hpp"
#include "joulie/common/result.hpp"
#include "joulie/kube/config.hpp"

namespace joulie::kube {

struct Credentials {
  std::string token;  // empty: no Authorization header
  std::string client_cert_pem;
  std::string client_key_pem;
  // Changes whenever the client certificate changes (TLS connections must be rebuilt).
  uint64_t tls_generation = 0;
};

class CredentialSource {
 public:
  struct Options {
    std::chrono::milliseconds token_reread_period{std::chrono::seconds(60)};
    std::chrono::milliseconds exec_timeout{std::chrono::seconds(60)};
  };

  CredentialSource(ClusterConfig config, Options options, const Clock& clock);

  // The credentials to use now (runs the exec plugin or re-reads the token file when due).
  Result<Credentials> current();

  // Called after a 401: forgets the cached exec credential and re-reads the token file at the
  // next current(). Returns whether the next credentials can differ (retrying makes sense).
  bool invalidate();

 private:
  Status refresh_exec();
  void refresh_token_file(SteadyTime now);

  const ClusterConfig config_;
  const Options options_;
  const Clock& clock_;
  std::mutex mutex_;
  Credentials current_;
  std::optional<SteadyTime> token_read_at_;
  bool exec_valid_ = false;
  std::optional<SystemTime> exec_expiry_;
};

}  // namespace joulie::kube
