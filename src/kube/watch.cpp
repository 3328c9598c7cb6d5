// Client::watch: one streaming GET per watch on its own connection, decoded incrementally. A
// companion thread ends the request (httplib Client::stop shuts the socket down) when the caller
// sets `stop` or when nothing arrives for the read-idle timeout.
#include <fmt/format.h>

#include <condition_variable>
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

  std::atomic<int64_t> last_activity{now_ns()};
  int http_status = 0;
  std::string error_body;
  std::optional<Error> decode_error;

  httplib::Request req;
  req.method = "GET";
  req.path = impl.url_path(path);
  req.headers.emplace("User-Agent", impl.user_agent());
  req.headers.emplace("Accept", "application/json");
  req.headers.emplace("Host", impl.connections.server().host_header);
  if (!credentials->token.empty()) {
    req.headers.emplace("Authorization", "Bearer " + credentials->token);
  }
  req.response_handler = [&](const httplib::Response& res) {
    http_status = res.status;
    last_activity = now_ns();
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    last_activity = now_ns();
    if (stop.load()) {
      return false;
    }
    if (http_status != 200) {
      if (error_body.size() < kMaxErrorBody) {
        error_body.append(data, std::min(n, kMaxErrorBody - error_body.size()));
      }
      return true;
    }
    if (Status s = decoder.feed(std::string_view(data, n)); !s.ok()) {
      decode_error = s.error();
      return false;
    }
    return !decoder.stopped();
  };

  // The companion: ends the request on stop or idleness. stop() is repeated because it is a
  // no-op while the socket is still being connected.
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::atomic<bool> idle{false};
  const int64_t idle_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options.read_idle_timeout).count();
  std::thread companion([&] {
    std::unique_lock<std::mutex> lock(mutex);
    while (!done_cv.wait_for(lock, kStopPoll, [&] { return done; })) {
      const bool stopping = stop.load();
      if (!stopping && now_ns() - last_activity.load() >= idle_ns) {
        idle = true;
      }
      if (stopping || idle.load()) {
        conn.http->stop();
      }
    }
  });

  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool completed = conn.http->send(req, res, err);
  {
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
  }
  done_cv.notify_all();
  companion.join();
  if (http_status == 0 && completed) {
    http_status = res.status;
  }
  impl.count("watch", r, http_status != 0 ? std::to_string(http_status) : "<error>");

  if (event_error) {
    return *event_error;
  }
  if (decode_error) {
    return *decode_error;
  }
  if (decoder.stopped() || stop.load()) {
    return Status::success();  // the handler or the caller ended the watch
  }
  if (idle.load() ||
      (!completed && err == httplib::Error::Read && now_ns() - last_activity.load() >= idle_ns)) {
    return Error(Errc::timeout, fmt::format("{}: watch idle: nothing received for {} ms", what,
                                            options.read_idle_timeout.count()));
  }
  if (http_status != 0 && http_status != 200) {
    if (http_status == 401) {
      impl.credentials.invalidate();  // the next watch attempt gets fresh credentials
    }
    return error_from_response(http_status, error_body);
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
