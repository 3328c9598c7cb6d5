#include "joulie/agent/sysfs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace joulie::agent::sysfs {
namespace {

Error errno_error(std::string_view op, const std::filesystem::path& path, int err) {
  Errc code = err == ENOENT || err == ENOTDIR ? Errc::unavailable : Errc::io;
  return Error(code, fmt::format("{} {}: {}", op, path.string(), std::strerror(err)));
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Values from sysfs end up in logs and status messages: printable ASCII, bounded.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 32)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (text.size() > 32) {
    out += "...";
  }
  return out;
}

}  // namespace

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) {
    return {};
  }
  auto last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

Result<std::string> read_file(const std::filesystem::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return errno_error("read", path, errno);
  }
  std::string content;
  char buffer[1024];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error("read", path, errno);
    }
    if (n == 0) {
      break;
    }
    content.append(buffer, static_cast<std::size_t>(n));
    if (content.size() > kMaxFileBytes) {
      return Error(Errc::parse, fmt::format("read {}: more than {} bytes, not a sysfs attribute",
                                            path.string(), kMaxFileBytes));
    }
  }
  return content;
}

Status write_file(const std::filesystem::path& path, std::string_view content) {
  FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ELOOP) {
      return Error(Errc::io, fmt::format("write {}: refusing to write through a symbolic link",
                                         path.string()));
    }
    return errno_error("write", path, errno);
  }
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error("write", path, errno);
    }
    if (n == 0) {
      return Error(Errc::io, fmt::format("write {}: short write", path.string()));
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::success();
}

Result<int64_t> parse_int(std::string_view text, std::string_view what) {
  std::string_view digits = trim(text);
  if (digits.empty()) {
    return Error(Errc::parse, fmt::format("{}: empty value", what));
  }
  const char* begin = digits.data();
  const char* end = digits.data() + digits.size();
  // from_chars rejects a leading '+'; sysfs never writes one, so neither do we accept it.
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(begin, end, value, 10);
  if (ec == std::errc::result_out_of_range) {
    return Error(Errc::parse, fmt::format("{}: value {} out of range", what, shown(digits)));
  }
  if (ec != std::errc() || ptr != end) {
    return Error(Errc::parse, fmt::format("{}: not an integer: {}", what, shown(digits)));
  }
  return value;
}

Result<uint64_t> parse_uint(std::string_view text, std::string_view what) {
  std::string_view digits = trim(text);
  if (!digits.empty() && digits.front() == '-') {
    return Error(Errc::parse, fmt::format("{}: negative value {}", what, shown(digits)));
  }
  if (digits.empty()) {
    return Error(Errc::parse, fmt::format("{}: empty value", what));
  }
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 10);
  if (ec == std::errc::result_out_of_range) {
    return Error(Errc::parse, fmt::format("{}: value {} out of range", what, shown(digits)));
  }
  if (ec != std::errc() || ptr != digits.data() + digits.size()) {
    return Error(Errc::parse, fmt::format("{}: not an integer: {}", what, shown(digits)));
  }
  return value;
}

Result<uint64_t> read_uint(const std::filesystem::path& path) {
  auto content = read_file(path);
  if (!content.ok()) {
    return content.error();
  }
  return parse_uint(*content, path.string());
}

Result<std::string> read_trimmed(const std::filesystem::path& path) {
  auto content = read_file(path);
  if (!content.ok()) {
    return content.error();
  }
  return std::string(trim(*content));
}

Result<std::filesystem::path> real_path(const std::filesystem::path& path) {
  std::error_code ec;
  auto canonical = std::filesystem::canonical(path, ec);
  if (ec) {
    return Error(ec == std::errc::no_such_file_or_directory ? Errc::unavailable : Errc::io,
                 fmt::format("resolve {}: {}", path.string(), ec.message()));
  }
  return canonical;
}

}  // namespace joulie::agent::sysfs
