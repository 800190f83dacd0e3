// Unit tests of merging and deduplicating findings (harness/results/merge): counts
// across processes, symbolized frames, signatures.
#include "report_side_fixtures.h"

TEST_CASE("the same inversion in several processes merges into one finding with a count", "[merge]") {
  FakeSymbolizer symbolizer;
  report::Report report = merged({abba_results(100), abba_results(101), abba_results(102)}, symbolizer);
  CHECK(report.processes.size() == 3);
  REQUIRE(report.findings.size() == 1);
  const report::Finding& f = report.findings[0];
  CHECK(f.count == 3);
  CHECK(f.pids == std::vector<int64_t>{100, 101, 102});
  CHECK(f.severity == "error");
  // One batch per module, each (module, offset) once, at return address - 1.
  REQUIRE(symbolizer.calls.size() == 2);
  std::map<std::string, std::vector<uint64_t>> calls(symbolizer.calls.begin(), symbolizer.calls.end());
  CHECK(calls["/bin/abba"] == std::vector<uint64_t>{0x100f, 0x101f, 0x102f});
  CHECK(calls["/opt/gw/lib/libgilwatch.so"] == std::vector<uint64_t>{0x1233});
  REQUIRE(f.threads.size() == 2);
  CHECK(f.threads[0].role == "took mutex 0x5040 while holding mutex 0x5000");
  CHECK(f.threads[1].role == "took mutex 0x5000 while holding mutex 0x5040");
  CHECK(f.threads[1].python_frames.front().function == "register_tasks");
  CHECK(f.summary ==
        "lock-order inversion (potential deadlock): mutex 0x5000 (first taken in take_a_then_b) -> mutex 0x5040 "
        "(first taken in take_b_then_a) -> mutex 0x5000");
}

TEST_CASE("frames are symbolized, inlined levels expanded and leading hook frames dropped", "[merge]") {
  FakeSymbolizer symbolizer;
  report::Report report = merged({abba_results(100)}, symbolizer);
  const std::vector<report::NativeFrame>& frames = report.findings.at(0).threads.at(0).native_frames;
  REQUIRE(frames.size() == 3);  // the libgilwatch.so frame before take_a_then_b is gone
  CHECK(frames[0].function == "take_a_then_b");
  CHECK(frames[0].pc == 0x401010);
  CHECK(frames[0].offset == 0x1010);
  CHECK(frames[0].module == "/bin/abba");
  CHECK(frames[0].file == "abba.c");
  CHECK(frames[0].line == 12);
  // One return address, two frames: the inlined helper, then the function holding it.
  CHECK(frames[1].function == "inlined_helper");
  CHECK(frames[2].function == "first_thread");
  CHECK(frames[1].pc == frames[2].pc);
}

// (No ';' in test names: CTest's discovery splits names on it and then runs nothing.)
TEST_CASE("gilwatch frames are dropped wherever they are, and a pc outside every module stays unknown", "[merge]") {
  json j = abba_results(100);
  j["findings"][0]["edges"][0]["stack"] = {"0x701234", "0x401010", "0x701234", "0x999999"};
  FakeSymbolizer symbolizer;
  report::Report report = merged({j}, symbolizer);
  const auto& frames = report.findings.at(0).threads.at(0).native_frames;
  REQUIRE(frames.size() == 2);  // the thread-start trampoline in the middle is gone too
  CHECK(frames[0].function == "take_a_then_b");
  CHECK(frames[1].module.empty());
  CHECK(frames[1].function == "??");
}

TEST_CASE("one process reporting the same code twice still counts once", "[merge]") {
  json j = abba_results(100);
  json second = j["findings"][0];
  second["locks"][0]["address"] = "0x6000";  // other lock instances, same code
  second["locks"][1]["address"] = "0x6040";
  j["findings"].push_back(second);
  FakeSymbolizer symbolizer;
  report::Report report = merged({j, abba_results(101)}, symbolizer);
  REQUIRE(report.findings.size() == 1);
  CHECK(report.findings[0].count == 2);
  CHECK(report.findings[0].pids == std::vector<int64_t>{100, 101});
}

