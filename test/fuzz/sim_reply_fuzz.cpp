// Power-simulator replies (docs/design.md#http-simulator-contract): the telemetry body parser and
// the control reply interpretation, both pure functions of the HTTP answer.
// Input: [u16 HTTP status selector][backend][body]. Properties: a sample has watts (finite,
// ≥ 0) or a reason, never both; a control outcome is applied/blocked/error, an error for any
// non-2xx status, and its message is bounded printable text whatever the peer sent.
#include <cmath>
#include <string>

#include "fuzz_support.hpp"
#include "joulie/agent/http_route.hpp"

namespace agent = joulie::agent;

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
  const uint8_t backend_byte = in.byte();
  const std::string body(in.rest());

  const joulie::SystemTime received_at{std::chrono::seconds(1'700'000'000)};
  const agent::TelemetrySample sample = agent::parse_telemetry_reply(body, received_at);
  if (sample.watts) {
    FUZZ_CHECK(std::isfinite(*sample.watts) && *sample.watts >= 0);
    FUZZ_CHECK(sample.missing_reason.empty());
  } else {
    FUZZ_CHECK(!sample.missing_reason.empty());
    FUZZ_CHECK(sample.timestamp == received_at);
  }

  const agent::Backend backend =
      (backend_byte & 1u) != 0 ? agent::Backend::rapl : agent::Backend::dvfs;
  const joulie::Result<agent::HttpClientPool::Response> reply =
      agent::HttpClientPool::Response{http_status, body};
  const agent::ControlOutcome outcome =
      agent::interpret_control_reply(backend, reply, "dvfs.set_throttle_pct");
  FUZZ_CHECK(outcome.backend == backend);
  FUZZ_CHECK(outcome.result == agent::ApplyResult::applied ||
             outcome.result == agent::ApplyResult::blocked ||
             outcome.result == agent::ApplyResult::error);
  if (http_status < 200 || http_status > 299) {
    FUZZ_CHECK(outcome.result == agent::ApplyResult::error);
  }
  FUZZ_CHECK(printable(outcome.message));
  FUZZ_CHECK(outcome.message.size() < 400);
  return 0;
}
