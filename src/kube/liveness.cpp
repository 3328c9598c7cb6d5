#include "joulie/kube/liveness.hpp"

#include <fmt/format.h>

#include "joulie/common/log.hpp"
#include "joulie/common/metrics.hpp"

namespace joulie::kube {

namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool is_no_answer(Errc code) {
  return code == Errc::timeout || code == Errc::unavailable || code == Errc::io ||
         code == Errc::tls;
}

Result<std::unique_ptr<Client>> make_probe_client(const ClusterConfig& config,
                                                  std::chrono::milliseconds timeout) {
  ClientOptions options;
  options.qps = 0;
  options.retry.max_attempts = 1;
  options.connect_timeout = timeout;
  options.request_timeout = timeout;
  options.max_idle_connections = 1;
  return Client::create(config, options);
}

ReadinessCheck ready_unless_stale(const ApiLiveness& liveness, ReadinessCheck inner) {
  return [&liveness, inner = std::move(inner)] {
    if (liveness.stale()) {
      return Readiness{false, fmt::format("the API server has not answered for {} s",
                                          liveness.silence().count() / 1000)};
    }
    return inner ? inner() : Readiness{true, ""};
  };
}

ApiLiveness::ApiLiveness(Api& probe_api, LivenessOptions options)
    : api_(probe_api), options_(std::move(options)) {
  if (options_.metrics != nullptr) {
    stale_gauge_ = &options_.metrics
                        ->gauge("joulie_kube_api_stale",
                                "1 while the API server has not answered for longer than the "
                                "staleness threshold (the cached view may be stale).")
                        .with({});
    age_gauge_ = &options_.metrics
                      ->gauge("joulie_kube_api_last_answer_age_seconds",
                              "Seconds since the API server last answered a request.")
                      .with({});
    stale_gauge_->set(0);
  }
}

ApiLiveness::~ApiLiveness() { stop(); }

void ApiLiveness::start() {
  last_answer_ns_ = steady_ns();
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { loop(); });
}

void ApiLiveness::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::chrono::milliseconds ApiLiveness::silence() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::nanoseconds(steady_ns() - last_answer_ns_.load()));
}

void ApiLiveness::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    probe_once();
    lock.lock();
    wake_.wait_for(lock, options_.period, [this] { return stopping_; });
  }
}

void ApiLiveness::probe_once() {
  ListOptions one;
  one.limit = 1;
  auto listed = api_.list(options_.resource, "", one);
  bool answered = listed.ok() || !is_no_answer(listed.code());
  if (answered) {
    last_answer_ns_ = steady_ns();
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return;  // the process is exiting: its last log lines are someone else's
    }
  }
  auto silent = silence();
  if (age_gauge_ != nullptr) {
    age_gauge_->set(std::chrono::duration<double>(silent).count());
  }
  if (!answered && !stale_ && silent >= options_.stale_after) {
    stale_ = true;
    if (stale_gauge_ != nullptr) {
      stale_gauge_->set(1);
    }
    log::error(options_.component,
               "the API server is not answering; the cached view is stale (not ready)",
               {{"silent_for_s", std::chrono::duration_cast<std::chrono::seconds>(silent).count()},
                {"error", listed.error()}});
  } else if (answered && stale_) {
    stale_ = false;
    if (stale_gauge_ != nullptr) {
      stale_gauge_->set(0);
    }
    log::info(options_.component, "the API server answers again; ready");
  }
}

}  // namespace joulie::kube
