#include "joulie/signals/promql.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <thread>

#include "joulie/common/log.hpp"
#include "joulie/kube/file_util.hpp"
#include "joulie/kube/json_fields.hpp"

namespace joulie::signals {

namespace {

using kube::json::member;
using rapidjson::Value;

std::string_view view_of(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

Error malformed(std::string_view why) {
  return Error(Errc::parse, fmt::format("malformed Prometheus reply: {}", why));
}

Errc code_of_error_type(std::string_view type) {
  if (type == "bad_data") {
    return Errc::invalid_argument;
  }
  if (type == "timeout" || type == "canceled") {
    return Errc::timeout;
  }
  if (type == "unavailable") {
    return Errc::unavailable;
  }
  return Errc::server_error;
}

// [<unix seconds as a number>, "<value>"]
Result<PromSample> decode_pair(const Value& pair) {
  if (!pair.IsArray() || pair.Size() != 2 || !pair[0].IsNumber() || !pair[1].IsString()) {
    return malformed("a sample is not [timestamp, \"value\"]");
  }
  double seconds = pair[0].GetDouble();
  // SystemTime counts nanoseconds in 64 bits: ±9.2·10^9 s (years 1678–2262). Beyond ±9·10^9 s
  // the conversion would overflow (found by the prom_reply fuzz target).
  if (!std::isfinite(seconds) || std::fabs(seconds) > 9e9) {
    return malformed("sample timestamp out of range");
  }
  auto value = parse_prom_value(view_of(pair[1]));
  if (!value) {
    return malformed(
        fmt::format("sample value {:?} is not a number", peer_text(view_of(pair[1]), 40)));
  }
  PromSample sample;
  sample.value = *value;
  // Prometheus timestamps have millisecond resolution: round, don't truncate 0.25 to 0.2499….
  sample.timestamp = SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      std::chrono::microseconds(std::llround(seconds * 1e6))));
  return sample;
}

Result<PromResult> decode_data(const Value& data) {
  const Value* type = member(data, "resultType");
  const Value* result = member(data, "result");
  if (type == nullptr || !type->IsString() || result == nullptr) {
    return malformed("data has no resultType/result");
  }
  std::string_view type_name = view_of(*type);
  PromResult out;
  if (type_name == "scalar") {
    out.type = PromResultType::scalar;
    auto sample = decode_pair(*result);
    if (!sample.ok()) {
      return sample.error();
    }
    out.samples.push_back(std::move(sample.value()));
    return out;
  }
  if (type_name != "vector") {
    return Error(Errc::unsupported,
                 fmt::format("query result type {:?} is not supported (use an instant vector or a "
                             "scalar)",
                             peer_text(type_name, 20)));
  }
  if (!result->IsArray()) {
    return malformed("vector result is not an array");
  }
  out.samples.reserve(result->Size());
  for (const Value& item : result->GetArray()) {
    const Value* metric = member(item, "metric");
    const Value* value = member(item, "value");
    if (value == nullptr) {
      // Native histograms ("histogram") carry no float value; not a usable signal.
      return malformed("a vector element has no value");
    }
    auto sample = decode_pair(*value);
    if (!sample.ok()) {
      return sample.error();
    }
    if (metric != nullptr) {
      if (!metric->IsObject()) {
        return malformed("metric is not an object");
      }
      for (const auto& label : metric->GetObject()) {
        if (!label.value.IsString()) {
          return malformed("a label value is not a string");
        }
        sample->labels.emplace(std::string(view_of(label.name)), std::string(view_of(label.value)));
      }
    }
    out.samples.push_back(std::move(sample.value()));
  }
  return out;
}

}  // namespace

