#include "joulie/agent/failsafe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "joulie/agent/cpufreq.hpp"
#include "joulie/agent/rapl.hpp"
#include "joulie/agent/sysfs.hpp"
#include "joulie/common/log.hpp"
#include "joulie/kube/json.hpp"
#include "joulie/kube/json_fields.hpp"

namespace joulie::agent {
namespace fs = std::filesystem;

namespace {

// The record is ours, but it sits on the host and survives crashes: a record that names files
// outside the sysfs root (absolute paths, "..") is refused instead of followed.
bool safe_relative(const std::string& rel) {
  if (rel.empty()) {
    return false;
  }
  fs::path p(rel);
  if (p.is_absolute()) {
    return false;
  }
  for (const auto& part : p) {
    if (part == "..") {
      return false;
    }
  }
  return true;
}

Status write_atomically(const fs::path& target, const std::string& content) {
  fs::path tmp = target;
  tmp += fmt::format(".tmp.{}", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error(Errc::io, fmt::format("create {}: {}", tmp.string(), std::strerror(errno)));
  }
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Error(Errc::io, fmt::format("write {}: {}", tmp.string(), std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Error(Errc::io, fmt::format("fsync {}: {}", tmp.string(), std::strerror(err)));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error(Errc::io, fmt::format("rename {}: {}", target.string(), std::strerror(err)));
  }
  // The rename is only durable once the directory entry is on disk.
  int dir_fd = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return Status::success();
}

}  // namespace

Status validate_record_name(std::string_view node) {
  if (node.empty() || node == "." || node == ".." || node.find('/') != std::string_view::npos ||
      node.find('\0') != std::string_view::npos) {
    return Error(Errc::invalid_argument,
                 fmt::format("node name {:?} cannot name a state file", std::string(node)));
  }
  return Status::success();
}

FailSafeRecord::FailSafeRecord(fs::path sysfs_root, fs::path state_dir, std::string node)
    : root_(std::move(sysfs_root)),
      state_dir_(std::move(state_dir)),
      file_(state_dir_ / (node + ".json")),
      node_(std::move(node)) {}

Result<std::string> FailSafeRecord::relative(const fs::path& path) const {
  fs::path rel = path.lexically_normal().lexically_relative(root_.lexically_normal());
  std::string text = rel.generic_string();
  if (!safe_relative(text) || text == ".") {
    return Error(Errc::internal,
                 fmt::format("{} is not under the sysfs root {}", path.string(), root_.string()));
  }
  return text;
}

Status FailSafeRecord::load() {
  if (Status valid = validate_record_name(node_); !valid.ok()) {
    return valid;
  }
  std::error_code ec;
  if (!fs::exists(file_, ec)) {
    return Status::success();
  }
  // The record may be larger than a sysfs attribute: read it without the 4 KiB bound.
  std::string content;
  {
    int fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Error(Errc::io, fmt::format("read {}: {}", file_.string(), std::strerror(errno)));
    }
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) {
        content.append(buffer, static_cast<std::size_t>(n));
      }
      if (content.size() > (1u << 20)) {
        break;
      }
    }
    ::close(fd);
    if (n < 0 || content.size() > (1u << 20)) {
      return Error(Errc::io, fmt::format("read {}: failed or too large", file_.string()));
    }
  }
  // Bounded nesting and defined numbers, as for everything read from outside the process.
  auto parsed = kube::parse_object(content);
  if (!parsed.ok()) {
    return Error(Errc::parse, fmt::format("state record {} is not a JSON object", file_.string()));
  }
  // Const view: comparing RapidJSON's mutable member iterators is ambiguous in C++20.
  const rapidjson::Value& doc = parsed.value();
  const rapidjson::Value* files = kube::json::object_at(doc, "files");
  if (files == nullptr) {
    return Error(Errc::parse,
                 fmt::format("state record {} has no \"files\" object", file_.string()));
  }
  std::map<std::string, std::string> loaded;
  for (const auto& entry : files->GetObject()) {
    std::string rel(entry.name.GetString(), entry.name.GetStringLength());
    if (!entry.value.IsString() || !safe_relative(rel)) {
      return Error(Errc::parse,
                   fmt::format("state record {} has an invalid entry {:?}", file_.string(), rel));
    }
    loaded.emplace(std::move(rel),
                   std::string(entry.value.GetString(), entry.value.GetStringLength()));
  }
  auto unknown = doc.FindMember("originalsUnknown");
  std::lock_guard lock(mutex_);
  if (unknown != doc.MemberEnd() && unknown->value.IsBool() && unknown->value.GetBool()) {
    originals_unknown_ = true;
  }
  // Entries already in memory came from this run and are at least as original as the file's.
  for (auto& [rel, original] : loaded) {
    originals_.emplace(rel, std::move(original));
  }
  return Status::success();
}

