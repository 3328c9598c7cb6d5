#include "kube/json.hpp"

#include <fmt/format.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace joulie::kube {

namespace {

// Forwards SAX events to the document while counting depth. RapidJSON's reader recurses per
// nesting level, so refusing StartObject/StartArray past the limit also bounds stack use.
class DepthLimiter {
 public:
  DepthLimiter(rapidjson::Document& doc, int max_depth) : doc_(doc), max_depth_(max_depth) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return doc_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_.Key(s, n, copy); }
  bool StartObject() { return enter() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndObject(n);
  }
  bool StartArray() { return enter() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndArray(n);
  }

  bool too_deep() const { return too_deep_; }

 private:
  bool enter() {
    if (++depth_ > max_depth_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  rapidjson::Document& doc_;
  int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace

Result<rapidjson::Document> parse_object(std::string_view text, int max_depth) {
  rapidjson::Document doc;
  rapidjson::ParseResult parse_result;
  bool too_deep = false;
  auto generator = [&](rapidjson::Document& handler) {
    DepthLimiter limiter(handler, max_depth);
    rapidjson::MemoryStream stream(text.data(), text.size());
    rapidjson::Reader reader;
    parse_result = reader.Parse<rapidjson::kParseFullPrecisionFlag>(stream, limiter);
    too_deep = limiter.too_deep();
    return !parse_result.IsError();
  };
  doc.Populate(generator);
  if (too_deep) {
    return Error(Errc::parse, fmt::format("JSON nested deeper than {} levels", max_depth));
  }
  if (parse_result.IsError()) {
    return Error(Errc::parse, fmt::format("malformed JSON at byte {}: {}", parse_result.Offset(),
                                          rapidjson::GetParseError_En(parse_result.Code())));
  }
  if (!doc.IsObject()) {
    return Error(Errc::parse, "JSON body is not an object");
  }
  return doc;
}

std::string to_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace joulie::kube
