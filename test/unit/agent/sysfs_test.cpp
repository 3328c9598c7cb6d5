#include <catch2/catch.hpp>

#include "fake_sysfs.hpp"
#include "joulie/agent/sysfs.hpp"

using joulie::Errc;
using namespace joulie::agent;

TEST_CASE("sysfs integers parse strictly") {
  CHECK(sysfs::parse_int("42\n", "f").value() == 42);
  CHECK(sysfs::parse_int("  -7 ", "f").value() == -7);
  CHECK(sysfs::parse_uint("262143328850\n", "f").value() == 262143328850ULL);
  CHECK(sysfs::parse_uint("18446744073709551615", "f").value() == UINT64_MAX);

  struct Bad {
    const char* text;
    const char* says;
  };
  for (Bad bad :
       {Bad{"", "empty"}, Bad{"  \n", "empty"}, Bad{"abc", "not an integer"},
        Bad{"12abc", "not an integer"}, Bad{"1 2", "not an integer"}, Bad{"+5", "not an integer"},
        Bad{"0x10", "not an integer"}, Bad{"18446744073709551616", "out of range"},
        Bad{"-1", "negative"}, Bad{"1.5", "not an integer"}}) {
    INFO(bad.text);
    auto r = sysfs::parse_uint(bad.text, "energy_uj");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::parse);
    CHECK(r.error().message.find("energy_uj") != std::string::npos);
    CHECK(r.error().message.find(bad.says) != std::string::npos);
  }
  CHECK(sysfs::parse_int("9223372036854775808", "f").error().message.find("out of range") !=
        std::string::npos);
  CHECK_FALSE(sysfs::parse_int(std::string_view("1\0"
                                                "2",
                                                3),
                               "f")
                  .ok());
}

TEST_CASE("sysfs reads are bounded and name the file") {
  joulie::test::FakeSysfs tree;
  tree.write("small", "123\n");
  CHECK(sysfs::read_file(tree.path("small")).value() == "123\n");
  CHECK(sysfs::read_uint(tree.path("small")).value() == 123);

  auto missing = sysfs::read_file(tree.path("nope"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::unavailable);
  CHECK(missing.error().message.find("nope") != std::string::npos);

  tree.write("huge", std::string(sysfs::kMaxFileBytes + 1, '7'));
  auto huge = sysfs::read_file(tree.path("huge"));
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().code == Errc::parse);

  std::filesystem::create_directories(tree.path("dir"));
  auto dir = sysfs::read_file(tree.path("dir"));
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().code == Errc::io);

  tree.write("garbage", "\x01\x02zz");
  auto garbage = sysfs::read_uint(tree.path("garbage"));
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.error().code == Errc::parse);
}

TEST_CASE("sysfs writes replace existing files only, never through a leaf symlink") {
  joulie::test::FakeSysfs tree;
  tree.write("limit", "200000000\n");
  REQUIRE(sysfs::write_file(tree.path("limit"), "150").ok());
  CHECK(tree.read("limit") == "150");  // truncated, not overlaid on the old content

  auto absent = sysfs::write_file(tree.path("absent"), "1");
  REQUIRE_FALSE(absent.ok());
  CHECK(absent.code() == Errc::unavailable);
  CHECK_FALSE(std::filesystem::exists(tree.path("absent")));

  tree.lock("limit");
  auto locked = sysfs::write_file(tree.path("limit"), "99");
  REQUIRE_FALSE(locked.ok());
  CHECK(locked.error().message.find("symbolic link") != std::string::npos);
  CHECK(tree.read("limit") == "150");

  std::filesystem::create_directories(tree.path("adir"));
  CHECK_FALSE(sysfs::write_file(tree.path("adir"), "1").ok());
}

TEST_CASE("real_path resolves the class tree into devices") {
  joulie::test::FakeSysfs tree;
  tree.add_rapl_package(0);
  auto via_class = sysfs::real_path(tree.path("class/powercap/intel-rapl:0"));
  auto via_devices =
      sysfs::real_path(tree.path("devices/virtual/powercap/intel-rapl/intel-rapl:0"));
  REQUIRE(via_class.ok());
  REQUIRE(via_devices.ok());
  CHECK(*via_class == *via_devices);
  CHECK(sysfs::real_path(tree.path("class/powercap/intel-rapl:9")).code() == Errc::unavailable);
}
