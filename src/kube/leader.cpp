#include "joulie/kube/leader.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "joulie/common/duration.hpp"
#include "joulie/common/log.hpp"
#include "joulie/kube/json_fields.hpp"

namespace joulie::kube {

namespace {

constexpr const char* kComponent = "leader";

void put_member(rapidjson::Value& object, const char* name, rapidjson::Value value,
                rapidjson::Document::AllocatorType& a) {
  // HasMember + operator[] rather than comparing RapidJSON's mutable member iterators, which is
  // ambiguous in C++20 (clang's -Wambiguous-reversed-operator).
  if (object.HasMember(name)) {
    object[name] = std::move(value);
  } else {
    object.AddMember(rapidjson::Value(name, a), std::move(value), a);
  }
}

int64_t steady_ns(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string default_identity() {
  std::string base;
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') {
    base = pod;
  } else {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0') {
      base = host;
    } else {
      base = "joulie";
    }
  }
  auto random = default_random();
  auto suffix = static_cast<uint32_t>(random() * 4294967296.0);
  return fmt::format("{}_{:08x}", base, suffix);
}

std::string format_micro_time(SystemTime t) {
  auto seconds = std::chrono::floor<std::chrono::seconds>(t);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - seconds).count();
  std::string text = format_rfc3339(seconds, false);  // ...:05Z
  text.insert(text.size() - 1, fmt::format(".{:06}", micros));
  return text;
}

LeaderElector::LeaderElector(Api& api, LeaderElectionOptions options, LeaderCallbacks callbacks)
    : api_(api),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      clock_(options_.clock ? options_.clock : &RealClock::instance()),
      random_(options_.random ? options_.random : default_random()) {
  if (options_.identity.empty()) {
    options_.identity = default_identity();
  }
}

LeaderElector::~LeaderElector() { stop(); }

Status LeaderElector::validate(const LeaderElectionOptions& o) {
  if (o.name.empty() || o.ns.empty()) {
    return Error(Errc::invalid_argument, "leader election needs a lease name and namespace");
  }
  if (o.retry_period.count() <= 0) {
    return Error(Errc::invalid_argument, "leader election retry period must be positive");
  }
  if (o.renew_deadline <= o.retry_period) {
    return Error(Errc::invalid_argument,
                 "leader election renew deadline must be longer than the retry period");
  }
  if (o.lease_duration <= o.renew_deadline) {
    return Error(Errc::invalid_argument,
                 "leader election lease duration must be longer than the renew deadline");
  }
  if (o.lease_duration < std::chrono::seconds(1)) {
    return Error(Errc::invalid_argument, "leader election lease duration must be at least 1s");
  }
  return Status::success();
}

LeaderElector::Record LeaderElector::read_record(const rapidjson::Value& lease) {
  Record r;
  if (!lease.IsObject()) {
    return r;
  }
  const rapidjson::Value* spec = json::object_at(lease, "spec");
  if (spec == nullptr) {
    return r;
  }
  r.holder = json::string_or_empty(*spec, "holderIdentity");
  r.duration_seconds = json::int_at(*spec, "leaseDurationSeconds").value_or(0);
  r.acquire_time = json::string_or_empty(*spec, "acquireTime");
  r.renew_time = json::string_or_empty(*spec, "renewTime");
  r.transitions = json::int_at(*spec, "leaseTransitions").value_or(0);
  return r;
}

void LeaderElector::write_record(rapidjson::Value& lease, const Record& r,
                                 rapidjson::Document::AllocatorType& a) {
  if (!lease.IsObject()) {
    lease.SetObject();
  }
  if (!lease.HasMember("spec") || !lease["spec"].IsObject()) {
    put_member(lease, "spec", rapidjson::Value(rapidjson::kObjectType), a);
  }
  rapidjson::Value& spec = lease["spec"];
  put_member(spec, "holderIdentity", rapidjson::Value(r.holder.c_str(), a), a);
  put_member(spec, "leaseDurationSeconds", rapidjson::Value(r.duration_seconds), a);
  put_member(spec, "acquireTime", rapidjson::Value(r.acquire_time.c_str(), a), a);
  put_member(spec, "renewTime", rapidjson::Value(r.renew_time.c_str(), a), a);
  put_member(spec, "leaseTransitions", rapidjson::Value(r.transitions), a);
}

