#pragma once
// Writes to host sysfs files go through here so that the original content is recorded in the
// fail-safe record (docs/design.md#fail-safe-restore) before the first write, and read back
// afterwards.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "joulie/agent/failsafe.hpp"
#include "joulie/common/result.hpp"

namespace joulie::agent {

class HostFiles {
 public:
  // `record` may be null (tests, simulate runs): writes then are not recorded.
  HostFiles(std::filesystem::path sysfs_root, std::shared_ptr<FailSafeRecord> record);
  virtual ~HostFiles() = default;

  const std::filesystem::path& root() const { return root_; }
  FailSafeRecord* record() const { return record_.get(); }

  virtual Result<std::string> read(const std::filesystem::path& path) const;
  // Records the original content (first write only), then writes `content`.
  Status write(const std::filesystem::path& path, std::string_view content);
  // Writes back the originals of the recorded files `select` accepts.
  Status restore(const FailSafeRecord::Selector& select);

 protected:
  // The raw write; tests override it to model firmware that silently ignores writes.
  virtual Status write_raw(const std::filesystem::path& path, std::string_view content);

 private:
  std::filesystem::path root_;
  std::shared_ptr<FailSafeRecord> record_;
};

}  // namespace joulie::agent
