// Unit tests of merging and deduplicating findings (harness/results/merge): counts
// across processes, symbolized frames, signatures.
#include "report_side_fixtures.h"
#include "triage.h"

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

TEST_CASE("findings on locks of other classes stay apart", "[merge]") {
  json other = abba_results(101);
  other["findings"][0]["locks"][1]["first_site"] = {"0x401020"};  // first taken in first_thread
  FakeSymbolizer symbolizer;
  report::Report report = merged({abba_results(100), other}, symbolizer);
  REQUIRE(report.findings.size() == 2);
  CHECK(report.findings[0].count == 1);
  CHECK(report.findings[1].pids == std::vector<int64_t>{101});
}

TEST_CASE("the same lock classes in the same order are one finding whatever the sites of its edges", "[merge]") {
  // As lockdep's classes group them: the order of these two kinds of lock is the bug,
  // however many places take it (a connection's mutex and the GIL in every callback).
  json other = abba_results(101);
  other["findings"][0]["edges"][1]["stack"] = {"0x401020"};  // taken in first_thread instead
  FakeSymbolizer symbolizer;
  report::Report report = merged({abba_results(100), other}, symbolizer);
  REQUIRE(report.findings.size() == 1);
  CHECK(report.findings[0].count == 2);
}

TEST_CASE("every instance a merged finding was seen on is listed, the library's own too", "[merge][instances]") {
  json j = abba_results(100);
  json second = j["findings"][0];
  second["locks"][0]["address"] = "0x6000";
  second["locks"][1]["address"] = "0x6040";
  j["findings"].push_back(second);
  // The library saw the first cycle close again on a third pair, by the same code.
  j["findings"][0]["count"] = 2;
  j["findings"][0]["instances"] = {{{"addresses", {"0x7000", "0x7040"}}, {"tids", {105, 106}}}};
  FakeSymbolizer symbolizer;
  report::Report report = merged({j, abba_results(101)}, symbolizer);
  REQUIRE(report.findings.size() == 1);
  const report::Finding& f = report.findings[0];
  CHECK(f.occurrences == 4);
  REQUIRE(f.instances.size() == 4);
  CHECK(f.instances[0].pid == 100);
  CHECK(f.instances[0].addresses == std::vector<uint64_t>{0x5000, 0x5040});
  CHECK(f.instances[0].tids == std::vector<uint64_t>{101, 102});
  CHECK(f.instances[1].addresses == std::vector<uint64_t>{0x7000, 0x7040});
  CHECK(f.instances[1].tids == std::vector<uint64_t>{105, 106});
  CHECK(f.instances[2].addresses == std::vector<uint64_t>{0x6000, 0x6040});
  CHECK(f.instances[3].pid == 101);
  CHECK(report::instances_text(f) ==
        "on 4 lock instances: 0x5000 and 0x5040 (pid 100), 0x7000 and 0x7040 (pid 100), 0x6000 and 0x6040 (pid 100), "
        "0x5000 and 0x5040 (pid 101)");
  json text = report::to_findings_json(report, "test");
  REQUIRE(text["findings"][0]["instances"].size() == 4);
  CHECK(text["findings"][0]["instances"][1]["addresses"] == json({"0x7000", "0x7040"}));
  CHECK(text["findings"][0]["instances_not_listed"] == 0);

  SECTION("beyond the cap they are counted") {
    report::Finding g;
    for (std::size_t i = 0; i < kMaxInstancesListed + 3; ++i) add_instance(&g, {1, {0x1000 + i}, {}});
    add_instance(&g, {1, {0x1000}, {}});  // listed already: neither listed nor counted again
    CHECK(g.instances.size() == kMaxInstancesListed);
    CHECK(g.instances_not_listed == 3);
  }
}

namespace {

// A two-lock cycle whose locks were both first taken in one helper, lock_pair, called
// from `forward` and `backward`: only the call one frame up tells such cycles apart.
report::Finding pair_cycle(const std::string& forward, const std::string& backward, uint64_t a, uint64_t b) {
  report::Finding f;
  f.kind = "lock-order-inversion";
  report::NativeFrame helper{0x1010, "/bin/many", 0x1010, "lock_pair", "many.c", 10};
  f.locks = {{0, "", "mutex", a, {helper}}, {1, "", "mutex", b, {helper}}};
  for (const std::string& caller : {forward, backward}) {
    report::Thread t;
    t.tid = 7;
    t.native_frames = {helper, {0x2000, "/bin/many", 0x2000, caller, "many.c", 20}};
    f.threads.push_back(t);
  }
  f.edges = {{0, 1, "write", "write", 0}, {1, 0, "write", "write", 1}};
  return f;
}

}  // namespace

