// JSON bodies from the API server: parse_object (bounded depth, objects only), its serialisation
// round trip, and the typed errors built from non-2xx answers (Status objects or anything else).
//
// Input: [u16 HTTP status selector][body]
#include <string>

#include "fuzz_support.hpp"
#include "joulie/kube/errors.hpp"
#include "joulie/kube/json.hpp"

namespace {

using joulie::Errc;

void check_status_values(const rapidjson::Value& value, int fallback_http) {
  const joulie::Error e = joulie::kube::error_from_status(value, fallback_http);
  FUZZ_CHECK(e.code != Errc::ok);
  FUZZ_CHECK(!e.message.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  joulie::fuzz::InputReader in(data, size);
  // 300..599: the statuses the client turns into errors (plus a few odd ones).
  const int http_status = 300 + in.u16() % 300;
  const std::string_view body = in.rest();

  auto parsed = joulie::kube::parse_object(body);
  if (parsed.ok()) {
    const rapidjson::Document& doc = parsed.value();
    FUZZ_CHECK(doc.IsObject());
    // What we serialise must parse back to the same text (objects are re-sent in updates).
    const std::string text = joulie::kube::to_json(doc);
    auto again = joulie::kube::parse_object(text);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(joulie::kube::to_json(again.value()) == text);

    check_status_values(doc, http_status);
    for (const auto& member : doc.GetObject()) {
      check_status_values(member.value, http_status);  // non-objects must be handled too
      if (member.value.IsString()) {
        const std::string_view reason(member.value.GetString(), member.value.GetStringLength());
        FUZZ_CHECK(joulie::kube::errc_from_http(http_status, reason) != Errc::ok);
      }
    }
  } else {
    FUZZ_CHECK(parsed.code() == Errc::parse);
    FUZZ_CHECK(parsed.error().message.size() < 200);
  }

  const joulie::Error e = joulie::kube::error_from_response(http_status, body);
  FUZZ_CHECK(e.code != Errc::ok);
  FUZZ_CHECK(e.http_status == http_status);
  const bool is_status = parsed.ok() && parsed->HasMember("kind") && (*parsed)["kind"].IsString() &&
                         std::string_view((*parsed)["kind"].GetString(),
                                          (*parsed)["kind"].GetStringLength()) == "Status";
  if (!is_status) {
    // "HTTP 503: " + at most 200 printable characters + "…": never the whole body.
    FUZZ_CHECK(e.message.size() <= 16 + 200 + 3);
  }
  return 0;
}
