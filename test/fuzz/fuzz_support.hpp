#pragma once
// Shared by the fuzz targets: a property check that aborts (so libFuzzer and the corpus replay
// both report it as a crash with the failing input) and a small reader that takes control bytes
// from the front of the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

// A property the code under test promises. Not assert(): it must also hold in release builds.
#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)

namespace joulie::fuzz {

// Control bytes come off the front of the input; what is left is the text under test. Reading
// past the end yields zeros, so every input (even empty) is valid.
class InputReader {
 public:
  InputReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t byte() {
    if (pos_ >= size_) {
      return 0;
    }
    return data_[pos_++];
  }
  uint16_t u16() {
    const uint16_t low = byte();
    return static_cast<uint16_t>(low | (byte() << 8));
  }
  std::string_view rest() const {
    const size_t pos = pos_ < size_ ? pos_ : size_;
    return {reinterpret_cast<const char*>(data_) + pos, size_ - pos};
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace joulie::fuzz
