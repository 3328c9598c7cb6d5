#pragma once
// OpenSSL set-up for the API server connection, from memory (no temporary files): the CA bundle
// as the only trust store, hostname/IP verification against the server name (or tls-server-name),
// and the client certificate chain + key. Verification is done by OpenSSL during the handshake
// (SSL_VERIFY_PEER), and the first verification error is remembered for a clear message.

#include <openssl/ssl.h>

#include <atomic>
#include <string>

#include "joulie/common/result.hpp"

namespace joulie::kube {

struct TlsSettings {
  std::string ca_pem;  // empty: the system default store
  bool insecure_skip_verify = false;
  std::string verify_name;      // host name or IP literal the certificate must match
  std::string client_cert_pem;  // leaf first, then intermediates
  std::string client_key_pem;
};

// Per-SSL_CTX record of the last certificate verification failure (X509_V_ERR_*; 0 = none).
struct TlsVerifyState {
  std::atomic<long> last_error{0};
};

// Configures `ctx`. `state` must outlive the context. Errc::tls for unusable CA, certificate or
// key data (the message never contains the data).
Status configure_tls(SSL_CTX* ctx, const TlsSettings& settings, TlsVerifyState* state);

// "certificate verify failed: self-signed certificate in certificate chain (server name x)".
std::string verify_error_message(long x509_error, const std::string& verify_name);

}  // namespace joulie::kube
