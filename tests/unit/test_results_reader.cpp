// Unit tests of reading per-process results files (harness/results/results_reader):
// every field, what is optional, what is refused and why, where the files are found.
#include "report_side_fixtures.h"

TEST_CASE("a results file written by the library reads back with every field", "[results_reader]") {
  TempDir dir;
  std::string path = dir.write("gilwatch.10.1.json", abba_results(10).dump());
  ProcessResults r;
  std::string error;
  REQUIRE(read_results_file(path, &r, &error));
  CHECK(r.process.pid == 10);
  CHECK(r.process.ppid == 1);
  CHECK(r.process.argv == std::vector<std::string>{"./abba", "--rounds", "3"});
  CHECK(r.process.state == "exited");
  CHECK(r.process.exit_status == 0);
  CHECK(r.process.python_version == "3.11.2 (main)");
  CHECK(r.process.results_file == path);
  REQUIRE(r.modules.size() == 2);
  CHECK(r.modules[0].load_bias == 0x400000);
  CHECK(r.modules[0].segments == std::vector<std::pair<uint64_t, uint64_t>>{{0x401000, 0x402000}});
  REQUIRE(r.findings.size() == 1);
  const RawFinding& f = r.findings[0];
  CHECK(f.kind == "lock-order-inversion");
  REQUIRE(f.locks.size() == 2);
  CHECK(f.locks[1].address == 0x5040);
  CHECK(f.locks[1].first_site == std::vector<uint64_t>{0x401030});
  REQUIRE(f.edges.size() == 2);
  CHECK(f.edges[0].tid == 11);
  CHECK(f.edges[0].thread_name == "worker");
  CHECK(f.edges[0].stack == std::vector<uint64_t>{0x701234, 0x401010, 0x401020});
  CHECK(f.edges[1].python_frames[0].function == "register_tasks");
  CHECK(f.edges[1].python_frames[0].line == 12);
}

TEST_CASE("a snapshot of a process that never exited is valid and its findings count", "[results_reader]") {
  json j = abba_results(10);
  j["state"] = "running";
  j.erase("exit_status");
  ProcessResults r = parsed(j);
  CHECK(r.process.state == "running");
  CHECK_FALSE(r.process.exit_status.has_value());
  CHECK(r.findings.size() == 1);
}

TEST_CASE("optional keys may be missing, unknown keys are ignored", "[results_reader]") {
  json j = abba_results(10);
  for (const char* key : {"ppid", "argv", "exe", "python", "modules", "stats"}) j.erase(key);
  j["a_key_from_a_newer_library"] = {1, 2, 3};
  j["findings"][0]["edges"][0].erase("python_frames");
  j["findings"][0]["edges"][0].erase("held_mode");
  ProcessResults r = parsed(j);
  CHECK(r.modules.empty());
  CHECK(r.process.python_version.empty());
  CHECK(r.findings[0].edges[0].held_mode == "write");
}

TEST_CASE("an interpreter the library marks untested is read as its major.minor", "[results_reader]") {
  json j = abba_results(10);
  j["python"] = {{"loaded", true}, {"version", "3.8.18 (default, Jan 1 2024)"}, {"tested", false}};
  CHECK(parsed(j).process.untested_python == "3.8");
  // Found without its thread-state API: still named.
  j["python"] = {{"loaded", false}, {"version", "3.16.0a1"}, {"tested", false}};
  ProcessResults not_loaded = parsed(j);
  CHECK(not_loaded.process.untested_python == "3.16");
  CHECK(not_loaded.process.python_version.empty());
  // Tested, or a library that does not say: nothing.
  j["python"] = {{"loaded", true}, {"version", "3.11.2 (main)"}, {"tested", true}};
  CHECK(parsed(j).process.untested_python.empty());
  j["python"] = {{"loaded", true}, {"version", "3.11.2 (main)"}};
  CHECK(parsed(j).process.untested_python.empty());
}

