#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection package.
//
// Every retry period a candidate reads the Lease. It takes the Lease when nobody holds it or when
// the holder's record has not changed for leaseDurationSeconds, measured on the LOCAL clock from
// the moment this candidate observed the last change (remote timestamps are never compared with
// our clock, so clock skew between nodes does not matter). Writes use the Lease's resourceVersion
// (optimistic concurrency): a 409 means someone else wrote first, and the next attempt re-reads.
// The leader renews every retry period; if it cannot renew for the renew deadline it stops leading
// at once (a watchdog thread fires the callback even while a request hangs, and is_leader() turns
// false at the deadline by itself). The deadline is shorter than the lease duration, so a leader
// has stopped before any other candidate can consider the Lease expired.
//
// Callbacks run on the elector's threads; they must be quick and must not call back into the
// elector (the operator's stopped_leading exits the process).

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "joulie/common/clock.hpp"
#include "joulie/common/result.hpp"
#include "joulie/kube/api.hpp"
#include "joulie/kube/backoff.hpp"

namespace joulie::kube {

struct LeaderElectionOptions {
  Resource lease_resource{"coordination.k8s.io", "v1", "leases", "Lease", true};
  std::string ns = "default";
  std::string name = "joulie-operator";
  std::string identity;  // default_identity() when empty
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  // Candidates wait retry_period × [1, 1 + jitter) between attempts so that they do not all
  // hit the server together; the leader renews every retry_period exactly.
  double retry_jitter = 0.2;
  // On a clean stop, hand the Lease back (empty holder) so that a standby takes over at its next
  // attempt instead of waiting for the lease to expire.
  bool release_on_stop = true;
  const Clock* clock = nullptr;  // RealClock when null
  RandomSource random;           // default_random() when empty
  // Annotations the holder writes on the Lease with each acquire and renewal (the operator's
  // published state): riding on the renewal costs no request of its own. Called on the elector's
  // thread; must be quick. Empty: none.
  std::function<std::map<std::string, std::string>()> annotations;
};

struct LeaderCallbacks {
  std::function<void()> started_leading;
  std::function<void()> stopped_leading;
  std::function<void(const std::string& holder)> new_leader;  // holder changed (may be "")
};

// $POD_NAME, else the host name, plus "_" and 8 random hex digits (a restarted process is a new
// candidate, never mistaken for the old holder).
std::string default_identity();

// RFC 3339 with microseconds, as the API server writes MicroTime: 2026-11-29T10:00:00.123456Z
std::string format_micro_time(SystemTime t);

class LeaderElector {
 public:
  LeaderElector(Api& api, LeaderElectionOptions options, LeaderCallbacks callbacks = {});
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // lease_duration > renew_deadline > retry_period > 0, and a name, namespace and identity.
  static Status validate(const LeaderElectionOptions& options);

  // Runs attempts every retry period plus the deadline watchdog, on two threads.
  void start();
  // Stops the threads; if leading, stops leading (callback) and then releases the Lease.
  void stop();

  // One acquire-or-renew attempt now; returns whether this candidate leads afterwards. start()
  // calls it every retry period; tests call it directly with a ManualClock.
  bool tick();
  // Stops leading if the last successful renew is older than the renew deadline.
  bool check_deadline();

  // True only while leading AND within the renew deadline of the last successful renew.
  bool is_leader() const;
  const std::string& identity() const { return options_.identity; }
  // The holder seen in the last read of the Lease ("" when free or never read).
  std::string leader() const;

 private:
  struct Record {
    std::string holder;
    int64_t duration_seconds = 0;
    std::string acquire_time;
    std::string renew_time;
    int64_t transitions = 0;
    bool operator==(const Record&) const = default;
  };
  static Record read_record(const rapidjson::Value& lease);
  static void write_record(rapidjson::Value& lease, const Record& record,
                           rapidjson::Document::AllocatorType& allocator);
  void write_annotations(rapidjson::Value& lease, rapidjson::Document::AllocatorType& allocator);

  bool try_create(SystemTime now_wall, SteadyTime now);
  void renewed(SteadyTime now, const Record& record);
  void become_leader();
  void lose_leadership(const char* why);
  void release();
  void run_attempts();
  void run_watchdog();

  Api& api_;
  LeaderElectionOptions options_;
  LeaderCallbacks callbacks_;
  const Clock* clock_;
  RandomSource random_;

  mutable std::mutex mutex_;  // observed_*, holder_
  std::optional<Record> observed_;
  SteadyTime observed_at_{};
  std::string holder_;

  std::mutex transition_mutex_;  // serialises leading_ changes and their callbacks
  std::atomic<bool> leading_{false};
  std::atomic<int64_t> last_renew_ns_{0};  // steady clock, since its epoch

  StopSignal stop_;
  std::mutex thread_mutex_;
  std::thread attempts_;
  std::thread watchdog_;
};

}  // namespace joulie::kube
