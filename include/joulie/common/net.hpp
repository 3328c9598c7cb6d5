#pragma once
// Name resolution without NSS. glibc's getaddrinfo() in a static binary needs NSS shared
// libraries at run time, which a distroless image does not have. The executable is linked with
// -Wl,--wrap=getaddrinfo (top-level meson.build) so every getaddrinfo() call (cpp-httplib,
// OpenSSL) lands in src/common/resolver.cpp: numeric literals are parsed directly, names go to
// c-ares, which reads /etc/hosts then /etc/resolv.conf itself ("files then dns").

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/common/result.hpp"

namespace joulie::net {

// Upper bound for one name lookup (all DNS servers and retries included). Default 5 s.
void set_resolve_timeout(std::chrono::milliseconds timeout);

// Numeric addresses ("10.0.0.1", "fd00::1") for `host`, IPv4 first. A numeric literal (IPv6 may
// be bracketed) is returned as is. Errc::unavailable when the name does not resolve,
// Errc::timeout when the lookup did not finish in time.
Result<std::vector<std::string>> resolve_host(std::string_view host);

}  // namespace joulie::net
