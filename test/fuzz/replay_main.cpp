// Corpus replay: runs every file of the given directories through the target's
// LLVMFuzzerTestOneInput with an ordinary main(), so the seed corpora (and any crash
// reproducers) are exercised by the normal test suite with any compiler. A property failure or
// crash aborts the process, which fails the test; the file being replayed is printed first.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// Usage: replay [--optional] DIR... ; a directory after --optional may be absent (crashes/).
int main(int argc, char** argv) {
  size_t replayed = 0;
  bool optional = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--optional") {
      optional = true;
      continue;
    }
    const std::filesystem::path dir(arg);
    if (!std::filesystem::is_directory(dir)) {
      if (optional) {
        optional = false;
        continue;
      }
      std::fprintf(stderr, "corpus directory %s does not exist\n", arg.c_str());
      return 1;
    }
    optional = false;
    for (const auto& file : files_in(dir)) {
      std::ifstream in(file, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      std::fprintf(stderr, "replay %s (%zu bytes)\n", file.c_str(), bytes.size());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++replayed;
    }
  }
  if (replayed == 0) {
    std::fprintf(stderr, "no corpus files replayed\n");
    return 1;
  }
  std::printf("%zu inputs replayed without a failure\n", replayed);
  return 0;
}