TEST_CASE("a free-threaded interpreter and the checks it turned off are read; absent means a GIL build",
          "[results_reader]") {
  json j = abba_results(10);
  j["python"] = {{"loaded", true}, {"version", "3.13.0 (main)"}, {"tested", true}};
  CHECK_FALSE(parsed(j).process.free_threaded);
  CHECK(parsed(j).process.checks_off.empty());
  j["python"]["free_threaded"] = true;
  j["python"]["checks_off"] = {"gil-held-blocking", "capi-without-gil"};
  ProcessResults r = parsed(j);
  CHECK(r.process.free_threaded);
  CHECK(r.process.checks_off == std::vector<std::string>{"gil-held-blocking", "capi-without-gil"});
}

TEST_CASE("the acquisitions a process could not track for low stack are read, and absent means none",
          "[results_reader]") {
  json j = abba_results(10);
  CHECK(parsed(j).process.untracked_low_stack == 0);
  j["untracked_low_stack"] = 12;
  CHECK(parsed(j).process.untracked_low_stack == 12);
}

TEST_CASE("a process's capacity warnings and a cut cycle's length are read; absent means none",
          "[results_reader]") {
  json j = abba_results(10);
  ProcessResults plain = parsed(j);
  CHECK(plain.process.capacity_warnings.empty());
  REQUIRE_FALSE(plain.findings.empty());
  CHECK(plain.findings[0].cycle_length == 0);
  j["capacity_warnings"] = json::array(
      {{{"capacity", "held_locks_per_thread"}, {"limit", 512}, {"lost", 8}, {"lost_what", "lock acquisitions not tracked"}}});
  j["findings"][0]["cycle_length"] = 70;
  ProcessResults r = parsed(j);
  REQUIRE(r.process.capacity_warnings.size() == 1);
  CHECK(r.process.capacity_warnings[0].capacity == "held_locks_per_thread");
  CHECK(r.process.capacity_warnings[0].limit == 512);
  CHECK(r.process.capacity_warnings[0].lost == 8);
  CHECK(r.process.capacity_warnings[0].lost_what == "lock acquisitions not tracked");
  CHECK(r.findings[0].cycle_length == 70);
}

TEST_CASE("a Python version string's series", "[results_reader]") {
  CHECK(report::python_series("3.8.18 (default, ...)") == "3.8");
  CHECK(report::python_series("3.15.0") == "3.15");
  CHECK(report::python_series("3.14.0rc1+") == "3.14");
  CHECK(report::python_series("odd") == "odd");
  CHECK(report::python_series("x.1") == "x.1");
}

TEST_CASE("truncated and corrupt files are refused with the byte offset", "[results_reader]") {
  std::string text = abba_results(10).dump();
  SECTION("truncated") {
    std::string error = refusal(text.substr(0, 200));
    CHECK(contains(error, "truncated"));
    CHECK(contains(error, "byte 200"));
  }
  SECTION("corrupt in the middle") {
    std::string broken = text;
    std::size_t at = broken.find("\"pid\":") + 6;  // the first character of the pid
    broken[at] = 'x';
    std::string error = refusal(broken);
    // Byte offsets count from 1, like the column numbers of compilers.
    CHECK(contains(error, "corrupt JSON at byte " + std::to_string(at + 1) + ": syntax error"));
  }
  SECTION("empty") { CHECK(refusal("") == "empty file"); }
  SECTION("not an object") { CHECK(contains(refusal("[1, 2]"), "expected a JSON object")); }
}

TEST_CASE("foreign formats and other versions are refused, naming what they are", "[results_reader]") {
  json j = abba_results(10);
  SECTION("another format") {
    j["format"] = "something-else";
    std::string error = refusal(j.dump());
    CHECK(contains(error, "not a gilwatch results file"));
    CHECK(contains(error, "something-else"));
  }
  SECTION("no format at all") {
    j.erase("format");
    CHECK(contains(refusal(j.dump()), "no \"format\" key"));
  }
  SECTION("a newer version") {
    j["version"] = 2;
    std::string error = refusal(j.dump());
    CHECK(contains(error, "version 2 is not supported"));
    CHECK(contains(error, "reads version 1"));
  }
  SECTION("version of the wrong type") {
    j["version"] = "1";
    CHECK(contains(refusal(j.dump()), "version: expected an integer, found string"));
  }
}

