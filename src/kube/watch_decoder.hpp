#pragma once
// Incremental decoder for a Kubernetes watch stream: newline-delimited JSON objects
// {"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": {...}} arriving in arbitrary chunks
// (an event may span chunks, one chunk may hold several events).

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "joulie/common/result.hpp"
#include "joulie/kube/api.hpp"

namespace joulie::kube {

class WatchDecoder {
 public:
  // Return false from the sink to stop decoding (feed() then returns ok and ignores the rest).
  using Sink = std::function<bool(WatchEvent&& event)>;

  explicit WatchDecoder(Sink sink, size_t max_line_bytes = 64u << 20)
      : sink_(std::move(sink)), max_line_bytes_(max_line_bytes) {}

  // Consumes one chunk. An undecodable line (not JSON, not an object, unknown type, no object)
  // or a line longer than max_line_bytes is Errc::parse; the decoder is then failed for good.
  Status feed(std::string_view chunk);

  // End of stream: leftover bytes mean the stream was cut mid-event (Errc::parse).
  Status finish();

  bool stopped() const { return stopped_; }
  size_t events() const { return events_; }

 private:
  Status decode_line(std::string_view line);

  Sink sink_;
  size_t max_line_bytes_;
  std::string pending_;  // bytes of an incomplete line
  bool stopped_ = false;
  bool failed_ = false;
  size_t events_ = 0;
};

// "ADDED" → added, …; false for anything else.
bool parse_watch_event_type(std::string_view text, WatchEventType& out);

}  // namespace joulie::kube
