// Unit tests of parsing addr2line output and symbolizing a real binary
// (harness/results/symbolizer).
#include "report_side_fixtures.h"

TEST_CASE("addr2line output splits per address, with inlined frames", "[symbolizer]") {
  std::string output =
      "0x0000000000001234\n"
      "inner_inlined\n"
      "/src/a.c:10\n"
      "outer(int, char const*)\n"
      "/src/a.c:20 (discriminator 2)\n"
      "0x0000000000005678\n"
      "??\n"
      "??:0\n"
      "0x0000000000009abc\n"
      "known_without_lines\n"
      "??:?\r\n";
  auto frames = parse_addr2line_output(output, 4);
  REQUIRE(frames.size() == 4);
  REQUIRE(frames[0].size() == 2);
  CHECK(frames[0][0].function == "inner_inlined");
  CHECK(frames[0][0].file == "/src/a.c");
  CHECK(frames[0][0].line == 10);
  CHECK(frames[0][1].function == "outer(int, char const*)");
  CHECK(frames[0][1].line == 20);
  REQUIRE(frames[1].size() == 1);
  CHECK(frames[1][0].function == "??");
  CHECK(frames[1][0].file.empty());
  CHECK(frames[1][0].line == 0);
  CHECK(frames[2][0].function == "known_without_lines");
  CHECK(frames[2][0].file.empty());
  CHECK(frames[2][0].line == 0);
  REQUIRE(frames[3].size() == 1);  // addr2line stopped early: unknown, not a crash
  CHECK(frames[3][0].function == "??");
}

extern "C" __attribute__((noinline, used)) int gilwatch_unit_symbolizer_marker(int x) {
  asm volatile("" ::: "memory");
  return x * 3 + 1;
}


TEST_CASE("addr2line symbolizes this test binary and shrugs at a missing one", "[symbolizer]") {
  Dl_info info{};
  void* address = reinterpret_cast<void*>(&gilwatch_unit_symbolizer_marker);
  REQUIRE(dladdr(address, &info) != 0);
  uint64_t offset = reinterpret_cast<uint64_t>(address) - reinterpret_cast<uint64_t>(info.dli_fbase);
  std::string self = fs::read_symlink("/proc/self/exe").string();
  Addr2lineSymbolizer symbolizer;
  auto frames = symbolizer.symbolize(self, {offset + 4, 0x10});
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].front().function == "gilwatch_unit_symbolizer_marker");
  CHECK(report::base_name(frames[0].front().file) == "test_symbolizer.cpp");
  CHECK(frames[0].front().line > 0);
  auto missing = symbolizer.symbolize("/nonexistent/lib.so", {0x10, 0x20});
  REQUIRE(missing.size() == 2);
  CHECK(missing[1].front().function == "??");
}
