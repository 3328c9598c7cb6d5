#pragma once
// A PromQL client for instant queries (docs/design.md#prometheus): GET {endpoint}/api/v1/query over
// HTTP or HTTPS (CA file), an optional bearer token file re-read like the service-account token, a
// timeout, one retry with backoff for failures that may pass (no answer, 5xx, 429), `vector` and
// `scalar` results, `status: error` as a typed error, warnings logged once per distinct text, a
// bounded reply size. NaN and ±Inf values are decoded as such: whether they are usable is the
// caller's decision (a signal treats them as missing).
//
// Errors are values; nothing here throws.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/common/clock.hpp"
#include "joulie/common/http_client.hpp"
#include "joulie/common/result.hpp"
#include "joulie/policy/context.hpp"

namespace joulie::signals {

struct PromSample {
  std::map<std::string, std::string> labels;  // empty for a scalar
  double value = 0;                           // may be NaN or ±Inf
  SystemTime timestamp{};                     // the sample's timestamp as Prometheus gives it
};

enum class PromResultType { vector, scalar };

struct PromResult {
  PromResultType type = PromResultType::vector;
  std::vector<PromSample> samples;  // a scalar is one sample without labels
  std::vector<std::string> warnings;
};

// Decodes an /api/v1/query reply. Pure (fuzzed: test/fuzz/prom_reply_fuzz.cpp).
//   status "success" + resultType vector|scalar → the samples;
//   status "error" (any HTTP code) → Error with reason = errorType ("bad_data", "timeout",
//     "execution", …), message = the server's `error`, http_status; code by errorType
//     (bad_data → invalid_argument, timeout/canceled → timeout, unavailable → unavailable, the
//     rest → server_error);
//   matrix/string results → Errc::unsupported; anything malformed → Errc::parse;
//   a non-2xx reply without a decodable error body → server_error (5xx) or bad_request.
Result<PromResult> decode_prom_reply(int http_status, std::string_view body);

// Prometheus's sample value text: decimal, "NaN", "+Inf", "-Inf", "Inf".
std::optional<double> parse_prom_value(std::string_view text);

// `text` escaped for a double-quoted PromQL string literal (backslash, quote, control chars).
std::string promql_escape(std::string_view text);
// `query` with every "{node}" replaced by promql_escape(node).
std::string expand_node(std::string_view query, std::string_view node);

// Percent-encoding for a query-string value (RFC 3986 unreserved characters kept).
std::string url_encode(std::string_view text);

struct PromClientOptions {
  policy::PrometheusConfig config;
  std::size_t max_body = 16u << 20;  // a reply over 16 MiB is refused
  std::chrono::milliseconds retry_delay{200};
  std::chrono::milliseconds token_reread_period{std::chrono::seconds(60)};
  // Waits between attempts; tests pass a hook that records instead of sleeping.
  std::function<void(std::chrono::milliseconds)> sleep;
};

class PromClient {
 public:
  PromClient(HttpClientPool& pool, PromClientOptions options,
             const Clock& clock = RealClock::instance());

  // One instant query at the server's current time. Thread-safe. Sent as GET with the query in
  // the URL; a query whose URL would exceed kMaxGetUrl goes as a POST form instead
  // (docs/design.md#prometheus: both are Prometheus's API; proxies commonly refuse long request
  // lines).
  Result<PromResult> query(std::string_view promql);
  static constexpr std::size_t kMaxGetUrl = 4096;

  const std::string& endpoint() const { return options_.config.endpoint; }

 private:
  // `form` empty: GET `url`; otherwise POST it to `url` as application/x-www-form-urlencoded.
  Result<PromResult> attempt(const std::string& url, const std::string& form);
  std::string token();
  void log_warnings(const std::vector<std::string>& warnings);

  HttpClientPool& pool_;
  PromClientOptions options_;
  const Clock& clock_;
  std::mutex mutex_;
  std::string token_;
  std::optional<SteadyTime> token_read_at_;
  std::set<std::string> warned_;
};

}  // namespace joulie::signals
