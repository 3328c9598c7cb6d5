#pragma once
// Small file helpers for configuration and credential files.

#include <cstddef>
#include <string>

#include "joulie/common/result.hpp"

namespace joulie::kube {

// Whole file, at most max_bytes (credential and config files are small; a huge file is refused).
// Errc::io naming the path and the OS error.
Result<std::string> read_small_file(const std::string& path, size_t max_bytes = 16u << 20);

// Directory part of a path ("." for a bare file name).
std::string dir_of(const std::string& path);

// `path` resolved against `base_dir` unless it is absolute or empty.
std::string resolve_path(const std::string& base_dir, const std::string& path);

bool file_exists(const std::string& path);

}  // namespace joulie::kube