void LeaderElector::write_annotations(rapidjson::Value& lease,
                                      rapidjson::Document::AllocatorType& a) {
  if (!options_.annotations || !lease.IsObject()) {
    return;
  }
  auto values = options_.annotations();
  if (values.empty()) {
    return;
  }
  if (!lease.HasMember("metadata") || !lease["metadata"].IsObject()) {
    put_member(lease, "metadata", rapidjson::Value(rapidjson::kObjectType), a);
  }
  rapidjson::Value& metadata = lease["metadata"];
  if (!metadata.HasMember("annotations") || !metadata["annotations"].IsObject()) {
    put_member(metadata, "annotations", rapidjson::Value(rapidjson::kObjectType), a);
  }
  rapidjson::Value& annotations = metadata["annotations"];
  for (const auto& [key, value] : values) {
    put_member(annotations, key.c_str(), rapidjson::Value(value.c_str(), a), a);
  }
}

bool LeaderElector::is_leader() const {
  if (!leading_.load()) {
    return false;
  }
  auto since_renew = steady_ns(clock_->monotonic()) - last_renew_ns_.load();
  return since_renew < std::chrono::nanoseconds(options_.renew_deadline).count();
}

std::string LeaderElector::leader() const {
  std::lock_guard lock(mutex_);
  return holder_;
}

void LeaderElector::renewed(SteadyTime now, const Record& record) {
  {
    std::lock_guard lock(mutex_);
    observed_ = record;
    observed_at_ = now;
    holder_ = record.holder;
  }
  last_renew_ns_.store(steady_ns(now));
  if (!leading_.load()) {
    become_leader();
  }
}

void LeaderElector::become_leader() {
  std::lock_guard lock(transition_mutex_);
  if (leading_.load()) {
    return;
  }
  leading_.store(true);
  log::info(kComponent, "started leading",
            {{"lease", options_.ns + "/" + options_.name}, {"identity", options_.identity}});
  if (callbacks_.started_leading) {
    callbacks_.started_leading();
  }
}

void LeaderElector::lose_leadership(const char* why) {
  std::lock_guard lock(transition_mutex_);
  if (!leading_.load()) {
    return;
  }
  leading_.store(false);
  log::warn(kComponent, "stopped leading",
            {{"lease", options_.ns + "/" + options_.name},
             {"identity", options_.identity},
             {"reason", why}});
  if (callbacks_.stopped_leading) {
    callbacks_.stopped_leading();
  }
}

bool LeaderElector::check_deadline() {
  if (leading_.load() && !is_leader()) {
    lose_leadership("failed to renew the lease within the renew deadline");
  }
  return leading_.load();
}

bool LeaderElector::try_create(SystemTime now_wall, SteadyTime now) {
  Record record;
  record.holder = options_.identity;
  record.duration_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(options_.lease_duration).count();
  record.acquire_time = format_micro_time(now_wall);
  record.renew_time = record.acquire_time;
  record.transitions = 0;

  rapidjson::Document lease(rapidjson::kObjectType);
  auto& a = lease.GetAllocator();
  lease.AddMember("apiVersion", rapidjson::Value(options_.lease_resource.api_version().c_str(), a),
                  a);
  lease.AddMember("kind", rapidjson::Value(options_.lease_resource.kind.c_str(), a), a);
  rapidjson::Value metadata(rapidjson::kObjectType);
  metadata.AddMember("name", rapidjson::Value(options_.name.c_str(), a), a);
  metadata.AddMember("namespace", rapidjson::Value(options_.ns.c_str(), a), a);
  lease.AddMember("metadata", metadata, a);
  write_record(lease, record, a);
  write_annotations(lease, a);

  auto created = api_.create(options_.lease_resource, options_.ns, lease);
  if (!created.ok()) {
    if (created.code() != Errc::already_exists) {
      log::warn(kComponent, "cannot create the lease", {{"error", created.error()}});
    }
    return false;
  }
  renewed(now, record);
  return true;
}

