// Subcommand dispatch only; each mode lives in its own library area.
#include <cstdio>
#include <string_view>

#include "joulie_build_version.hpp"

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "version") {
    std::printf("joulie %s (%s)\n", JOULIE_VERSION, JOULIE_GIT_COMMIT);
    return 0;
  }
  std::fprintf(stderr, "usage: joulie <operator|agent|version|help> [flags]\n");
  return 2;
}
