#include "credentials.hpp"

#include "joulie/common/log.hpp"
#include "joulie/kube/file_util.hpp"

namespace joulie::kube {

namespace {

std::string trim_token(std::string s) {
  const size_t end = s.find_last_not_of(" \t\r\n");
  s.erase(end == std::string::npos ? 0 : end + 1);
  const size_t begin = s.find_first_not_of(" \t\r\n");
  return begin == std::string::npos ? std::string() : s.substr(begin);
}

}  // namespace

CredentialSource::CredentialSource(ClusterConfig config, Options options, const Clock& clock)
    : config_(std::move(config)), options_(options), clock_(clock) {
  current_.token = config_.token;
  current_.client_cert_pem = config_.client_cert_pem;
  current_.client_key_pem = config_.client_key_pem;
}

void CredentialSource::refresh_token_file(SteadyTime now) {
  token_read_at_ = now;
  auto text = read_small_file(config_.token_file, 1u << 20);
  if (!text.ok()) {
    // Keep the last good token: the kubelet rewrites the file atomically, a failed read is
    // transient; the server will answer 401 if the old token really expired.
    log::warn("kube", "cannot re-read token file, keeping the previous token",
              {{"file", config_.token_file}, {"error", text.error()}});
    return;
  }
  std::string token = trim_token(std::move(text.value()));
  if (token.empty()) {
    log::warn("kube", "token file is empty, keeping the previous token",
              {{"file", config_.token_file}});
    return;
  }
  if (token != current_.token) {
    log::debug("kube", "token file changed", {{"file", config_.token_file}});
    current_.token = std::move(token);
  }
}

Status CredentialSource::refresh_exec() {
  auto credential = run_exec_plugin(*config_.exec, config_, options_.exec_timeout);
  if (!credential.ok()) {
    return credential.error();
  }
  ExecCredential& c = credential.value();
  if (c.client_cert_pem != current_.client_cert_pem ||
      c.client_key_pem != current_.client_key_pem) {
    ++current_.tls_generation;
  }
  current_.token = std::move(c.token);
  // A plugin that returns only a token leaves the kubeconfig's certificate (if any) in place.
  if (!c.client_cert_pem.empty()) {
    current_.client_cert_pem = std::move(c.client_cert_pem);
    current_.client_key_pem = std::move(c.client_key_pem);
  }
  exec_expiry_ = c.expiry;
  exec_valid_ = true;
  return Status::success();
}

Result<Credentials> CredentialSource::current() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (config_.exec) {
    const bool expired = exec_expiry_ && clock_.now() >= *exec_expiry_;
    if (!exec_valid_ || expired) {
      if (Status s = refresh_exec(); !s.ok()) {
        return s.error();
      }
    }
    return current_;
  }
  if (!config_.token_file.empty()) {
    const SteadyTime now = clock_.monotonic();
    if (!token_read_at_ || now - *token_read_at_ >= options_.token_reread_period) {
      refresh_token_file(now);
    }
  }
  return current_;
}

bool CredentialSource::invalidate() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (config_.exec) {
    exec_valid_ = false;
    return true;
  }
  if (!config_.token_file.empty()) {
    token_read_at_.reset();
    return true;
  }
  return false;
}

}  // namespace joulie::kube
