#include "watch_decoder.hpp"

#include <fmt/format.h>

#include "joulie/kube/json.hpp"
#include "joulie/kube/json_fields.hpp"

namespace joulie::kube {

namespace {

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

bool parse_watch_event_type(std::string_view text, WatchEventType& out) {
  if (text == "ADDED") {
    out = WatchEventType::added;
  } else if (text == "MODIFIED") {
    out = WatchEventType::modified;
  } else if (text == "DELETED") {
    out = WatchEventType::deleted;
  } else if (text == "BOOKMARK") {
    out = WatchEventType::bookmark;
  } else if (text == "ERROR") {
    out = WatchEventType::error;
  } else {
    return false;
  }
  return true;
}

Status WatchDecoder::feed(std::string_view chunk) {
  if (failed_) {
    return Error(Errc::parse, "watch stream: decoder already failed");
  }
  while (!chunk.empty() && !stopped_) {
    const size_t newline = chunk.find('\n');
    if (newline == std::string_view::npos) {
      if (pending_.size() + chunk.size() > max_line_bytes_) {
        failed_ = true;
        return Error(Errc::parse,
                     fmt::format("watch stream: event longer than {} bytes", max_line_bytes_));
      }
      pending_.append(chunk);
      return Status::success();
    }
    Status s;
    if (pending_.empty()) {
      s = decode_line(chunk.substr(0, newline));  // common case: no copy
    } else {
      if (pending_.size() + newline > max_line_bytes_) {
        failed_ = true;
        return Error(Errc::parse,
                     fmt::format("watch stream: event longer than {} bytes", max_line_bytes_));
      }
      pending_.append(chunk.substr(0, newline));
      s = decode_line(pending_);
      pending_.clear();
    }
    if (!s.ok()) {
      failed_ = true;
      return s;
    }
    chunk.remove_prefix(newline + 1);
  }
  return Status::success();
}

Status WatchDecoder::finish() {
  if (failed_) {
    return Error(Errc::parse, "watch stream: decoder already failed");
  }
  if (stopped_ || is_blank(pending_)) {
    pending_.clear();
    return Status::success();
  }
  // A final line without '\n' is still a complete event if it decodes; a cut one does not.
  std::string last = std::move(pending_);
  pending_.clear();
  Status s = decode_line(last);
  if (!s.ok()) {
    failed_ = true;
    return Error(Errc::parse, fmt::format("watch stream cut mid-event ({} bytes pending): {}",
                                          last.size(), s.error().message));
  }
  return s;
}

Status WatchDecoder::decode_line(std::string_view line) {
  if (is_blank(line)) {
    return Status::success();
  }
  auto parsed = parse_object(line);
  if (!parsed.ok()) {
    return Error(Errc::parse, "watch stream: " + parsed.error().message);
  }
  rapidjson::Document& doc = parsed.value();
  // Const view for lookups: comparing RapidJSON's mutable member iterators is ambiguous in C++20.
  const rapidjson::Value& view = doc;
  const std::optional<std::string_view> type = json::string_at(view, "type");
  if (!type) {
    return Error(Errc::parse, "watch stream: event without a type");
  }
  WatchEvent event;
  const std::string_view type_text = *type;
  if (!parse_watch_event_type(type_text, event.type)) {
    return Error(Errc::parse,
                 fmt::format("watch stream: unknown event type '{}'", type_text.substr(0, 32)));
  }
  if (json::object_at(view, "object") == nullptr) {
    return Error(Errc::parse, "watch stream: event without an object");
  }
  // Make the object the document's root without copying: its memory stays in doc's allocator,
  // which moves into the event with the document.
  rapidjson::Value object;
  object.Swap(doc["object"]);  // present: checked through the const view above
  static_cast<rapidjson::Value&>(doc) = object;
  event.object = std::move(doc);
  ++events_;
  if (!sink_(std::move(event))) {
    stopped_ = true;
  }
  return Status::success();
}

}  // namespace joulie::kube
