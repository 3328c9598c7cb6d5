#include "joulie/agent/host_files.hpp"

#include "joulie/agent/sysfs.hpp"

namespace joulie::agent {

HostFiles::HostFiles(std::filesystem::path sysfs_root, std::shared_ptr<FailSafeRecord> record)
    : root_(std::move(sysfs_root)), record_(std::move(record)) {}

Result<std::string> HostFiles::read(const std::filesystem::path& path) const {
  return sysfs::read_file(path);
}

Status HostFiles::write(const std::filesystem::path& path, std::string_view content) {
  bool newly_recorded = false;
  if (record_ && !record_->recorded(path)) {
    auto original = read(path);
    if (!original.ok()) {
      // Never write what we could not put back.
      return original.error();
    }
    if (Status saved = record_->remember(path, *original); !saved.ok()) {
      return saved;
    }
    newly_recorded = true;
  }
  Status written = write_raw(path, content);
  if (!written.ok() && newly_recorded) {
    // The file kept its content; a record of it would only make restore fail later.
    (void)record_->forget(path);
  }
  return written;
}

Status HostFiles::write_raw(const std::filesystem::path& path, std::string_view content) {
  return sysfs::write_file(path, content);
}

Status HostFiles::restore(const FailSafeRecord::Selector& select) {
  if (!record_) {
    return Status::success();
  }
  return record_->restore(select);
}

}  // namespace joulie::agent
