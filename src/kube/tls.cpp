#include "tls.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <fmt/format.h>

#include <memory>
#include <mutex>

namespace joulie::kube {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

BioPtr memory_bio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) {
    return "unknown error";
  }
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : fmt::format("error {:#x}", code);
}

int ctx_state_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int verify_callback(int preverify_ok, X509_STORE_CTX* store_ctx) {
  if (preverify_ok == 0) {
    auto* ssl = static_cast<SSL*>(
        X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (ssl != nullptr) {
      auto* state = static_cast<TlsVerifyState*>(
          SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_state_index()));
      if (state != nullptr) {
        state->last_error = X509_STORE_CTX_get_error(store_ctx);
      }
    }
  }
  return preverify_ok;
}

bool is_ip_literal(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

Status load_ca(SSL_CTX* ctx, const std::string& pem) {
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) {
    return Error(Errc::tls, "cannot allocate a certificate store");
  }
  BioPtr bio = memory_bio(pem);
  int added = 0;
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      break;
    }
    if (X509_STORE_add_cert(store, cert.get()) == 1) {
      ++added;
    }
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (added == 0) {
    X509_STORE_free(store);
    return Error(Errc::tls, "certificate authority data holds no PEM certificate");
  }
  SSL_CTX_set_cert_store(ctx, store);  // ctx takes ownership
  return Status::success();
}

Status load_client_identity(SSL_CTX* ctx, const TlsSettings& s) {
  BioPtr cert_bio = memory_bio(s.client_cert_pem);
  X509Ptr leaf(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!leaf) {
    return Error(Errc::tls,
                 "client certificate data is not a PEM certificate: " + openssl_reason());
  }
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    return Error(Errc::tls, "client certificate rejected: " + openssl_reason());
  }
  for (;;) {
    X509Ptr extra(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    if (!extra) {
      break;
    }
    SSL_CTX_add1_chain_cert(ctx, extra.get());
  }
  ERR_clear_error();
  BioPtr key_bio = memory_bio(s.client_key_pem);
  KeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return Error(Errc::tls, "client key data is not a PEM private key: " + openssl_reason());
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return Error(Errc::tls,
                 "client key does not match the client certificate: " + openssl_reason());
  }
  return Status::success();
}

}  // namespace

Status configure_tls(SSL_CTX* ctx, const TlsSettings& settings, TlsVerifyState* state) {
  if (ctx == nullptr) {
    return Error(Errc::tls, "cannot create a TLS context");
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (!settings.client_cert_pem.empty()) {
    if (Status s = load_client_identity(ctx, settings); !s.ok()) {
      return s;
    }
  }
  if (settings.insecure_skip_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return Status::success();
  }
  if (!settings.ca_pem.empty()) {
    if (Status s = load_ca(ctx, settings.ca_pem); !s.ok()) {
      return s;
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return Error(Errc::tls, "cannot load the system certificate store: " + openssl_reason());
  }
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  if (!settings.verify_name.empty()) {
    const int ok = is_ip_literal(settings.verify_name)
                       ? X509_VERIFY_PARAM_set1_ip_asc(param, settings.verify_name.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, settings.verify_name.c_str(), 0);
    if (ok != 1) {
      return Error(Errc::tls, fmt::format("invalid TLS server name \"{}\"", settings.verify_name));
    }
  }
  SSL_CTX_set_ex_data(ctx, ctx_state_index(), state);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);
  return Status::success();
}

std::string verify_error_message(long x509_error, const std::string& verify_name) {
  return fmt::format("certificate verify failed: {} (server name \"{}\")",
                     X509_verify_cert_error_string(x509_error), verify_name);
}

}  // namespace joulie::kube