TEST_CASE("a missing or malformed key is refused with its path", "[results_reader]") {
  json j = abba_results(10);
  using Row = std::tuple<std::string, std::string>;
  auto [mutation, expected] = GENERATE(table<std::string, std::string>({
      Row{"drop findings", "missing key 'findings'"},
      Row{"drop kind", "missing key 'findings[0].kind'"},
      Row{"pid as text", "pid: expected an integer, found string"},
      Row{"bad address", "findings[0].locks[1].address: '0xZZ' is not an address"},
      Row{"unknown lock", "findings[0].edges[1].to: no lock with id 7"},
      Row{"bad state", "state: \"zombie\" is neither"},
      Row{"bad segment", "modules[0].segments[0]: expected [begin, end]"},
      Row{"negative tid", "findings[0].edges[0].thread.tid: expected a non-negative integer"},
  }));
  if (mutation == "drop findings") j.erase("findings");
  if (mutation == "drop kind") j["findings"][0].erase("kind");
  if (mutation == "pid as text") j["pid"] = "10";
  if (mutation == "bad address") j["findings"][0]["locks"][1]["address"] = "0xZZ";
  if (mutation == "unknown lock") j["findings"][0]["edges"][1]["to"] = 7;
  if (mutation == "bad state") j["state"] = "zombie";
  if (mutation == "bad segment") j["modules"][0]["segments"][0] = json::array({"0x1"});
  if (mutation == "negative tid") j["findings"][0]["edges"][0]["thread"]["tid"] = -3;
  INFO(mutation);
  std::string error = refusal(j.dump());
  CHECK(contains(error, expected));
}

TEST_CASE("results files are found in DIR/raw or in DIR itself, in start order", "[results_reader]") {
  TempDir dir;
  dir.write("raw/gilwatch.30.200.json", "{}");
  dir.write("raw/gilwatch.9.100.json", "{}");
  dir.write("raw/gilwatch.1.300.json", "{}");
  dir.write("raw/gilwatch.2.50.json.tmp", "{}");  // a write in progress
  dir.write("raw/other.json", "{}");
  dir.write("raw/gilwatch.json", "{}");
  std::vector<std::string> expected = {(dir.path / "raw/gilwatch.9.100.json").string(),
                                       (dir.path / "raw/gilwatch.30.200.json").string(),
                                       (dir.path / "raw/gilwatch.1.300.json").string()};
  CHECK(list_results_files(dir.path.string()) == expected);
  CHECK(list_results_files((dir.path / "raw").string()) == expected);
  CHECK(list_results_files((dir.path / "missing").string()).empty());
}

TEST_CASE("event findings read back with their threads, counts and detail", "[results_reader]") {
  ProcessResults r = parsed(blocking_results(10, 3, 250, 11));
  REQUIRE(r.findings.size() == 1);
  const RawFinding& f = r.findings[0];
  CHECK(f.kind == "gil-held-blocking");
  CHECK_FALSE(f.probable);
  CHECK(f.occurrences == 3);
  REQUIRE(f.longest_wait_ms);
  CHECK(*f.longest_wait_ms == 250);
  CHECK(f.detail == "pthread_join");
  CHECK(f.edges.empty());
  REQUIRE(f.threads.size() == 1);
  CHECK(f.threads[0].tid == 11);
  CHECK(f.threads[0].role == "held the GIL while blocked in pthread_join for 250 ms");
  CHECK(f.threads[0].stack == std::vector<uint64_t>{0x401010});
  CHECK(f.threads[0].python_frames.at(0).function == "shutdown");

  json bad = blocking_results(10, 3, 250, 11);
  bad["findings"][0]["probable"] = "yes";
  CHECK(contains(refusal(bad.dump()), "findings[0].probable"));
}
