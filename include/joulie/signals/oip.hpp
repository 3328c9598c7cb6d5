#pragma once
// A client for models served over the Open Inference Protocol v2 REST API (KServe, Triton,
// MLServer), docs/design.md#demand-forecast-model:
//   GET  {endpoint}/v2/models/{model}/ready  → 200 when the model can answer;
//   POST {endpoint}/v2/models/{model}/infer  with {"inputs":[{"name","shape","datatype":"FP32",
//        "data":[…]}]} → {"outputs":[{"name","shape","datatype","data":[…]}]}.
// The demand forecast model's inputs and output are documented in docs/configuration.md
// ("The demand forecast model"). A model that is not ready, times out, or answers anything but
// one finite number is an error: the signal is then missing.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/common/clock.hpp"
#include "joulie/common/http_client.hpp"
#include "joulie/common/result.hpp"
#include "joulie/policy/context.hpp"

namespace joulie::signals {

struct OipTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> data;  // FP32, row-major
};

// The forecast model's inputs (docs/configuration.md):
//   demand_history FP32 [1, kForecastHistory]: performance-sensitive pods cluster-wide at the
//     last kForecastHistory collection ticks, oldest first (padded with the oldest known value
//     until that many ticks have passed);
//   time_features  FP32 [1, 4]: sin/cos of the UTC hour of day (period 24 h) and sin/cos of the
//     day of week (period 7 d, Monday 00:00 UTC = 0) at `now`.
inline constexpr std::size_t kForecastHistory = 12;
std::vector<OipTensor> forecast_inputs(const std::vector<double>& history, SystemTime now);

// Request body for the infer call. Pure.
std::string encode_infer_request(const std::vector<OipTensor>& inputs);
// The single value of the first output (shape with one element, datatype FP32/FP64 or any
// numeric type, finite). Pure (exposed for tests).
Result<double> decode_infer_reply(int http_status, std::string_view body);

class OipClient {
 public:
  OipClient(HttpClientPool& pool, policy::KServeConfig config);

  // Errc::unavailable when the model says it is not ready (or the server cannot be reached).
  Status ready();
  Result<double> infer(const std::vector<OipTensor>& inputs);

  std::string model_url() const;

 private:
  HttpClientPool& pool_;
  policy::KServeConfig config_;
};

}  // namespace joulie::signals