Status FailSafeRecord::remember(const fs::path& path, std::string_view original) {
  auto rel = relative(path);
  if (!rel.ok()) {
    return rel.error();
  }
  std::lock_guard lock(mutex_);
  if (originals_.count(*rel) != 0) {
    return Status::success();
  }
  originals_.emplace(*rel, std::string(original));
  Status saved = persist_locked();
  if (!saved.ok()) {
    // Unrecorded means unwritable: forget it so the caller does not write, and retries later.
    originals_.erase(*rel);
  }
  return saved;
}

Status FailSafeRecord::forget(const fs::path& path) {
  auto rel = relative(path);
  if (!rel.ok()) {
    return rel.error();
  }
  std::lock_guard lock(mutex_);
  if (originals_.erase(*rel) == 0) {
    return Status::success();
  }
  if (originals_.empty()) {
    std::error_code ec;
    fs::remove(file_, ec);
    return Status::success();
  }
  return persist_locked();
}

bool FailSafeRecord::recorded(const fs::path& path) const {
  auto rel = relative(path);
  std::lock_guard lock(mutex_);
  return rel.ok() && originals_.count(*rel) != 0;
}

std::map<std::string, std::string> FailSafeRecord::entries() const {
  std::lock_guard lock(mutex_);
  return originals_;
}

