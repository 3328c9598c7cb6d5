// Client::watch: one streaming GET per watch on its own connection, decoded incrementally. A
// companion thread ends the request (httplib Client::stop shuts the socket down) when the caller
// sets `stop` or when nothing arrives for the read-idle timeout.
#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "client_impl.hpp"
#include "joulie/common/log.hpp"
#include "joulie/kube/client.hpp"
#include "joulie/kube/errors.hpp"
#include "watch_decoder.hpp"

namespace joulie::kube {

namespace {

constexpr auto kStopPoll = std::chrono::milliseconds(50);
constexpr size_t kMaxErrorBody = 1u << 20;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string watch_path(const Resource& r, std::string_view ns, const WatchOptions& o) {
  std::string path = r.path(url_encode(ns)) + "?watch=1";
  if (o.allow_bookmarks) {
    path += "&allowWatchBookmarks=true";
  }
  if (!o.resource_version.empty()) {
    path += "&resourceVersion=" + url_encode(o.resource_version);
  }
  if (o.server_timeout.count() > 0) {
    path += "&timeoutSeconds=" + std::to_string(o.server_timeout.count());
  }
  if (!o.label_selector.empty()) {
    path += "&labelSelector=" + url_encode(o.label_selector);
  }
  if (!o.field_selector.empty()) {
    path += "&fieldSelector=" + url_encode(o.field_selector);
  }
  return path;
}

// The streaming GET, without its callbacks.
httplib::Request watch_request(std::string url_path, const std::string& user_agent,
                               const std::string& host, const std::string& token) {
  httplib::Request req;
  req.method = "GET";
  req.path = std::move(url_path);
  req.headers.emplace("User-Agent", user_agent);
  req.headers.emplace("Accept", "application/json");
  req.headers.emplace("Host", host);
  if (!token.empty()) {
    req.headers.emplace("Authorization", "Bearer " + token);
  }
  return req;
}

// What the streaming request saw, filled by httplib's callbacks.
struct WatchStream {
  std::atomic<int64_t> last_activity{now_ns()};
  int http_status = 0;
  std::string error_body;  // of a non-200 answer, bounded
  std::optional<Error> decode_error;
};

// The companion thread: ends the request on the caller's stop or when nothing arrived for
// `idle_ns`. stop() is repeated because it is a no-op while the socket is still being connected.
class WatchCompanion {
 public:
  WatchCompanion(httplib::ClientImpl& http, const std::atomic<bool>& stop,
                 const std::atomic<int64_t>& last_activity, int64_t idle_ns)
      : thread_([this, &http, &stop, &last_activity, idle_ns] {
          std::unique_lock<std::mutex> lock(mutex_);
          while (!done_cv_.wait_for(lock, kStopPoll, [&] { return done_; })) {
            const bool stopping = stop.load();
            if (!stopping && now_ns() - last_activity.load() >= idle_ns) {
              idle_ = true;
            }
            if (stopping || idle_.load()) {
              http.stop();
            }
          }
        }) {}
  WatchCompanion(const WatchCompanion&) = delete;
  WatchCompanion& operator=(const WatchCompanion&) = delete;
  ~WatchCompanion() { finish(); }

  // The request has returned: end the thread.
  void finish() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  bool idle() const { return idle_.load(); }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::atomic<bool> idle_{false};
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace

Status Client::watch(const Resource& r, std::string_view ns, const WatchOptions& options,
                     const WatchHandler& handler, const std::atomic<bool>& stop) {
  Impl& impl = *impl_;
  const std::string path = watch_path(r, ns, options);
  const std::string what = fmt::format("WATCH {}", path.substr(0, 200));
  impl.throttle();
  auto credentials = impl.credentials.current();
  if (!credentials.ok()) {
    return std::move(credentials).error();
  }
  auto made = impl.connections.make(credentials.value(), options.read_idle_timeout);
  if (!made.ok()) {
    return std::move(made).error();
  }
  Connection& conn = *made.value();
  conn.http->set_keep_alive(false);

  std::optional<Error> event_error;  // an ERROR event ends the watch with its Status
  WatchDecoder decoder([&](WatchEvent&& event) {
    if (event.type == WatchEventType::error) {
      event_error = error_from_status(event.object, 500);
      handler(std::move(event));
      return false;
    }
    return handler(std::move(event));
  });

  WatchStream stream;
  httplib::Request req = watch_request(impl.url_path(path), impl.user_agent(),
                                       impl.connections.server().host_header, credentials->token);
  req.response_handler = [&](const httplib::Response& res) {
    stream.http_status = res.status;
    stream.last_activity = now_ns();
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    stream.last_activity = now_ns();
    if (stop.load()) {
      return false;
    }
    if (stream.http_status != 200) {
      if (stream.error_body.size() < kMaxErrorBody) {
        stream.error_body.append(data, std::min(n, kMaxErrorBody - stream.error_body.size()));
      }
      return true;
    }
    if (Status s = decoder.feed(std::string_view(data, n)); !s.ok()) {
      stream.decode_error = s.error();
      return false;
    }
    return !decoder.stopped();
  };

  const int64_t idle_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options.read_idle_timeout).count();
  WatchCompanion companion(*conn.http, stop, stream.last_activity, idle_ns);
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool completed = conn.http->send(req, res, err);
  companion.finish();
  if (stream.http_status == 0 && completed) {
    stream.http_status = res.status;
  }
  const int http_status = stream.http_status;
  impl.count("watch", r, http_status != 0 ? std::to_string(http_status) : "<error>");

  if (event_error) {
    return *event_error;
  }
  if (stream.decode_error) {
    return *stream.decode_error;
  }
  if (decoder.stopped() || stop.load()) {
    return Status::success();  // the handler or the caller ended the watch
  }
  if (companion.idle() || (!completed && err == httplib::Error::Read &&
                           now_ns() - stream.last_activity.load() >= idle_ns)) {
    return Error(Errc::timeout, fmt::format("{}: watch idle: nothing received for {} ms", what,
                                            options.read_idle_timeout.count()));
  }
  if (http_status != 0 && http_status != 200) {
    if (http_status == 401) {
      impl.credentials.invalidate();  // the next watch attempt gets fresh credentials
    }
    return error_from_response(http_status, stream.error_body);
  }
  if (!completed) {
    if (http_status == 200) {
      return Error(Errc::io,
                   fmt::format("{}: watch stream broken after {} events", what, decoder.events()));
    }
    return impl.connections.transport_error(err, conn, what);
  }
  if (Status s = decoder.finish(); !s.ok()) {
    return s;
  }
  return Status::success();  // the server ended the stream (timeoutSeconds)
}

}  // namespace joulie::kube
