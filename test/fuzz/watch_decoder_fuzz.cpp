// Watch-stream decoder: the same byte stream cut into arbitrary chunks must decode to exactly the
// events (and the same success or failure) as when it arrives in one piece.
//
// Input: [flags][stop][cut count × u16 cut positions][stream]
//   flags bit 0-2: number of cuts (0-7); bit 3: the sink stops after `stop % 8 + 1` events;
//   bit 4: also run with a small line limit (64 + stop bytes).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "joulie/kube/json.hpp"
#include "kube/watch_decoder.hpp"

namespace {

using joulie::kube::WatchDecoder;
using joulie::kube::WatchEvent;
using joulie::kube::WatchEventType;

struct Outcome {
  bool ok = true;
  std::vector<std::pair<WatchEventType, std::string>> events;
  bool operator==(const Outcome&) const = default;
};

Outcome decode(std::string_view stream, const std::vector<size_t>& cuts, size_t stop_after,
               size_t max_line_bytes) {
  Outcome out;
  WatchDecoder decoder(
      [&](WatchEvent&& event) {
        FUZZ_CHECK(event.object.IsObject());
        out.events.emplace_back(event.type, joulie::kube::to_json(event.object));
        return out.events.size() < stop_after;
      },
      max_line_bytes);
  size_t pos = 0;
  for (size_t cut : cuts) {
    // Keep feeding after a failure: a failed decoder must keep refusing, not resume.
    const auto status = decoder.feed(stream.substr(pos, cut - pos));
    out.ok = out.ok && status.ok();
    pos = cut;
  }
  const auto last = decoder.feed(stream.substr(pos));
  out.ok = out.ok && last.ok();
  const auto finished = decoder.finish();
  out.ok = out.ok && finished.ok();
  FUZZ_CHECK(decoder.events() == out.events.size());
  FUZZ_CHECK(out.events.size() <= stop_after);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  joulie::fuzz::InputReader in(data, size);
  const uint8_t flags = in.byte();
  const uint8_t stop = in.byte();
  const size_t cut_count = flags & 7u;
  std::vector<uint16_t> raw_cuts;
  for (size_t i = 0; i < cut_count; ++i) {
    raw_cuts.push_back(in.u16());
  }
  const std::string_view stream = in.rest();
  std::vector<size_t> cuts;
  for (uint16_t c : raw_cuts) {
    cuts.push_back(static_cast<size_t>(c) % (stream.size() + 1));
  }
  std::sort(cuts.begin(), cuts.end());
  const size_t stop_after = (flags & 8u) != 0 ? stop % 8u + 1u : SIZE_MAX;

  const Outcome whole = decode(stream, {}, stop_after, 64u << 20);
  const Outcome chunked = decode(stream, cuts, stop_after, 64u << 20);
  FUZZ_CHECK(chunked == whole);

  if ((flags & 16u) != 0) {
    // A small limit may refuse long lines (where depends on the chunking), but whatever it
    // accepts must be what the unlimited decoder produced.
    const Outcome limited = decode(stream, cuts, stop_after, 64u + stop);
    if (limited.ok) {
      FUZZ_CHECK(limited == whole);
    }
  }
  return 0;
}