TEST_CASE("findings in different code stay apart", "[merge]") {
  json other = abba_results(101);
  other["findings"][0]["edges"][1]["stack"] = {"0x401020"};  // taken in first_thread instead
  FakeSymbolizer symbolizer;
  report::Report report = merged({abba_results(100), other}, symbolizer);
  REQUIRE(report.findings.size() == 2);
  CHECK(report.findings[0].count == 1);
  CHECK(report.findings[1].pids == std::vector<int64_t>{101});
}

TEST_CASE("the symbolization budget caps lookups, frames past it keep module and offset", "[merge]") {
  FakeSymbolizer symbolizer;
  MergeOptions options;
  options.max_symbolized_frames = 1;
  report::Report report = merged({abba_results(100)}, symbolizer, options);
  std::size_t looked_up = 0;
  for (const auto& call : symbolizer.calls) looked_up += call.second.size();
  CHECK(looked_up == 1);
  const auto& frames = report.findings.at(0).threads.at(1).native_frames;
  REQUIRE_FALSE(frames.empty());
  CHECK(frames[0].function == "??");
  CHECK(frames[0].module == "/bin/abba");
  CHECK(frames[0].offset == 0x1030);
}

TEST_CASE("a cycle closed from any edge has the same signature", "[merge][signature]") {
  report::Finding f = three_lock_cycle();
  CHECK(finding_signature(rotated(f, 1)) == finding_signature(f));
  CHECK(finding_signature(rotated(f, 2)) == finding_signature(f));
  SECTION("addresses and modes do not matter") {
    report::Finding g = f;
    g.locks[0].address = 0x999;
    g.edges[1].acquired_mode = "write";
    CHECK(finding_signature(g) == finding_signature(f));
  }
  SECTION("the code does") {
    report::Finding g = f;
    g.threads[1].native_frames[0].function = "elsewhere";
    CHECK(finding_signature(g) != finding_signature(f));
  }
  SECTION("the direction does") {
    report::Finding g = f;
    g.edges = {{0, 2, "write", "write", 0}, {2, 1, "write", "write", 1}, {1, 0, "write", "write", 2}};
    CHECK(finding_signature(g) != finding_signature(f));
  }
  SECTION("the lock kinds do") {
    report::Finding g = f;
    g.locks[2].kind = "mutex";
    CHECK(finding_signature(g) != finding_signature(f));
  }
  SECTION("without symbols, the module offset stands in for the function") {
    report::Finding a = f, b = f;
    a.threads[0].native_frames[0].function = b.threads[0].native_frames[0].function = "??";
    b.threads[0].native_frames[0].pc = 0x7000;  // another load address, same offset
    CHECK(finding_signature(a) == finding_signature(b));
    b.threads[0].native_frames[0].offset = 0x44;
    CHECK(finding_signature(a) != finding_signature(b));
  }
}

TEST_CASE("a Rust panic's signature is its first frame past the runtime's", "[merge][signature]") {
  CHECK(finding_signature(panic_at("proj::validate")) == finding_signature(panic_at("proj::validate")));
  CHECK(finding_signature(panic_at("proj::validate")) != finding_signature(panic_at("proj::registered")));
  CHECK(finding_signature(panic_at("proj::validate")).find("proj::validate") != std::string::npos);
}

TEST_CASE("the same event in several processes merges: counts add up, the longest wait wins", "[merge]") {
  FakeSymbolizer symbolizer;
  // Different thread ids and waits, same code: one finding.
  report::Report report =
      merged({blocking_results(100, 2, 150, 101), blocking_results(200, 5, 400, 201)}, symbolizer);
  REQUIRE(report.findings.size() == 1);
  const report::Finding& f = report.findings[0];
  CHECK(f.count == 2);
  CHECK(f.occurrences == 7);
  REQUIRE(f.longest_wait_ms);
  CHECK(*f.longest_wait_ms == 400);
  CHECK(f.summary == "blocking call pthread_join while holding the GIL");
  REQUIRE(f.threads.size() == 1);
  CHECK(f.threads[0].native_frames.at(0).function == "take_a_then_b");
  CHECK(report::finding_facts(f) == "7 times; longest wait 400 ms; pthread_join");

  json text = report::to_findings_json(report, "test");
  CHECK(text["findings"][0]["occurrences"] == 7);
  CHECK(text["findings"][0]["longest_wait_ms"] == 400);
  CHECK(text["findings"][0]["probable"] == false);
  CHECK(text["findings"][0]["detail"] == "pthread_join");
  CHECK(text["findings"][0]["edges"].empty());
}
