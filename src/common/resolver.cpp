// getaddrinfo() without NSS (see joulie/common/net.hpp). The linker routes every getaddrinfo /
// freeaddrinfo call in the executable here (-Wl,--wrap=...). The real glibc function is never
// called: referencing it would bring back the static-NSS link warning and fail in distroless.
#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "joulie/common/net.hpp"

namespace {

std::atomic<long> g_timeout_ms{5000};

struct Address {
  int family = AF_INET;
  union {
    in_addr v4;
    in6_addr v6;
  } addr{};
};

struct Query {
  bool done = false;
  int status = ARES_SUCCESS;
  std::vector<Address> addresses;
};

void on_lookup_done(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  auto* query = static_cast<Query*>(arg);
  query->done = true;
  query->status = status;
  if (result == nullptr) {
    return;
  }
  for (ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
    Address a;
    a.family = n->ai_family;
    if (n->ai_family == AF_INET && n->ai_addr != nullptr) {
      a.addr.v4 = reinterpret_cast<const sockaddr_in*>(n->ai_addr)->sin_addr;
    } else if (n->ai_family == AF_INET6 && n->ai_addr != nullptr) {
      a.addr.v6 = reinterpret_cast<const sockaddr_in6*>(n->ai_addr)->sin6_addr;
    } else {
      continue;
    }
    query->addresses.push_back(a);
  }
  ares_freeaddrinfo(result);
}

// EAI_* code (0 on success). Looks `name` up in /etc/hosts, then DNS, within the timeout.
int lookup_name(const char* name, int family, std::vector<Address>& out) {
  static std::once_flag init_once;
  static int init_status = ARES_SUCCESS;
  std::call_once(init_once, [] { init_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (init_status != ARES_SUCCESS) {
    return EAI_FAIL;
  }

  const long budget_ms = std::max(100L, g_timeout_ms.load());
  ares_options options{};
  options.timeout = static_cast<int>(std::clamp(budget_ms / 2, 100L, 2000L));
  options.tries = 2;
  char lookups[] = "fb";  // files, then DNS — regardless of a (missing) nsswitch.conf
  options.lookups = lookups;
  ares_channel channel = nullptr;
  if (ares_init_options(&channel, &options,
                        ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS) != ARES_SUCCESS) {
    return EAI_FAIL;
  }

  ares_addrinfo_hints hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  // CARES_HOSTS replaces /etc/hosts when set (used by tests; c-ares documents it).
  hints.ai_flags = ARES_AI_ENVHOSTS;
  Query query;
  ares_getaddrinfo(channel, name, nullptr, &hints, on_lookup_done, &query);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(budget_ms);
  while (!query.done) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      ares_cancel(channel);  // runs the callback with ARES_ECANCELLED
      break;
    }
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    const int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
    std::vector<pollfd> fds;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) {
        events |= POLLIN;
      }
      if (ARES_GETSOCK_WRITABLE(bits, i)) {
        events |= POLLOUT;
      }
      if (events != 0) {
        fds.push_back(pollfd{socks[i], events, 0});
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    timeval max_tv{static_cast<time_t>(left.count() / 1000),
                   static_cast<suseconds_t>((left.count() % 1000) * 1000)};
    timeval tv{};
    const timeval* wait = ares_timeout(channel, &max_tv, &tv);
    const int wait_ms = static_cast<int>(wait->tv_sec * 1000 + wait->tv_usec / 1000) + 1;
    const int ready = poll(fds.data(), fds.size(), wait_ms);
    if (ready < 0 && errno != EINTR) {
      ares_cancel(channel);
      break;
    }
    if (ready <= 0) {
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
      continue;
    }
    for (const pollfd& p : fds) {
      const bool readable = (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      const bool writable = (p.revents & POLLOUT) != 0;
      ares_process_fd(channel, readable ? p.fd : ARES_SOCKET_BAD,
                      writable ? p.fd : ARES_SOCKET_BAD);
    }
  }
  ares_destroy(channel);

  switch (query.status) {
    case ARES_SUCCESS:
      break;
    case ARES_ENOTFOUND:
    case ARES_ENONAME:
    case ARES_ENODATA:
      return EAI_NONAME;
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
    case ARES_ECONNREFUSED:
    case ARES_ESERVFAIL:
      return EAI_AGAIN;
    case ARES_ENOMEM:
      return EAI_MEMORY;
    default:
      return EAI_FAIL;
  }
  if (query.addresses.empty()) {
    return EAI_NONAME;
  }
  // IPv4 first: servers in tests and most clusters listen on IPv4; callers try each in turn.
  std::stable_partition(query.addresses.begin(), query.addresses.end(),
                        [](const Address& a) { return a.family == AF_INET; });
  out = std::move(query.addresses);
  return 0;
}

// Numeric literal → true. Accepts "[v6]" brackets.
bool parse_numeric(std::string text, int family, Address& out) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (family != AF_INET6 && inet_pton(AF_INET, text.c_str(), &out.addr.v4) == 1) {
    out.family = AF_INET;
    return true;
  }
  if (family != AF_INET && inet_pton(AF_INET6, text.c_str(), &out.addr.v6) == 1) {
    out.family = AF_INET6;
    return true;
  }
  return false;
}

// Service must be a decimal port (the binary never needs /etc/services).
int parse_service(const char* service, uint16_t& port) {
  port = 0;
  if (service == nullptr || *service == '\0') {
    return 0;
  }
  unsigned long value = 0;
  for (const char* p = service; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') {
      return EAI_SERVICE;
    }
    value = value * 10 + static_cast<unsigned long>(*p - '0');
    if (value > 65535) {
      return EAI_SERVICE;
    }
  }
  port = static_cast<uint16_t>(value);
  return 0;
}