Status FailSafeRecord::persist_locked() {
  if (Status valid = validate_record_name(node_); !valid.ok()) {
    return valid;
  }
  std::error_code ec;
  fs::create_directories(state_dir_, ec);
  if (ec) {
    return Error(Errc::io,
                 fmt::format("create state dir {}: {}", state_dir_.string(), ec.message()));
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("node");
  writer.String(node_.c_str(), static_cast<rapidjson::SizeType>(node_.size()));
  writer.Key("files");
  writer.StartObject();
  for (const auto& [rel, original] : originals_) {
    writer.Key(rel.c_str(), static_cast<rapidjson::SizeType>(rel.size()));
    writer.String(original.c_str(), static_cast<rapidjson::SizeType>(original.size()));
  }
  writer.EndObject();
  if (originals_unknown_) {
    writer.Key("originalsUnknown");
    writer.Bool(true);
  }
  writer.EndObject();
  return write_atomically(file_, std::string(buffer.GetString(), buffer.GetSize()));
}

Status FailSafeRecord::restore(const Selector& select) {
  std::lock_guard lock(mutex_);
  Status first_failure;
  bool changed = false;
  for (auto it = originals_.begin(); it != originals_.end();) {
    fs::path absolute = root_ / it->first;
    if (select && !select(absolute)) {
      ++it;
      continue;
    }
    Status written = sysfs::write_file(absolute, it->second);
    if (!written.ok() && written.code() == Errc::unavailable) {
      // The file is gone (hot-unplugged CPU, driver unloaded): nothing left to restore there.
      log::warn("agent", "recorded host file disappeared; dropping it from the record",
                {{"node", node_}, {"path", it->first}});
    } else if (!written.ok()) {
      log::error("agent", "restoring a host file failed",
                 {{"node", node_}, {"error", written.error()}});
      if (first_failure.ok()) {
        first_failure = written;
      }
      ++it;
      continue;
    }
    it = originals_.erase(it);
    changed = true;
  }
  // The record's bookkeeping is not a setting: the host files above are what was restored.
  if (originals_.empty()) {
    std::error_code ec;
    fs::remove(file_, ec);
    if (ec) {
      log::warn("agent",
                "settings restored, but the fail-safe record could not be removed (it holds only "
                "true originals; remove it once the state dir is writable)",
                {{"node", node_}, {"record", file_.string()}, {"error", ec.message()}});
    }
  } else if (changed) {
    if (Status saved = persist_locked(); !saved.ok()) {
      log::warn("agent", "the fail-safe record could not be updated after a partial restore",
                {{"node", node_}, {"record", file_.string()}, {"error", saved.error()}});
    }
  }
  return first_failure;
}

bool FailSafeRecord::originals_unknown() const {
  std::lock_guard lock(mutex_);
  return originals_unknown_;
}

Status FailSafeRecord::set_aside_unusable() {
  std::lock_guard lock(mutex_);
  fs::path aside = file_;
  aside += ".unusable";
  if (::rename(file_.c_str(), aside.c_str()) != 0 && errno != ENOENT) {
    return Error(Errc::io, fmt::format("set aside {}: {}", file_.string(), std::strerror(errno)));
  }
  originals_.clear();
  originals_unknown_ = true;
  return Status::success();
}

Result<HardwareDefaults> adopt_hardware_maximum(FailSafeRecord& record) {
  if (Status aside = record.set_aside_unusable(); !aside.ok()) {
    return aside.error();
  }
  HardwareDefaults out;
  const fs::path& root = record.sysfs_root();
  auto add = [&](const fs::path& file, uint64_t value) -> Status {
    if (Status saved = record.remember(file, fmt::format("{}\n", value)); !saved.ok()) {
      return saved;
    }
    out.recorded.push_back(file.lexically_relative(root).generic_string());
    return Status::success();
  };
  if (auto zones = discover_rapl_zones(root); zones.ok()) {
    for (const RaplZone& zone : *zones) {
      if (!zone.max_power_uw) {
        out.unknown.push_back(zone.limit_file().lexically_relative(root).generic_string());
      } else if (Status s = add(zone.limit_file(), *zone.max_power_uw); !s.ok()) {
        return s.error();
      }
    }
  }
  if (auto policies = discover_cpufreq_policies(root); policies.ok()) {
    for (const CpufreqPolicy& policy : *policies) {
      if (Status s = add(policy.dir / "scaling_max_freq", policy.cpuinfo_max_khz); !s.ok()) {
        return s.error();
      }
    }
  }
  return out;
}

RestoreSummary restore_from_state_dir(const fs::path& sysfs_root, const fs::path& state_dir,
                                      const std::string& node) {
  RestoreSummary summary;
  FailSafeRecord record(sysfs_root, state_dir, node);
  if (Status loaded = record.load(); !loaded.ok()) {
    if (loaded.code() != Errc::parse) {
      summary.error = loaded.error().message;
      return summary;
    }
    log::error("agent",
               "fail-safe record unusable: originals unknown; restoring the hardware maximum "
               "instead",
               {{"node", node}, {"record", record.file().string()}, {"error", loaded.error()}});
    auto adopted = adopt_hardware_maximum(record);
    if (!adopted.ok()) {
      summary.error = adopted.error().message;
      return summary;
    }
    summary.unknown = adopted->unknown;
  }
  summary.originals_unknown = record.originals_unknown();
  std::map<std::string, std::string> before = record.entries();
  Status restored = record.restore();
  std::map<std::string, std::string> after = record.entries();
  for (const auto& [rel, value] : before) {
    (after.contains(rel) ? summary.not_restored : summary.restored).push_back(rel);
  }
  if (!restored.ok()) {
    summary.error = restored.error().message;
  }
  return summary;
}

}  // namespace joulie::agent
