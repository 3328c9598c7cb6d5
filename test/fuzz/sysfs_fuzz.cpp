// sysfs readers: strict number parsing and the small-file reader/writer on a temporary file.
// Input: [mode][file content / value text]. Properties: parse_int / parse_uint agree with each
// other and with the canonical decimal text of what they return; read_file returns exactly what
// is on disk (or refuses it as too large); write_file + read_file round-trip.
#include <stdlib.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <string>

#include "fuzz_support.hpp"
#include "joulie/agent/sysfs.hpp"

namespace sysfs = joulie::agent::sysfs;

namespace {

const std::string& temp_file() {
  static const std::string path = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/joulie-sysfs-fuzz-XXXXXX";
    FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    return tmpl + "/energy_uj";
  }();
  return path;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void check_numbers(std::string_view text) {
  const std::string_view trimmed = sysfs::trim(text);
  FUZZ_CHECK(trimmed.empty() || (!is_space(trimmed.front()) && !is_space(trimmed.back())));

  const auto signed_value = sysfs::parse_int(text, "fuzz");
  const auto unsigned_value = sysfs::parse_uint(text, "fuzz");
  if (signed_value.ok()) {
    // Whatever was accepted re-parses from its canonical form (no locale, no '+', no hex).
    const auto canonical = sysfs::parse_int(std::to_string(*signed_value), "fuzz");
    FUZZ_CHECK(canonical.ok() && *canonical == *signed_value);
    // "-0" is an int (0) but not a uint: parse_uint refuses any '-'.
    if (*signed_value >= 0 && trimmed.front() != '-') {
      FUZZ_CHECK(unsigned_value.ok());
      FUZZ_CHECK(*unsigned_value == static_cast<uint64_t>(*signed_value));
    }
  } else {
    FUZZ_CHECK(signed_value.code() == joulie::Errc::parse);
  }
  if (unsigned_value.ok()) {
    const auto canonical = sysfs::parse_uint(std::to_string(*unsigned_value), "fuzz");
    FUZZ_CHECK(canonical.ok() && *canonical == *unsigned_value);
    if (*unsigned_value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      FUZZ_CHECK(signed_value.ok());
    }
  } else {
    FUZZ_CHECK(unsigned_value.code() == joulie::Errc::parse);
    // Error messages quote at most a bounded, printable excerpt of the file.
    FUZZ_CHECK(unsigned_value.error().message.size() < 100);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  joulie::fuzz::InputReader in(data, size);
  const uint8_t mode = in.byte();
  const std::string_view content = in.rest();
  check_numbers(content);

  const std::string& path = temp_file();
  if ((mode & 1u) == 0) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  } else {
    // The agent's own writer (the file exists after the first run; create it otherwise).
    std::ofstream(path, std::ios::app).flush();
    FUZZ_CHECK(sysfs::write_file(path, content).ok());
  }

  const auto read = sysfs::read_file(path);
  if (content.size() <= sysfs::kMaxFileBytes) {
    FUZZ_CHECK(read.ok());
    FUZZ_CHECK(*read == content);
  } else {
    FUZZ_CHECK(read.code() == joulie::Errc::parse);
  }
  const auto number = sysfs::read_uint(path);
  const auto trimmed = sysfs::read_trimmed(path);
  if (read.ok()) {
    const auto parsed = sysfs::parse_uint(*read, path);
    FUZZ_CHECK(number.ok() == parsed.ok());
    FUZZ_CHECK(!number.ok() || *number == *parsed);
    FUZZ_CHECK(trimmed.ok() && *trimmed == sysfs::trim(*read));
  } else {
    FUZZ_CHECK(!number.ok() && !trimmed.ok());
  }
  return 0;
}
