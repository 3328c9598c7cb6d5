// Micro benchmark of JSON decoding (docs/decisions.md, "JSON numbers"): kube::parse_object, which
// converts numbers itself (std::from_chars), against RapidJSON's own number parsers on the same
// text. Two pages: a Kubernetes pod list page (1 000 pods, a few small integers each, numbers are
// a small part of the bytes) and a number-heavy body (20 000 objects of decimals and integers,
// like a simulator or metrics reply). The variants run interleaved, round after round; each prints
// the minimum CPU time (this thread) per page over --runs rounds, the figure least disturbed by
// other load on a shared machine.
//   json_bench [--runs N]
#include <rapidjson/document.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "joulie/kube/json.hpp"

namespace {

std::string pod_page(int pods) {
  std::string s =
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"912345"},"items":[)";
  for (int i = 0; i < pods; ++i) {
    if (i > 0) {
      s += ',';
    }
    const std::string n = std::to_string(i);
    s +=
        R"({"metadata":{"name":"job-)" + n +
        R"(-x7k2p","namespace":"batch","uid":"0b6c1e3a-6f1d-4c1e-9a57-)" +
        std::to_string(100000000000 + i) + R"(","resourceVersion":")" + std::to_string(900000 + i) +
        R"(","generation":1,"creationTimestamp":"2026-11-29T10:00:00Z","labels":{"app":"trainer","joulie.io/workload":"batch"}},)"
        R"("spec":{"nodeName":"worker-)" +
        std::to_string(i % 200) +
        R"(","priority":0,"terminationGracePeriodSeconds":30,"nodeSelector":{"joulie.io/power-profile":"eco"},)"
        R"("containers":[{"name":"main","image":"registry.example/trainer:1.4","ports":[{"containerPort":8080,"protocol":"TCP"}],)"
        R"("resources":{"requests":{"cpu":"2","memory":"4Gi"},"limits":{"cpu":"4","memory":"8Gi"}}}]},)"
        R"("status":{"phase":"Running","qosClass":"Burstable","startTime":"2026-11-29T10:00:03Z",)"
        R"("containerStatuses":[{"name":"main","ready":true,"restartCount":)" +
        std::to_string(i % 3) + R"(}]}})";
  }
  s += "]}";
  return s;
}

std::string number_page(int objects) {
  std::string s = R"({"samples":[)";
  for (int i = 0; i < objects; ++i) {
    if (i > 0) {
      s += ',';
    }
    char buf[200];
    std::snprintf(
        buf, sizeof buf,
        R"({"node":%d,"packagePowerWatts":%.6f,"dramWatts":%.3f,"ts":%lld,"freqKHz":%d,"util":%.17g})",
        i, 87.5 + (i % 1000) * 0.125, 12.25 + (i % 7), 1764410400000LL + i * 250, 2400000 + i % 100,
        (i % 997) / 997.0);
    s += buf;
  }
  s += "]}";
  return s;
}

double cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

template <unsigned Flags>
bool rapidjson_parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse<Flags>(text.data(), text.size());
  return !d.HasParseError();
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 51;
  if (argc == 3 && std::strcmp(argv[1], "--runs") == 0) {
    runs = std::max(1, std::atoi(argv[2]));
  }
  struct Page {
    const char* name;
    std::string text;
  };
  const Page pages[] = {{"pod list page, 1000 pods", pod_page(1000)},
                        {"number-heavy body, 20000 objects", number_page(20000)}};
  for (const Page& p : pages) {
    std::printf("%s: %.1f KiB, minimum CPU time of %d rounds\n", p.name, p.text.size() / 1024.0,
                runs);
    const struct {
      const char* what;
      std::function<bool()> decode;
    } variants[] = {
        {"kube::parse_object (from_chars numbers)",
         [&] { return joulie::kube::parse_object(p.text).ok(); }},
        {"RapidJSON Parse<kParseFullPrecisionFlag> (before)",
         [&] { return rapidjson_parse<rapidjson::kParseFullPrecisionFlag>(p.text); }},
        {"RapidJSON Parse<> (normal precision)",
         [&] { return rapidjson_parse<rapidjson::kParseDefaultFlags>(p.text); }},
        {"RapidJSON Parse<kParseNumbersAsStringsFlag> (no conversion)",
         [&] { return rapidjson_parse<rapidjson::kParseNumbersAsStringsFlag>(p.text); }},
    };
    std::vector<double> best(std::size(variants), 1e300);
    for (int r = 0; r < runs; ++r) {
      for (size_t v = 0; v < std::size(variants); ++v) {
        const double start = cpu_us();
        if (!variants[v].decode()) {
          std::fprintf(stderr, "json_bench: %s failed\n", variants[v].what);
          return 1;
        }
        best[v] = std::min(best[v], cpu_us() - start);
      }
    }
    for (size_t v = 0; v < std::size(variants); ++v) {
      std::printf("  %-62s %9.0f us  %7.1f MB/s\n", variants[v].what, best[v],
                  static_cast<double>(p.text.size()) / best[v]);
    }
  }
  return 0;
}
