#pragma once
// An in-process HTTP stand-in for the power simulator (127.0.0.1, ephemeral port) with scripted
// replies, for unit tests of the HTTP route. The Python simulator (test/support/powersim) is the
// integration-test counterpart.

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace joulie::test {

using namespace std::chrono_literals;

// A simulator stand-in on 127.0.0.1:<ephemeral> with scripted replies.
class StubServer {
 public:
  StubServer() {
    server_.Get("/telemetry/.*", [this](const httplib::Request& req, httplib::Response& res) {
      note(req);
      res.status = status_;
      res.set_content(reply_, "application/json");
    });
    server_.Post("/control/.*", [this](const httplib::Request& req, httplib::Response& res) {
      note(req);
      {
        std::lock_guard lock(mutex_);
        last_body_ = req.body;
        bodies_.push_back(req.body);
        last_content_type_ = req.get_header_value("Content-Type");
        last_path_ = req.target;  // as sent, before URL decoding
      }
      bool rapl = req.body.find("rapl.set_power_cap_watts") != std::string::npos;
      res.status = rapl && rapl_status_ ? rapl_status_ : status_;
      res.set_content(rapl && rapl_status_ ? rapl_reply_ : reply_, "application/json");
    });
    server_.Get("/hang", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock lock(mutex_);
      released_.wait_for(lock, 10s, [this] { return release_; });
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(10ms);  // bounded wait for the listener thread
    }
  }
  ~StubServer() {
    {
      std::lock_guard lock(mutex_);
      release_ = true;
    }
    released_.notify_all();
    server_.stop();
    thread_.join();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void reply(int status, std::string body) {
    std::lock_guard lock(mutex_);
    status_ = status;
    reply_ = std::move(body);
  }
  // Replies to the RAPL action only (0 = same as every other request).
  void reply_to_rapl(int status, std::string body) {
    std::lock_guard lock(mutex_);
    rapl_status_ = status;
    rapl_reply_ = std::move(body);
  }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  std::string last_body() {
    std::lock_guard lock(mutex_);
    return last_body_;
  }
  std::string last_content_type() {
    std::lock_guard lock(mutex_);
    return last_content_type_;
  }
  std::string last_path() {
    std::lock_guard lock(mutex_);
    return last_path_;
  }
  std::size_t client_connections() {
    std::lock_guard lock(mutex_);
    return remote_ports_.size();
  }

 private:
  void note(const httplib::Request& req) {
    std::lock_guard lock(mutex_);
    remote_ports_.insert(req.remote_port);
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable released_;
  bool release_ = false;
  int status_ = 200;
  std::string reply_ = R"({"result":"applied"})";
  int rapl_status_ = 0;
  std::string rapl_reply_;
  std::vector<std::string> bodies_;
  std::string last_body_;
  std::string last_content_type_;
  std::string last_path_;
  std::set<int> remote_ports_;
};

}  // namespace joulie::test
