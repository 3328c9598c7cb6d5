#pragma once
// Recoverable errors are values. Result<T> carries either a T or an Error; exceptions never
// cross module boundaries.

#include <string>
#include <utility>
#include <variant>

namespace joulie {

enum class Errc {
  ok = 0,
  invalid_argument,  // our own configuration or caller input is wrong
  parse,             // malformed data from outside (JSON, YAML, sysfs, durations)
  io,                // file or socket I/O failed
  tls,               // TLS handshake or certificate verification failed
  timeout,           // a bounded wait expired
  unavailable,       // peer unreachable, connection refused, resource not present on host
  // Kubernetes Status reasons (kube/errors.hpp maps HTTP code + reason onto these).
  bad_request,
  unauthorized,
  forbidden,
  not_found,
  already_exists,
  conflict,
  gone,
  invalid,
  too_many_requests,
  server_error,
  unsupported,
  internal,  // a broken invariant of ours
};

const char* errc_name(Errc code);

struct Error {
  Errc code = Errc::internal;
  std::string message;
  int http_status = 0;  // HTTP status when the error came from an HTTP peer
  std::string reason;   // Kubernetes Status.reason when present

  Error() = default;
  Error(Errc c, std::string msg, int status = 0, std::string why = {})
      : code(c), message(std::move(msg)), http_status(status), reason(std::move(why)) {}

  // "Conflict (409): the object has been modified" — safe to log (never holds credentials).
  std::string describe() const;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : data_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(data_); }
  Error&& error() && { return std::get<1>(std::move(data_)); }
  Errc code() const { return ok() ? Errc::ok : error().code; }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> data_;
};

// Result<void>: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT
  static Status success() { return {}; }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }
  Errc code() const { return failed_ ? error_.code : Errc::ok; }

 private:
  Error error_;
  bool failed_ = false;
};

inline Error make_error(Errc code, std::string message) { return Error(code, std::move(message)); }

}  // namespace joulie
