#pragma once
// Fail-safe record of original host settings (SPEC §5.7).
//
// Before the first write to a host file, its original content is stored in
// <state-dir>/<node>.json (temp file, fsync, rename, fsync of the directory). A record left by a
// crashed agent is loaded and kept: paths already recorded are never overwritten with whatever
// (capped) value the file holds now; new paths are added. Restoring writes the originals back and
// removes the record. Paths are stored relative to the sysfs root, so `--restore` works with the
// same root the agent used.
//
// Record format: {"node": "<node>", "files": {"<relative path>": "<original bytes>", …}}

#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "joulie/common/result.hpp"

namespace joulie::agent {

class FailSafeRecord {
 public:
  // `sysfs_root` is where relative paths resolve; `state_dir/<node>.json` is the record.
  FailSafeRecord(std::filesystem::path sysfs_root, std::filesystem::path state_dir,
                 std::string node);

  // Loads the record left by an earlier run, if any. A missing record is not an error; an
  // unreadable or malformed one is (the agent must not write over settings it cannot restore).
  Status load();

  // Records `original` for `path` (absolute, under the sysfs root) unless it is recorded already,
  // and persists the record. Must succeed before the file is written.
  Status remember(const std::filesystem::path& path, std::string_view original);

  // Drops `path` from the record (a write that failed left the file unchanged).
  Status forget(const std::filesystem::path& path);

  bool recorded(const std::filesystem::path& path) const;
  std::map<std::string, std::string> entries() const;

  // Writes back the originals of the recorded files `select` accepts (all when empty), forgets
  // them, and removes the record file once nothing is left. Every file is attempted; the first
  // failure is returned and the failed entries stay recorded for a later attempt.
  using Selector = std::function<bool(const std::filesystem::path& absolute)>;
  Status restore(const Selector& select = {});

  const std::filesystem::path& file() const { return file_; }
  const std::filesystem::path& sysfs_root() const { return root_; }

 private:
  Result<std::string> relative(const std::filesystem::path& path) const;
  Status persist_locked();

  std::filesystem::path root_;
  std::filesystem::path state_dir_;
  std::filesystem::path file_;
  std::string node_;
  mutable std::mutex mutex_;
  std::map<std::string, std::string> originals_;  // relative path → original bytes
};

// `joulie agent --restore`: writes back everything recorded for `node` and removes the record.
// No record → success (nothing to do).
Status restore_from_state_dir(const std::filesystem::path& sysfs_root,
                              const std::filesystem::path& state_dir, const std::string& node);

// The node name as a file name: rejects names that would escape the state directory.
Status validate_record_name(std::string_view node);

}  // namespace joulie::agent
