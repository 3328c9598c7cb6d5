#include "joulie/common/result.hpp"

#include <fmt/format.h>

namespace joulie {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::ok:
      return "OK";
    case Errc::invalid_argument:
      return "InvalidArgument";
    case Errc::parse:
      return "ParseError";
    case Errc::io:
      return "IOError";
    case Errc::tls:
      return "TLSError";
    case Errc::timeout:
      return "Timeout";
    case Errc::unavailable:
      return "Unavailable";
    case Errc::bad_request:
      return "BadRequest";
    case Errc::unauthorized:
      return "Unauthorized";
    case Errc::forbidden:
      return "Forbidden";
    case Errc::not_found:
      return "NotFound";
    case Errc::already_exists:
      return "AlreadyExists";
    case Errc::conflict:
      return "Conflict";
    case Errc::gone:
      return "Gone";
    case Errc::invalid:
      return "Invalid";
    case Errc::too_many_requests:
      return "TooManyRequests";
    case Errc::server_error:
      return "InternalError";
    case Errc::unsupported:
      return "Unsupported";
    case Errc::internal:
      return "Internal";
  }
  return "Unknown";
}

std::string Error::describe() const {
  if (http_status != 0) {
    return fmt::format("{} ({}): {}", reason.empty() ? errc_name(code) : reason, http_status,
                       message);
  }
  return fmt::format("{}: {}", errc_name(code), message);
}

}  // namespace joulie
