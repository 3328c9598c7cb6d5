#pragma once
// Fail-safe record of original host settings (docs/design.md#fail-safe-restore).
//
// Before the first write to a host file, its original content is stored in
// <state-dir>/<node>.json (temp file, fsync, rename, fsync of the directory). A record left by a
// crashed agent is loaded and kept: paths already recorded are never overwritten with whatever
// (capped) value the file holds now; new paths are added. Restoring writes the originals back and
// removes the record. Paths are stored relative to the sysfs root, so `--restore` works with the
// same root the agent used.
//
// Record format: {"node": "<node>", "files": {"<relative path>": "<original bytes>", …}}
// plus "originalsUnknown": true when the values are the hardware's maximum standing in for
// originals a torn record lost (adopt_hardware_maximum).

#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

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
  // failure is returned and the failed entries stay recorded for a later attempt. A record file
  // that cannot be updated or removed (unwritable state dir) is logged, not a failure: every
  // value it still holds is a true original, so a later restore from it is harmless.
  using Selector = std::function<bool(const std::filesystem::path& absolute)>;
  Status restore(const Selector& select = {});

  // The originals were lost (unusable record): the recorded values are the hardware maximum.
  bool originals_unknown() const;
  // Sets aside an unusable record file as <node>.json.unusable (kept for inspection) and starts
  // an empty record that says its originals are unknown.
  Status set_aside_unusable();

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
  bool originals_unknown_ = false;
};

// "Originals unknown": the record at `record.file()` is unusable (torn, truncated, not ours).
// Sets it aside and records the hardware's own maximum as the value to restore: for each RAPL
// package/mmio zone its constraint_K_max_power_uw (a zone that reports none is left out and
// named in `unknown`), for each cpufreq policy its cpuinfo_max_freq. A restore then lifts every
// cap instead of leaving the last one in force.
struct HardwareDefaults {
  std::vector<std::string> recorded;  // relative paths now recorded with the hardware maximum
  std::vector<std::string> unknown;   // limit files whose maximum the hardware does not report
};
Result<HardwareDefaults> adopt_hardware_maximum(FailSafeRecord& record);

// `joulie agent --restore`: writes back everything recorded for `node` and removes the record.
// No record → success (nothing to do). An unusable record → adopt_hardware_maximum, then the
// same restore; `originals_unknown` says so.
struct RestoreSummary {
  std::vector<std::string> restored;      // relative paths written back
  std::vector<std::string> not_restored;  // relative paths still as the agent left them
  std::vector<std::string> unknown;       // limit files with neither original nor maximum
  bool originals_unknown = false;
  std::string error;  // why something is not restored (first failure)
  bool complete() const { return not_restored.empty() && unknown.empty() && error.empty(); }
};
RestoreSummary restore_from_state_dir(const std::filesystem::path& sysfs_root,
                                      const std::filesystem::path& state_dir,
                                      const std::string& node);

// The node name as a file name: rejects names that would escape the state directory.
Status validate_record_name(std::string_view node);

}  // namespace joulie::agent
