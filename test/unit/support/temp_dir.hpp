#pragma once
// Temporary files for unit tests: a directory removed with its contents at scope exit, and a file
// writer that creates the parent directories and fails loudly.

#include <stdlib.h>  // mkdtemp

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace joulie::test {

// Writes `content` to `file`, replacing it, after creating its parent directories.
inline void write_file(const std::filesystem::path& file, std::string_view content) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) {
    throw std::runtime_error("cannot write " + file.string());
  }
}

class TempDir {
 public:
  TempDir() : TempDir("joulie-test") {}
  explicit TempDir(std::string_view prefix) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed: " + pattern);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // path()/name as a string; `name` may hold sub-directories.
  std::string file(std::string_view name) const {
    return (path_ / std::filesystem::path(name)).string();
  }

  // Writes `content` to path()/name (creating sub-directories) and returns the full path.
  std::string write(std::string_view name, std::string_view content) const {
    std::string full = file(name);
    write_file(full, content);
    return full;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace joulie::test
