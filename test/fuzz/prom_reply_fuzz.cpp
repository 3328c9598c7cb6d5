// Prometheus /api/v1/query replies (docs/design.md#prometheus): the response decoder, and what the
// signal mapping and the agent's single-sample reading make of its result — all pure functions of
// the HTTP answer. Input: [u16 HTTP status selector][body].
// Properties: a decoded reply is a vector or a scalar (a scalar has exactly one sample without
// labels); an error has a code and bounded printable text; a reading the agent would use is a
// finite number; node/zone readings are usable only when finite.
#include <cmath>
#include <string>

#include "fuzz_support.hpp"
#include "joulie/agent/prometheus_source.hpp"
#include "joulie/signals/collector.hpp"
#include "joulie/signals/promql.hpp"

namespace {

bool printable(std::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c >= 0x7f) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  joulie::fuzz::InputReader in(data, size);
  const int http_status = 100 + in.u16() % 500;
  const std::string_view body = in.rest();

  auto reply = joulie::signals::decode_prom_reply(http_status, body);
  if (!reply.ok()) {
    FUZZ_CHECK(reply.error().code != joulie::Errc::ok);
    FUZZ_CHECK(reply.error().message.size() < 1024);
    FUZZ_CHECK(printable(reply.error().message));
    FUZZ_CHECK(printable(reply.error().reason));
  } else {
    FUZZ_CHECK(http_status >= 200 && http_status <= 299);
    if (reply->type == joulie::signals::PromResultType::scalar) {
      FUZZ_CHECK(reply->samples.size() == 1);
      FUZZ_CHECK(reply->samples.front().labels.empty());
    }
    joulie::policy::NodeSignalConfig by_node;
    auto nodes = joulie::signals::readings_by_node(reply->samples, by_node);
    FUZZ_CHECK(nodes.ok());
    for (const auto& [node, reading] : *nodes) {
      FUZZ_CHECK(!node.empty());
      if (reading.problem == joulie::policy::SignalHealth::ok) {
        FUZZ_CHECK(std::isfinite(reading.value));
      }
    }
    for (const auto& [zone, reading] : joulie::signals::readings_by_zone(reply->samples, "")) {
      FUZZ_CHECK(zone.empty());
      if (reading.problem == joulie::policy::SignalHealth::ok) {
        FUZZ_CHECK(std::isfinite(reading.value));
      }
    }
  }
  auto reading = joulie::agent::single_prom_value(reply, joulie::SystemTime{}, "power");
  FUZZ_CHECK(reading.value.has_value() != !reading.missing_reason.empty());
  if (reading.value) {
    FUZZ_CHECK(std::isfinite(*reading.value));
  }
  return 0;
}
