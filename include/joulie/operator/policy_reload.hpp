#pragma once
// Hot reload of the policy file (docs/design.md#policy-file): the file's content is compared with
// the last version seen at a short interval (a ConfigMap volume updates through a symlink swap of
// `..data`, so content, not mtime or inode, is what counts). A changed version that parses and
// validates is handed to `apply`; one that does not is handed to `reject` once (not once per
// poll) and the last good version stays in force.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "joulie/common/duration.hpp"
#include "joulie/common/result.hpp"
#include "joulie/config/policy_file.hpp"

namespace joulie::operator_mode {

class PolicyFileWatcher {
 public:
  // apply: returns an error when the new version is valid YAML but cannot be put in force
  // (e.g. rule_swap_v1 with a sub-second interval); it is then rejected like a parse error.
  using Apply = std::function<Status(const config::LoadedPolicyFile& file)>;
  using Reject = std::function<void(const std::string& message)>;

  PolicyFileWatcher(std::string path, std::string zoneinfo_root, std::string current_content,
                    Apply apply, Reject reject);
  ~PolicyFileWatcher();
  PolicyFileWatcher(const PolicyFileWatcher&) = delete;
  PolicyFileWatcher& operator=(const PolicyFileWatcher&) = delete;

  // One look at the file (the thread calls it; tests call it directly).
  void check();

  void start(Duration poll);
  void stop();

 private:
  std::string path_;
  std::string zoneinfo_root_;
  std::string last_seen_;  // the content of the last version looked at, good or bad
  bool unreadable_ = false;
  Apply apply_;
  Reject reject_;

  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace joulie::operator_mode