TEST_CASE("cycles taken through one helper are told apart by the call one frame up", "[merge][signature]") {
  report::Finding first = pair_cycle("forward_0", "backward_0", 0x10, 0x20);
  CHECK(finding_signature(first) != finding_signature(pair_cycle("forward_1", "backward_1", 0x30, 0x40)));
  // The same code on other locks is the same bug.
  CHECK(finding_signature(first) == finding_signature(pair_cycle("forward_0", "backward_0", 0x50, 0x60)));
  // Before lock classes, all of them were one (baselines written then still match).
  CHECK(legacy_finding_signature(first) == legacy_finding_signature(pair_cycle("forward_1", "backward_1", 0x30, 0x40)));
  CHECK(legacy_finding_signature(first) == "lock-order-inversion\nmutex>mutex@lock_pair\nmutex>mutex@lock_pair\n");
}

TEST_CASE("a baseline written before lock classes still matches by the old fingerprint", "[merge][baseline]") {
  report::Finding f = pair_cycle("forward_0", "backward_0", 0x10, 0x20);
  f.signature = finding_signature(f);
  f.legacy_signature = legacy_finding_signature(f);
  CHECK(report::fingerprint(f) != report::legacy_fingerprint(f));
  report::Finding other = pair_cycle("forward_1", "backward_1", 0x30, 0x40);
  other.signature = finding_signature(other);
  report::Report r;
  r.findings = {f, other};
  harness::Triage triage;
  triage.baseline = harness::Baseline{"old.txt", {report::legacy_fingerprint(f)}};
  harness::apply_triage(triage, &r);
  REQUIRE(r.baselined.size() == 1);
  REQUIRE(r.findings.size() == 1);
  CHECK(report::fingerprint(r.findings[0]) == report::fingerprint(other));
}

TEST_CASE("the words say whether one thread or several took a cycle's edges", "[merge][describe]") {
  report::Finding f = pair_cycle("forward_0", "backward_0", 0x10, 0x20);
  f.threads[0].name = f.threads[1].name = "both-orders";
  CHECK(report::cycle_threads_text(f) ==
        "one thread took both orders: thread 7 (both-orders) took mutex 0x10 then mutex 0x20, and later mutex 0x20 "
        "then mutex 0x10");
  f.threads[1].tid = 8;
  f.threads[1].name = "backward";
  CHECK(report::cycle_threads_text(f) ==
        "taken by different threads: thread 7 (both-orders) took mutex 0x10 then mutex 0x20; thread 8 (backward) "
        "took mutex 0x20 then mutex 0x10");
  CHECK(report::finding_facts(f).find("taken by different threads") == 0);
  report::Finding event;
  event.kind = "abandoned-lock";
  CHECK(report::cycle_threads_text(event).empty());
}

namespace {

// A thread that returned from `worker` holding a mutex first taken in `site`.
report::Finding abandoned_at(const std::string& site, uint64_t address) {
  report::Finding f;
  f.kind = "abandoned-lock";
  f.detail = "thread-ended";
  report::Thread t;
  t.native_frames = {{0x3000, "/bin/ab", 0x3000, "worker", "ab.c", 30}};
  f.threads.push_back(t);
  f.locks = {{0, "", "mutex", address, {{0x1000, "/bin/ab", 0x1000, site, "ab.c", 10}}}};
  return f;
}

}  // namespace

TEST_CASE("abandoned locks taken at other sites are other findings, the same site on other locks is one",
          "[merge][signature]") {
  CHECK(finding_signature(abandoned_at("take_stats", 0x10)) != finding_signature(abandoned_at("take_journal", 0x20)));
  CHECK(finding_signature(abandoned_at("take_slot", 0x10)) == finding_signature(abandoned_at("take_slot", 0x20)));
  // The old signature did not look at the locks.
  CHECK(legacy_finding_signature(abandoned_at("take_stats", 0x10)) ==
        legacy_finding_signature(abandoned_at("take_journal", 0x20)));
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
  // The detail stays in findings.json; the words leave it out (the summary names the call).
  CHECK(report::finding_facts(f) == "7 times; longest wait 400 ms");

  json text = report::to_findings_json(report, "test");
  CHECK(text["findings"][0]["occurrences"] == 7);
  CHECK(text["findings"][0]["longest_wait_ms"] == 400);
  CHECK(text["findings"][0]["probable"] == false);
  CHECK(text["findings"][0]["detail"] == "pthread_join");
  CHECK(text["findings"][0]["edges"].empty());
}
