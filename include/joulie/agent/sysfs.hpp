#pragma once
// Small-file access to a sysfs tree mounted under a root (`--sysfs-root`, /host-sys in the pod).
// Everything read here comes from outside the process: contents are bounded, parsed strictly and
// turned into clear errors, never exceptions.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "joulie/common/result.hpp"

namespace joulie::agent::sysfs {

// sysfs attributes are one page at most; anything larger is not the file we expect.
inline constexpr std::size_t kMaxFileBytes = 4096;

// Reads a whole small file. Missing file → Errc::unavailable; other failures → Errc::io with
// "read <path>: <strerror>"; more than kMaxFileBytes → Errc::parse.
Result<std::string> read_file(const std::filesystem::path& path);

// Replaces the content of an existing file (O_WRONLY|O_TRUNC, never creates). The last path
// component must not be a symbolic link (O_NOFOLLOW): real sysfs attributes never are, and a
// root-owned agent must not be redirected into other host files. A short write is an error.
Status write_file(const std::filesystem::path& path, std::string_view content);

// Strict decimal parsing of a sysfs value: surrounding whitespace is ignored; empty text,
// garbage, trailing characters and out-of-range values are Errc::parse errors naming `what`.
Result<int64_t> parse_int(std::string_view text, std::string_view what);
// As parse_int, but negative values are errors too.
Result<uint64_t> parse_uint(std::string_view text, std::string_view what);

Result<uint64_t> read_uint(const std::filesystem::path& path);

// Whitespace-trimmed content ("long_term\n" → "long_term").
Result<std::string> read_trimmed(const std::filesystem::path& path);

// Canonical path with every symlink resolved (for de-duplicating zones and policies reached
// through both the class/ and devices/ trees).
Result<std::filesystem::path> real_path(const std::filesystem::path& path);

std::string_view trim(std::string_view text);

}  // namespace joulie::agent::sysfs
