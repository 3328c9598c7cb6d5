#pragma once
// An in-process HTTP server on 127.0.0.1:<ephemeral> answering from a script per path: a queue
// of replies (the last one repeats), each with an optional delay. Records every request (path,
// query, Authorization header, body) so tests can check what the clients sent.

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace joulie::test {

using namespace std::chrono_literals;

struct ScriptedReply {
  int status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};
};

struct SeenRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> params;
  std::string authorization;
  std::string body;
};

class ScriptedServer {
 public:
  ScriptedServer() {
    auto handle = [this](const httplib::Request& req, httplib::Response& res) {
      ScriptedReply reply{404, "{}", 0ms};
      {
        std::lock_guard lock(mutex_);
        SeenRequest seen{req.method, req.path, {}, req.get_header_value("Authorization"), req.body};
        for (const auto& [k, v] : req.params) {
          seen.params[k] = v;
        }
        seen_.push_back(std::move(seen));
        auto it = script_.find(req.path);
        if (it != script_.end() && !it->second.empty()) {
          reply = it->second.front();
          if (it->second.size() > 1) {
            it->second.pop_front();
          }
        }
      }
      if (reply.delay > 0ms) {
        std::unique_lock lock(mutex_);
        released_.wait_for(lock, reply.delay, [this] { return stopping_; });
      }
      res.status = reply.status;
      res.set_content(reply.body, "application/json");
    };
    server_.Get(".*", handle);
    server_.Post(".*", handle);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(10ms);  // bounded wait for the listener thread
    }
  }
  ~ScriptedServer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    released_.notify_all();
    server_.stop();
    thread_.join();
  }

  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Replaces the script for `path`.
  void script(const std::string& path, std::vector<ScriptedReply> replies) {
    std::lock_guard lock(mutex_);
    script_[path] = std::deque<ScriptedReply>(replies.begin(), replies.end());
  }
  std::vector<SeenRequest> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  std::size_t count(const std::string& path) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& r : seen_) {
      n += r.path == path ? 1 : 0;
    }
    return n;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable released_;
  bool stopping_ = false;
  std::map<std::string, std::deque<ScriptedReply>> script_;
  std::vector<SeenRequest> seen_;
};

// A Prometheus /api/v1/query success body with one vector sample per (labels, value).
inline std::string prom_vector(
    const std::vector<std::pair<std::map<std::string, std::string>, std::string>>& samples,
    double ts = 1764756000.5) {
  std::string out = R"({"status":"success","data":{"resultType":"vector","result":[)";
  bool first = true;
  for (const auto& [labels, value] : samples) {
    out += first ? "" : ",";
    first = false;
    out += R"({"metric":{)";
    bool first_label = true;
    for (const auto& [k, v] : labels) {
      out += (first_label ? "\"" : ",\"") + k + "\":\"" + v + "\"";
      first_label = false;
    }
    out += "},\"value\":[" + std::to_string(ts) + ",\"" + value + "\"]}";
  }
  return out + "]}}";
}

}  // namespace joulie::test