// One allocation per node (addrinfo + sockaddr + canonical name) so freeaddrinfo is a simple walk.
addrinfo* make_node(const Address& a, uint16_t port, int socktype, int protocol, int flags,
                    const char* canon) {
  const size_t canon_len = canon != nullptr ? std::strlen(canon) + 1 : 0;
  const size_t size = sizeof(addrinfo) + sizeof(sockaddr_in6) + canon_len;
  auto* block = static_cast<char*>(std::calloc(1, size));
  if (block == nullptr) {
    return nullptr;
  }
  auto* ai = reinterpret_cast<addrinfo*>(block);
  auto* sa = reinterpret_cast<sockaddr*>(block + sizeof(addrinfo));
  ai->ai_flags = flags;
  ai->ai_family = a.family;
  ai->ai_socktype = socktype;
  ai->ai_protocol = protocol;
  ai->ai_addr = sa;
  if (a.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(sa);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr = a.addr.v4;
    ai->ai_addrlen = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(sa);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_addr = a.addr.v6;
    ai->ai_addrlen = sizeof(sockaddr_in6);
  }
  if (canon_len != 0) {
    char* name = block + sizeof(addrinfo) + sizeof(sockaddr_in6);
    std::memcpy(name, canon, canon_len);
    ai->ai_canonname = name;
  }
  return ai;
}

void free_chain(addrinfo* ai) {
  while (ai != nullptr) {
    addrinfo* next = ai->ai_next;
    std::free(ai);
    ai = next;
  }
}

int build_chain(const std::vector<Address>& addresses, uint16_t port, const addrinfo& hints,
                const char* canon, addrinfo** res) {
  std::vector<std::pair<int, int>> kinds;  // socktype, protocol
  if (hints.ai_socktype != 0) {
    kinds.emplace_back(hints.ai_socktype, hints.ai_protocol);
  } else {
    kinds.emplace_back(SOCK_STREAM, IPPROTO_TCP);
    kinds.emplace_back(SOCK_DGRAM, IPPROTO_UDP);
  }
  addrinfo* head = nullptr;
  addrinfo** tail = &head;
  for (const Address& a : addresses) {
    for (const auto& [socktype, protocol] : kinds) {
      addrinfo* node =
          make_node(a, port, socktype, protocol, hints.ai_flags, head == nullptr ? canon : nullptr);
      if (node == nullptr) {
        free_chain(head);
        return EAI_MEMORY;
      }
      *tail = node;
      tail = &node->ai_next;
    }
  }
  *res = head;
  return 0;
}

}  // namespace

