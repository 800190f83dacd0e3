// Unit tests of the environment `gilwatch run` gives its command
// (harness/run/run_environment): GILWATCH_OPTIONS, LD_PRELOAD, where the library is
// found.
#include "report_side_fixtures.h"

TEST_CASE("GILWATCH_OPTIONS keeps the user's keys and adds only the flags given", "[run_environment]") {
  LibraryFlags flags;
  flags.out_dir = "/tmp/out/raw";
  SECTION("no flags: the user's exitcode decides") {
    std::string text = compose_options("exitcode=0:stack_depth=8", flags);
    CHECK(text == "report_stderr=0:exitcode=0:stack_depth=8:out_dir=/tmp/out/raw");
    Options effective;
    char error[256];
    REQUIRE(parse_options(text.c_str(), &effective, error, sizeof(error)));
    CHECK(effective.exitcode == 0);
    CHECK(effective.stack_depth == 8);
    CHECK_FALSE(effective.report_stderr);
  }
  SECTION("flags win over the user's keys") {
    flags.set("exitcode", "70");
    flags.set("stack_depth", "4");
    flags.set("python_frames", "0");
    flags.set("verbosity", "1");
    std::string text = compose_options(":exitcode=0:report_stderr=1:", flags);
    CHECK(text ==
          "report_stderr=0:exitcode=0:report_stderr=1:out_dir=/tmp/out/raw:exitcode=70:python_frames=0:"
          "stack_depth=4:verbosity=1");
    Options effective;
    char error[256];
    REQUIRE(parse_options(text.c_str(), &effective, error, sizeof(error)));
    CHECK(effective.exitcode == 70);
    CHECK(effective.report_stderr);  // the user asked for the library's own report
    CHECK_FALSE(effective.python_frames);
    CHECK(std::string(effective.out_dir) == "/tmp/out/raw");
  }
  SECTION("nothing from the user") { CHECK(compose_options(nullptr, flags) == "report_stderr=0:out_dir=/tmp/out/raw"); }
}

TEST_CASE("LD_PRELOAD puts the library first and keeps what was there", "[run_environment]") {
  CHECK(compose_preload("/gw/libgilwatch.so", nullptr) == "/gw/libgilwatch.so");
  CHECK(compose_preload("/gw/libgilwatch.so", "") == "/gw/libgilwatch.so");
  CHECK(compose_preload("/gw/libgilwatch.so", "/x/liba.so:/x/libb.so") == "/gw/libgilwatch.so:/x/liba.so:/x/libb.so");
  std::vector<std::string> env = {"PATH=/bin", "LD_PRELOAD=/x/liba.so", "LD_PRELOAD_X=keep", "HOME=/root"};
  CHECK(with_variables(env, {{"LD_PRELOAD", "/gw/l.so"}, {"GILWATCH_OPTIONS", "a=1"}}) ==
        std::vector<std::string>{"PATH=/bin", "LD_PRELOAD_X=keep", "HOME=/root", "LD_PRELOAD=/gw/l.so",
                                 "GILWATCH_OPTIONS=a=1"});
}

TEST_CASE("the library is found next to the executable unless GILWATCH_LIBRARY names one", "[run_environment]") {
  CHECK(library_path(nullptr, "/opt/gw/bin/gilwatch") == "/opt/gw/lib/libgilwatch.so");
  CHECK(library_path("", "/opt/gw/bin/gilwatch") == "/opt/gw/lib/libgilwatch.so");
  CHECK(library_path("/else/l.so", "/opt/gw/bin/gilwatch") == "/else/l.so");
  CHECK(fs::path(library_path("rel/l.so", "/opt/gw/bin/gilwatch")).is_absolute());

  TempDir dir;
  std::string error;
  CHECK_FALSE(check_library((dir.path / "missing.so").string(), &error));
  CHECK(contains(error, "not found"));
  CHECK_FALSE(check_library(dir.write("a:b.so", "x"), &error));
  CHECK(contains(error, "LD_PRELOAD cannot carry"));
  CHECK(check_library(dir.write("ok.so", "x"), &error));
  CHECK_FALSE(path_fits_options("/tmp/a:b/raw"));
  CHECK(path_fits_options("/tmp/a b/raw"));
}
