#include "kube/watch_decoder.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using joulie::Errc;
using joulie::kube::WatchDecoder;
using joulie::kube::WatchEvent;
using joulie::kube::WatchEventType;

namespace {

struct Seen {
  WatchEventType type;
  std::string name;
};

struct Collector {
  std::vector<Seen> events;
  WatchDecoder decoder{[this](WatchEvent&& e) {
    std::string name;
    if (e.object.HasMember("metadata") && e.object["metadata"].HasMember("name")) {
      name = e.object["metadata"]["name"].GetString();
    }
    events.push_back({e.type, name});
    return true;
  }};
};

std::string event(const char* type, const char* name) {
  return std::string("{\"type\":\"") + type +
         "\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"name\":\"" + name +
         "\",\"resourceVersion\":\"7\"}}}\n";
}

}  // namespace

TEST_CASE("watch decoder: an event split across chunks at every byte boundary") {
  const std::string line = event("ADDED", "n1");
  for (size_t cut = 1; cut < line.size(); ++cut) {
    Collector c;
    REQUIRE(c.decoder.feed(std::string_view(line).substr(0, cut)).ok());
    CHECK(c.events.empty());
    REQUIRE(c.decoder.feed(std::string_view(line).substr(cut)).ok());
    REQUIRE(c.events.size() == 1);
    CHECK(c.events[0].type == WatchEventType::added);
    CHECK(c.events[0].name == "n1");
    CHECK(c.decoder.finish().ok());
  }
}

TEST_CASE("watch decoder: several events in one chunk, all types, blank lines ignored") {
  Collector c;
  const std::string chunk = event("ADDED", "a") + "\n" + event("MODIFIED", "b") +
                            event("DELETED", "c") + "\r\n" + event("BOOKMARK", "") +
                            "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}\n";
  REQUIRE(c.decoder.feed(chunk).ok());
  REQUIRE(c.events.size() == 5);
  CHECK(c.events[0].type == WatchEventType::added);
  CHECK(c.events[1].type == WatchEventType::modified);
  CHECK(c.events[2].type == WatchEventType::deleted);
  CHECK(c.events[3].type == WatchEventType::bookmark);
  CHECK(c.events[4].type == WatchEventType::error);
  CHECK(c.decoder.events() == 5);
}

TEST_CASE("watch decoder: a stream cut mid-event is an error at finish") {
  Collector c;
  const std::string line = event("ADDED", "n1");
  REQUIRE(c.decoder.feed(line + line.substr(0, 20)).ok());
  CHECK(c.events.size() == 1);
  auto s = c.decoder.finish();
  CHECK(s.code() == Errc::parse);
  CHECK_THAT(s.error().message, Catch::Contains("cut mid-event"));
}

TEST_CASE("watch decoder: a complete final event without newline is accepted at finish") {
  Collector c;
  std::string line = event("ADDED", "n1");
  line.pop_back();
  REQUIRE(c.decoder.feed(line).ok());
  CHECK(c.events.empty());
  CHECK(c.decoder.finish().ok());
  CHECK(c.events.size() == 1);
}

TEST_CASE("watch decoder: garbage lines are errors and the decoder stays failed") {
  const char* bad[] = {
      "not json\n",
      "[1,2,3]\n",
      "{\"type\":\"ADDED\"}\n",                         // no object
      "{\"type\":\"RENAMED\",\"object\":{}}\n",         // unknown type
      "{\"type\":7,\"object\":{}}\n",                   // type not a string
      "{\"type\":\"ADDED\",\"object\":[]}\n",           // object not an object
      "{\"type\":\"ADDED\",\"object\":{}} trailing\n",  // trailing garbage
  };
  for (const char* line : bad) {
    Collector c;
    auto s = c.decoder.feed(line);
    INFO(line);
    CHECK(s.code() == Errc::parse);
    CHECK(c.events.empty());
    CHECK(c.decoder.feed(event("ADDED", "x")).code() == Errc::parse);
  }
}

TEST_CASE("watch decoder: an over-long line is refused without buffering it all") {
  std::vector<int> seen;
  WatchDecoder decoder([&](WatchEvent&&) { return true; }, 1024);
  const std::string big(600, ' ');
  REQUIRE(decoder.feed("{\"type\":\"ADDED\",\"object\":{\"a\":\"" + big).ok());
  CHECK(decoder.feed(big).code() == Errc::parse);
}

TEST_CASE("watch decoder: deeply nested objects are an error, not a crash") {
  Collector c;
  std::string deep = "{\"type\":\"ADDED\",\"object\":{\"a\":";
  deep += std::string(100000, '[');
  deep += "\n";
  CHECK(c.decoder.feed(deep).code() == Errc::parse);
}

TEST_CASE("watch decoder: a sink returning false stops decoding") {
  int calls = 0;
  WatchDecoder decoder([&](WatchEvent&&) { return ++calls < 2; });
  REQUIRE(decoder.feed(event("ADDED", "a") + event("ADDED", "b") + event("ADDED", "c")).ok());
  CHECK(calls == 2);
  CHECK(decoder.stopped());
  CHECK(decoder.finish().ok());
}