extern "C" int __wrap_getaddrinfo(const char* node, const char* service, const addrinfo* hints_in,
                                  addrinfo** res) {
  if (res == nullptr || (node == nullptr && service == nullptr)) {
    return EAI_NONAME;
  }
  *res = nullptr;
  addrinfo hints{};
  if (hints_in != nullptr) {
    hints.ai_flags = hints_in->ai_flags;
    hints.ai_family = hints_in->ai_family;
    hints.ai_socktype = hints_in->ai_socktype;
    hints.ai_protocol = hints_in->ai_protocol;
  }
  if (hints.ai_family != AF_UNSPEC && hints.ai_family != AF_INET && hints.ai_family != AF_INET6) {
    return EAI_FAMILY;
  }
  uint16_t port = 0;
  if (const int rc = parse_service(service, port); rc != 0) {
    return rc;
  }

  std::vector<Address> addresses;
  if (node == nullptr) {
    // A server binding "any" (AI_PASSIVE) or a client talking to loopback.
    const bool passive = (hints.ai_flags & AI_PASSIVE) != 0;
    if (hints.ai_family != AF_INET6) {
      Address a;
      a.family = AF_INET;
      a.addr.v4.s_addr = htonl(passive ? INADDR_ANY : INADDR_LOOPBACK);
      addresses.push_back(a);
    }
    if (hints.ai_family != AF_INET) {
      Address a;
      a.family = AF_INET6;
      a.addr.v6 = passive ? in6addr_any : in6addr_loopback;
      addresses.push_back(a);
    }
  } else {
    Address a;
    if (parse_numeric(node, hints.ai_family, a)) {
      addresses.push_back(a);
    } else if ((hints.ai_flags & AI_NUMERICHOST) != 0) {
      return EAI_NONAME;
    } else if (const int rc = lookup_name(node, hints.ai_family, addresses); rc != 0) {
      return rc;
    }
  }
  const char* canon = (hints.ai_flags & AI_CANONNAME) != 0 ? node : nullptr;
  return build_chain(addresses, port, hints, canon, res);
}

extern "C" void __wrap_freeaddrinfo(addrinfo* ai) { free_chain(ai); }

// Stubs for functions that static libraries reference but the binary never needs; the link
// routes them here (-Wl,--wrap=..., top-level meson.build) so glibc's NSS and dlopen code (and
// its "requires at runtime the shared libraries" link warnings) stay out of a static binary.
// c-ares: service names (we only pass numeric ports or none).
extern "C" servent* __wrap_getservbyname(const char* /*name*/, const char* /*proto*/) {
  return nullptr;
}
extern "C" int __wrap_getservbyport_r(int /*port*/, const char* /*proto*/, servent* /*buf*/,
                                      char* /*data*/, size_t /*len*/, servent** result) {
  if (result != nullptr) {
    *result = nullptr;
  }
  return ENOENT;
}
// OpenSSL: the deprecated BIO_gethostbyname, and DSO loading of engines/provider modules.
extern "C" hostent* __wrap_gethostbyname(const char* /*name*/) {
  h_errno = HOST_NOT_FOUND;
  return nullptr;
}
extern "C" void* __wrap_dlopen(const char* /*file*/, int /*mode*/) { return nullptr; }

namespace joulie::net {

void set_resolve_timeout(std::chrono::milliseconds timeout) { g_timeout_ms = timeout.count(); }

Result<std::vector<std::string>> resolve_host(std::string_view host) {
  const std::string name(host);
  std::vector<Address> addresses;
  Address numeric;
  if (parse_numeric(name, AF_UNSPEC, numeric)) {
    addresses.push_back(numeric);
  } else if (const int rc = lookup_name(name.c_str(), AF_UNSPEC, addresses); rc != 0) {
    if (rc == EAI_AGAIN) {
      return Error(Errc::timeout, "resolving " + name + ": lookup timed out or no DNS answer");
    }
    return Error(Errc::unavailable, "resolving " + name + ": no such host");
  }
  std::vector<std::string> out;
  for (const Address& a : addresses) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(a.family, &a.addr, text, sizeof(text));
    out.emplace_back(text);
  }
  return out;
}

}  // namespace joulie::net