std::optional<double> parse_prom_value(std::string_view text) {
  if (text == "NaN") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (text == "+Inf" || text == "Inf") {
    return std::numeric_limits<double>::infinity();
  }
  if (text == "-Inf") {
    return -std::numeric_limits<double>::infinity();
  }
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

Result<PromResult> decode_prom_reply(int http_status, std::string_view body) {
  rapidjson::Document doc;
  // Iterative: a hostile server must not overflow our stack with nesting.
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  bool is_object = !doc.HasParseError() && doc.IsObject();
  const Value* status = is_object ? member(doc, "status") : nullptr;
  if (status != nullptr && status->IsString() && view_of(*status) == "error") {
    const Value* type = member(doc, "errorType");
    const Value* text = member(doc, "error");
    std::string type_name =
        type != nullptr && type->IsString() ? peer_text(view_of(*type), 40) : "unknown";
    std::string message = text != nullptr && text->IsString() ? peer_text(view_of(*text), 300)
                                                              : std::string("(no message)");
    return Error(code_of_error_type(type_name),
                 fmt::format("Prometheus query failed ({}): {}", type_name, message), http_status,
                 type_name);
  }
  if (http_status < 200 || http_status > 299) {
    return Error(http_status >= 500 ? Errc::server_error : Errc::bad_request,
                 fmt::format("Prometheus answered HTTP {}", http_status), http_status);
  }
  if (!is_object) {
    return malformed("not a JSON object");
  }
  if (status == nullptr || !status->IsString() || view_of(*status) != "success") {
    return malformed("status is not \"success\"");
  }
  const Value* data = member(doc, "data");
  if (data == nullptr || !data->IsObject()) {
    return malformed("no data object");
  }
  auto out = decode_data(*data);
  if (!out.ok()) {
    return out;
  }
  if (const Value* warnings = member(doc, "warnings"); warnings != nullptr && warnings->IsArray()) {
    for (const Value& w : warnings->GetArray()) {
      if (w.IsString()) {
        out->warnings.push_back(peer_text(view_of(w), 300));
      }
    }
  }
  return out;
}

std::string promql_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

std::string expand_node(std::string_view query, std::string_view node) {
  constexpr std::string_view kPlaceholder = "{node}";
  std::string escaped = promql_escape(node);
  std::string out;
  std::size_t pos = 0;
  while (true) {
    std::size_t hit = query.find(kPlaceholder, pos);
    if (hit == std::string_view::npos) {
      out.append(query.substr(pos));
      return out;
    }
    out.append(query.substr(pos, hit - pos));
    out += escaped;
    pos = hit + kPlaceholder.size();
  }
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

PromClient::PromClient(HttpClientPool& pool, PromClientOptions options, const Clock& clock)
    : pool_(pool), options_(std::move(options)), clock_(clock) {
  while (!options_.config.endpoint.empty() && options_.config.endpoint.back() == '/') {
    options_.config.endpoint.pop_back();
  }
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
}

std::string PromClient::token() {
  const std::string& file = options_.config.bearer_token_file;
  if (file.empty()) {
    return {};
  }
  std::lock_guard lock(mutex_);
  SteadyTime now = clock_.monotonic();
  if (!token_read_at_ || now - *token_read_at_ >= options_.token_reread_period) {
    token_read_at_ = now;
    auto text = kube::read_small_file(file, 1u << 20);
    if (!text.ok()) {
      // Keep the last good token: a projected token is rewritten atomically, a failed read is
      // transient; Prometheus (or its proxy) says 401 if the old one really expired.
      log::warn("context", "cannot read the Prometheus bearer token file",
                {{"file", file}, {"error", text.error()}});
    } else {
      std::string value = std::move(text.value());
      auto end = value.find_last_not_of(" \t\r\n");
      value.erase(end == std::string::npos ? 0 : end + 1);
      if (!value.empty()) {
        token_ = std::move(value);
      }
    }
  }
  return token_;
}

void PromClient::log_warnings(const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) {
    bool first = false;
    {
      std::lock_guard lock(mutex_);
      first = warned_.size() < 256 && warned_.insert(w).second;
    }
    if (first) {
      log::warn("context", "Prometheus returned a warning",
                {{"endpoint", peer_text(options_.config.endpoint)}, {"warning", w}});
    }
  }
}

Result<PromResult> PromClient::attempt(const std::string& url, const std::string& form) {
  HttpRequestOptions request;
  request.ca_file = options_.config.ca_file;
  request.bearer_token = token();
  request.max_body = options_.max_body;
  auto reply = form.empty() ? pool_.get(url, options_.config.timeout, request)
                            : pool_.post(url, form, "application/x-www-form-urlencoded",
                                         options_.config.timeout, request);
  if (!reply.ok()) {
    return reply.error();
  }
  return decode_prom_reply(reply->status, reply->body);
}

namespace {

// No answer, or an answer that says "not now": worth one more try.
bool retryable(const Error& error) {
  if (error.http_status == 429 || error.http_status >= 500) {
    return error.code != Errc::invalid_argument;
  }
  return error.http_status == 0 &&
         (error.code == Errc::unavailable || error.code == Errc::timeout || error.code == Errc::io);
}

}  // namespace

Result<PromResult> PromClient::query(std::string_view promql) {
  if (options_.config.endpoint.empty()) {
    return Error(Errc::invalid_argument, "no Prometheus endpoint configured");
  }
  auto seconds = std::chrono::duration<double>(options_.config.timeout).count();
  std::string params = "query=" + url_encode(promql);
  if (seconds > 0) {
    // Prometheus gives up on its side too instead of computing an answer nobody waits for.
    params += fmt::format("&timeout={}ms", static_cast<long long>(seconds * 1000));
  }
  std::string url = options_.config.endpoint + "/api/v1/query";
  std::string form;
  if (url.size() + 1 + params.size() <= kMaxGetUrl) {
    url += "?" + params;
  } else {
    form = std::move(params);
  }
  auto result = attempt(url, form);
  if (!result.ok() && retryable(result.error())) {
    options_.sleep(options_.retry_delay);
    result = attempt(url, form);
  }
  if (result.ok()) {
    log_warnings(result->warnings);
  }
  return result;
}

}  // namespace joulie::signals
