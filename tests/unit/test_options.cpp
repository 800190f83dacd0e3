#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "gilwatch/options.h"

using namespace gilwatch;

TEST_CASE("options parse from the sanitizer-style key=value list", "[options]") {
  Options o;
  char error[200];
  REQUIRE(parse_options("out_dir=/tmp/x:exitcode=3:python_frames=0:stack_depth=8:verbosity=2",
                        &o, error, sizeof(error)));
  CHECK(std::string(o.out_dir) == "/tmp/x");
  CHECK(o.exitcode == 3);
  CHECK_FALSE(o.python_frames);
  CHECK(o.stack_depth == 8);
  CHECK(o.verbosity == 2);
  CHECK(error[0] == '\0');
}

TEST_CASE("empty and missing option strings keep the defaults", "[options]") {
  Options o;
  char error[200];
  CHECK(parse_options(nullptr, &o, error, sizeof(error)));
  CHECK(parse_options("", &o, error, sizeof(error)));
  CHECK(parse_options("::", &o, error, sizeof(error)));
  CHECK(o.exitcode == 66);
  CHECK(o.report_stderr);
}

TEST_CASE("later entries override earlier ones", "[options]") {
  Options o;
  char error[200];
  REQUIRE(parse_options("exitcode=1:exitcode=9", &o, error, sizeof(error)));
  CHECK(o.exitcode == 9);
}

TEST_CASE("bad options are named in the error", "[options]") {
  Options o;
  char error[200];
  SECTION("unknown key") {
    CHECK_FALSE(parse_options("exitcode=1:colour=red", &o, error, sizeof(error)));
    CHECK(std::string(error).find("colour") != std::string::npos);
    CHECK(o.exitcode == 1);  // entries before the bad one were applied
  }
  SECTION("bad value") {
    CHECK_FALSE(parse_options("stack_depth=1000", &o, error, sizeof(error)));
    CHECK(std::string(error).find("stack_depth") != std::string::npos);
    CHECK(std::string(error).find("1000") != std::string::npos);
  }
  SECTION("not key=value") {
    CHECK_FALSE(parse_options("verbose", &o, error, sizeof(error)));
    CHECK(std::string(error).find("verbose") != std::string::npos);
  }
  SECTION("bad boolean") {
    CHECK_FALSE(parse_options("python_frames=maybe", &o, error, sizeof(error)));
  }
}

TEST_CASE("every key in the option table is accepted by the parser", "[options]") {
  for (std::size_t i = 0; i < kOptionCount; ++i) {
    Options o;
    char error[200];
    std::string kind = kOptionTable[i].kind;
    std::string key = kOptionTable[i].key;
    // 1 is in range for every int key but deadlock_ms, whose floor is 50.
    std::string value = kind == "bool" ? "1" : kind == "int" ? (key == "deadlock_ms" ? "50" : "1") : "/tmp";
    std::string text = std::string(kOptionTable[i].key) + "=" + value;
    INFO(text);
    CHECK(parse_options(text.c_str(), &o, error, sizeof(error)));
  }
}

TEST_CASE("runtime detector options: defaults, values and bounds", "[options]") {
  Options o;
  char error[200];
  CHECK(o.deadlock_ms == 500);
  CHECK(o.deadlock_exitcode == 67);
  CHECK(o.gil_blocking_ms == 100);
  CHECK(o.capi_checks);
  REQUIRE(parse_options("deadlock_ms=2000:deadlock_exitcode=0:gil_blocking_ms=5:capi_checks=0", &o, error,
                        sizeof(error)));
  CHECK(o.deadlock_ms == 2000);
  CHECK(o.deadlock_exitcode == 0);
  CHECK(o.gil_blocking_ms == 5);
  CHECK_FALSE(o.capi_checks);
  CHECK_FALSE(parse_options("deadlock_ms=10", &o, error, sizeof(error)));
  CHECK(std::string(error).find("deadlock_ms") != std::string::npos);
  CHECK_FALSE(parse_options("gil_blocking_ms=0", &o, error, sizeof(error)));
  CHECK_FALSE(parse_options("deadlock_exitcode=256", &o, error, sizeof(error)));
}

TEST_CASE("the suppressions key is recorded for the command, not acted on", "[options]") {
  Options o;
  char error[200];
  CHECK(o.suppressions[0] == '\0');
  REQUIRE(parse_options("suppressions=/src/gilwatch.supp:exitcode=3", &o, error, sizeof(error)));
  CHECK(std::string(o.suppressions) == "/src/gilwatch.supp");
  CHECK(o.exitcode == 3);
  std::string long_path = "suppressions=/" + std::string(1100, 'x');
  CHECK_FALSE(parse_options(long_path.c_str(), &o, error, sizeof(error)));
  CHECK(std::string(error).find("suppressions") != std::string::npos);
}

TEST_CASE("hang_signal refuses signals that cannot serve, naming the option", "[options]") {
  char error[200];
  SECTION("catchable signals the process gets for no other reason are accepted") {
    for (const char* value : {"0", "1", "10", "12", "15", "34", "61", "64"}) {
      Options o;
      std::string text = std::string("hang_signal=") + value;
      INFO(text);
      CHECK(parse_options(text.c_str(), &o, error, sizeof(error)));
      CHECK(o.hang_signal == std::stoi(value));
    }
  }
  SECTION("uncatchable, fault, libc-internal, ordinary-event and out-of-range signals are refused") {
    for (const char* value : {"9", "19", "11", "7", "8", "4", "5", "6", "31", "32", "33", "17", "13", "28", "65",
                              "-1", "SIGUSR1"}) {
      Options o;
      std::string text = std::string("report_stderr=0:hang_signal=") + value;
      INFO(text);
      CHECK_FALSE(parse_options(text.c_str(), &o, error, sizeof(error)));
      CHECK(std::string(error).find("hang_signal") != std::string::npos);
      CHECK(std::string(error).find(value) != std::string::npos);
      CHECK(o.hang_signal == 0);  // the default stays
    }
  }
  SECTION("the refusal says why") {
    Options o;
    CHECK_FALSE(parse_options("hang_signal=9", &o, error, sizeof(error)));
    CHECK(std::string(error).find("cannot be caught") != std::string::npos);
    CHECK_FALSE(parse_options("hang_signal=11", &o, error, sizeof(error)));
    CHECK(std::string(error).find("fault") != std::string::npos);
  }
}