bool LeaderElector::tick() {
  SystemTime now_wall = clock_->now();
  SteadyTime now = clock_->monotonic();

  auto current = api_.get(options_.lease_resource, options_.ns, options_.name);
  if (!current.ok()) {
    if (current.code() == Errc::not_found) {
      try_create(now_wall, now);
    } else {
      log::warn(kComponent, "cannot read the lease", {{"error", current.error()}});
    }
    return check_deadline();
  }

  Record old = read_record(*current);
  bool holder_changed = false;
  SteadyTime observed_at;
  {
    std::lock_guard lock(mutex_);
    if (!observed_ || !(*observed_ == old)) {
      holder_changed = !observed_ || observed_->holder != old.holder;
      observed_ = old;
      observed_at_ = now;  // the LOCAL time we saw this record change
    }
    observed_at = observed_at_;
    holder_ = old.holder;
  }
  if (holder_changed) {
    log::info(kComponent, "lease holder observed",
              {{"lease", options_.ns + "/" + options_.name}, {"holder", old.holder}});
    if (callbacks_.new_leader) {
      callbacks_.new_leader(old.holder);
    }
  }

  bool mine = old.holder == options_.identity;
  if (!old.holder.empty() && !mine) {
    auto duration = old.duration_seconds > 0
                        ? std::chrono::seconds(old.duration_seconds)
                        : std::chrono::duration_cast<std::chrono::seconds>(options_.lease_duration);
    if (now < observed_at + duration) {
      // Held by someone else and not expired. If we thought we led, we no longer do.
      lose_leadership("the lease is held by another candidate");
      return false;
    }
    log::info(kComponent, "lease expired; taking over",
              {{"previous", old.holder}, {"identity", options_.identity}});
  }

  Record next;
  next.holder = options_.identity;
  next.duration_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(options_.lease_duration).count();
  next.renew_time = format_micro_time(now_wall);
  if (mine && !old.acquire_time.empty()) {
    next.acquire_time = old.acquire_time;
    next.transitions = old.transitions;
  } else {
    next.acquire_time = next.renew_time;
    next.transitions = old.holder.empty() && old.transitions == 0 && old.acquire_time.empty()
                           ? 0
                           : old.transitions + 1;
  }

  rapidjson::Document& lease = *current;
  write_record(lease, next, lease.GetAllocator());  // keeps metadata.resourceVersion
  write_annotations(lease, lease.GetAllocator());
  auto updated = api_.update(options_.lease_resource, options_.ns, lease);
  if (!updated.ok()) {
    if (updated.code() == Errc::conflict) {
      log::debug(kComponent, "lease changed under us; re-reading at the next attempt");
    } else {
      log::warn(kComponent, mine ? "cannot renew the lease" : "cannot acquire the lease",
                {{"error", updated.error()}});
    }
    return check_deadline();
  }
  renewed(now, next);
  return true;
}

void LeaderElector::release() {
  auto current = api_.get(options_.lease_resource, options_.ns, options_.name);
  if (!current.ok()) {
    log::warn(kComponent, "cannot release the lease", {{"error", current.error()}});
    return;
  }
  Record record = read_record(*current);
  if (record.holder != options_.identity) {
    return;  // somebody else's already
  }
  std::string now = format_micro_time(clock_->now());
  record.holder.clear();
  record.duration_seconds = 1;
  record.acquire_time = now;
  record.renew_time = now;
  write_record(*current, record, current->GetAllocator());
  auto updated = api_.update(options_.lease_resource, options_.ns, *current);
  if (!updated.ok()) {
    log::warn(kComponent, "cannot release the lease", {{"error", updated.error()}});
    return;
  }
  log::info(kComponent, "released the lease", {{"lease", options_.ns + "/" + options_.name}});
}

void LeaderElector::run_attempts() {
  while (!stop_.stopped()) {
    bool leading = tick();
    auto delay = options_.retry_period;
    if (!leading) {
      double r = std::clamp(random_(), 0.0, 1.0);
      delay += std::chrono::milliseconds(static_cast<int64_t>(
          static_cast<double>(options_.retry_period.count()) * options_.retry_jitter * r));
    }
    stop_.wait_for(delay);
  }
}

void LeaderElector::run_watchdog() {
  // Wakes at the renew deadline (re-armed after each renew), so leadership ends on time even
  // when the attempt thread is stuck in a request.
  auto cap =
      std::min<std::chrono::milliseconds>(options_.retry_period, std::chrono::milliseconds(250));
  while (!stop_.stopped()) {
    check_deadline();
    auto wait = cap;
    if (leading_.load()) {
      auto deadline_ns =
          last_renew_ns_.load() + std::chrono::nanoseconds(options_.renew_deadline).count();
      auto remaining = std::chrono::ceil<std::chrono::milliseconds>(
          std::chrono::nanoseconds(deadline_ns - steady_ns(clock_->monotonic())));
      wait = std::clamp(remaining, std::chrono::milliseconds(1), cap);
    }
    stop_.wait_for(wait);
  }
}

void LeaderElector::start() {
  std::lock_guard lock(thread_mutex_);
  if (attempts_.joinable()) {
    return;
  }
  stop_.reset();
  log::info(kComponent, "candidate for the lease",
            {{"lease", options_.ns + "/" + options_.name}, {"identity", options_.identity}});
  attempts_ = std::thread([this] { run_attempts(); });
  watchdog_ = std::thread([this] { run_watchdog(); });
}

void LeaderElector::stop() {
  stop_.request_stop();
  {
    std::lock_guard lock(thread_mutex_);
    auto self = std::this_thread::get_id();
    for (std::thread* t : {&attempts_, &watchdog_}) {
      if (t->joinable() && t->get_id() != self) {
        t->join();
      }
    }
  }
  if (leading_.load()) {
    // Stop writing first, then hand the lease over: never two writers.
    lose_leadership("stopping");
    if (options_.release_on_stop) {
      release();
    }
  }
}

}  // namespace joulie::kube
