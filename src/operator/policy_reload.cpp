#include "joulie/operator/policy_reload.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace joulie::operator_mode {

PolicyFileWatcher::PolicyFileWatcher(std::string path, std::string zoneinfo_root,
                                     std::string current_content, Apply apply, Reject reject)
    : path_(std::move(path)),
      zoneinfo_root_(std::move(zoneinfo_root)),
      last_seen_(std::move(current_content)),
      apply_(std::move(apply)),
      reject_(std::move(reject)) {}

PolicyFileWatcher::~PolicyFileWatcher() { stop(); }

void PolicyFileWatcher::check() {
  std::ifstream in(path_, std::ios::binary);
  std::ostringstream bytes;
  if (in) {
    bytes << in.rdbuf();
  }
  if (!in || in.bad()) {
    // A ConfigMap mount swaps its symlink atomically, so a read failure is a real problem
    // (file deleted, permissions): reported once; the last good version stays.
    if (!unreadable_) {
      unreadable_ = true;
      reject_(fmt::format("{}: cannot read the policy file", path_));
    }
    return;
  }
  unreadable_ = false;
  std::string content = bytes.str();
  if (content == last_seen_) {
    return;
  }
  last_seen_ = content;
  auto loaded = config::parse_policy_file(content, path_, [this](const std::string& name) {
    return config::load_zone(name, zoneinfo_root_);
  });
  if (!loaded.ok()) {
    reject_(loaded.error().message);
    return;
  }
  if (Status s = apply_(*loaded); !s.ok()) {
    reject_(fmt::format("{}: {}", path_, s.error().message));
  }
}

void PolicyFileWatcher::start(Duration poll) {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this, poll] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      cv_.wait_for(lock, poll, [this] { return stopping_; });
      if (stopping_) {
        break;
      }
      lock.unlock();
      check();
      lock.lock();
    }
  });
}

void PolicyFileWatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

}  // namespace joulie::operator_mode
