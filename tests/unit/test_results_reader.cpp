// The report side, from hand-written inputs (no process under test needed): reading
// per-process results files, merging and deduplicating findings, symbolizer output
// parsing, the environment `gilwatch run` gives its command, the subcommand table, and
// the renderers (findings.json, text, HTML escaping).
#include <dlfcn.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "child_process.h"
#include "cli.h"
#include "describe.h"
#include "findings_json.h"
#include "gilwatch/options.h"
#include "html_report.h"
#include "merge.h"
#include "results_reader.h"
#include "run_environment.h"
#include "symbolizer.h"
#include "text_report.h"

using namespace gilwatch;
using namespace gilwatch::harness;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char pattern[] = "/tmp/gilwatch-unit-XXXXXX";
    path = mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    fs::create_directories((path / name).parent_path());
    std::ofstream(path / name, std::ios::binary) << text;
    return (path / name).string();
  }
};

// The main program of the hand-written results: /bin/abba loaded at 0x400000 with code
// at [0x401000, 0x402000), and libgilwatch.so at 0x700000 with code at [0x701000, 0x702000).

// A results file as libgilwatch.so writes it: an ABBA between two mutexes. Thread 1 took
// B (0x5040) holding A (0x5000) in `take_a_then_b` (return address 0x401010), thread 2
// took A holding B in `take_b_then_a` (0x401030).
json abba_results(int pid, const std::string& thread_name = "worker") {
  json edge0 = {{"from", 0},
                {"to", 1},
                {"held_mode", "write"},
                {"acquired_mode", "write"},
                {"thread", {{"tid", pid + 1}, {"name", thread_name}}},
                {"stack", {"0x701234", "0x401010", "0x401020"}},
                {"python_frames", json::array()}};
  json edge1 = edge0;
  edge1["from"] = 1;
  edge1["to"] = 0;
  edge1["thread"]["tid"] = pid + 2;
  edge1["stack"] = {"0x401030"};
  edge1["python_frames"] = {{{"function", "register_tasks"}, {"file", "drive.py"}, {"line", 12}}};
  return {{"format", "gilwatch-process-results"},
          {"version", 1},
          {"pid", pid},
          {"ppid", 1},
          {"argv", {"./abba", "--rounds", "3"}},
          {"exe", "/bin/abba"},
          {"state", "exited"},
          {"exit_status", 0},
          {"python", {{"loaded", true}, {"version", "3.11.2 (main)"}}},
          {"modules",
           {{{"path", "/bin/abba"}, {"load_bias", "0x400000"}, {"segments", json::array({json::array({"0x401000", "0x402000"})})}},
            {{"path", "/opt/gw/lib/libgilwatch.so"}, {"load_bias", "0x700000"}, {"segments", json::array({json::array({"0x701000", "0x702000"})})}}}},
          {"findings",
           {{{"kind", "lock-order-inversion"},
             {"summary", "lock-order inversion (potential deadlock): mutex 0x5000 -> mutex 0x5040 -> mutex 0x5000"},
             {"locks",
              {{{"id", 0}, {"name", ""}, {"kind", "mutex"}, {"address", "0x5000"}, {"first_site", {"0x401010"}}},
               {{"id", 1}, {"name", ""}, {"kind", "mutex"}, {"address", "0x5040"}, {"first_site", {"0x401030"}}}}},
             {"edges", {edge0, edge1}}}}},
          {"stats", {{"locks_tracked", 2}}}};
}

// Symbolizes from a table keyed by lookup offset (return address - 1 - load bias) and
// records every call.
class FakeSymbolizer final : public Symbolizer {
 public:
  std::map<uint64_t, std::vector<SymbolizedFrame>> table = {
      {0x100f, {{"take_a_then_b", "abba.c", 12}}},
      {0x101f, {{"inlined_helper", "abba.h", 3}, {"first_thread", "abba.c", 30}}},
      {0x102f, {{"take_b_then_a", "abba.c", 20}}},
  };
  std::vector<std::pair<std::string, std::vector<uint64_t>>> calls;

  std::vector<std::vector<SymbolizedFrame>> symbolize(const std::string& module,
                                                      const std::vector<uint64_t>& offsets) override {
    calls.emplace_back(module, offsets);
    std::vector<std::vector<SymbolizedFrame>> out;
    for (uint64_t off : offsets) {
      auto it = table.find(off);
      out.push_back(it != table.end() && module == "/bin/abba" ? it->second : std::vector<SymbolizedFrame>(1));
    }
    return out;
  }
};

ProcessResults parsed(const json& document, const std::string& path = "gilwatch.1.1.json") {
  ProcessResults r;
  std::string error;
  INFO(document.dump());
  REQUIRE(parse_results(document.dump(), path, &r, &error));
  return r;
}

std::string refusal(const std::string& text) {
  ProcessResults r;
  std::string error;
  CHECK_FALSE(parse_results(text, "x.json", &r, &error));
  return error;
}

report::Report merged(const std::vector<json>& documents, FakeSymbolizer& symbolizer, MergeOptions options = {}) {
  std::vector<ProcessResults> processes;
  for (std::size_t i = 0; i < documents.size(); ++i)
    processes.push_back(parsed(documents[i], "gilwatch." + std::to_string(i) + ".json"));
  report::Report report;
  merge_results(processes, symbolizer, options, &report);
  return report;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

}  // namespace

// ---- reading ----

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

// ---- merging ----

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

namespace {

// A three-lock cycle A -> GIL -> B -> A; edge i was taken in function f<i>.
report::Finding three_lock_cycle() {
  report::Finding f;
  f.kind = "lock-order-inversion";
  f.locks = {{0, "", "mutex", 0x10, {}}, {1, "GIL", "gil", 0, {}}, {2, "", "rwlock", 0x20, {}}};
  for (int i = 0; i < 3; ++i) {
    report::Thread t;
    t.native_frames = {{uint64_t(i), "/m.so", uint64_t(i), "f" + std::to_string(i), "", 0}};
    f.threads.push_back(t);
  }
  f.edges = {{0, 1, "write", "write", 0}, {1, 2, "write", "read", 1}, {2, 0, "read", "write", 2}};
  return f;
}

report::Finding rotated(report::Finding f, std::size_t by) {
  std::rotate(f.edges.begin(), f.edges.begin() + long(by), f.edges.end());
  std::rotate(f.locks.begin(), f.locks.begin() + long(by), f.locks.end());
  return f;
}

}  // namespace

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

namespace {

report::NativeFrame rust_frame(const std::string& function, const std::string& file) {
  return {0x1000, "/ext/rs_mod.abi3.so", 0x1000, function, file, 1};
}

// A Rust panic reported with the GIL held: the unwinding path on top, then `site`.
report::Finding panic_at(const std::string& site) {
  report::Finding f;
  f.kind = "rust-panic";
  f.detail = "gil-held";
  report::Thread t;
  t.native_frames = {rust_frame("__rustc::rust_panic", "/rustc/abc/library/std/src/panicking.rs"),
                     rust_frame("core::panicking::panic_fmt", "/rustc/abc/library/core/src/panicking.rs"),
                     rust_frame("unwrap<T>", "/rustc/abc/library/core/src/result.rs"),
                     rust_frame(site, "/src/proj/src/lib.rs"),
                     rust_frame("pyo3::impl_::trampoline::trampoline",
                                "/root/.cargo/registry/src/index.crates.io-1/pyo3-0.30.1/src/impl_/trampoline.rs")};
  f.threads.push_back(t);
  return f;
}

}  // namespace

TEST_CASE("a Rust panic's signature is its first frame past the runtime's", "[merge][signature]") {
  CHECK(finding_signature(panic_at("proj::validate")) == finding_signature(panic_at("proj::validate")));
  CHECK(finding_signature(panic_at("proj::validate")) != finding_signature(panic_at("proj::registered")));
  CHECK(finding_signature(panic_at("proj::validate")).find("proj::validate") != std::string::npos);
}

TEST_CASE("runtime frames: Rust's std, core and crates, not the program's", "[describe]") {
  CHECK(report::is_runtime_frame(rust_frame("park", "/rustc/abc/library/std/src/thread/mod.rs")));
  CHECK(report::is_runtime_frame(rust_frame("lock_exclusive_slow<false>",
                                            "/root/.cargo/registry/src/x/parking_lot-0.13.0/src/raw_rwlock.rs")));
  CHECK(report::is_runtime_frame(rust_frame("std::sys::pal::unix::futex::futex_wait", "")));
  CHECK(report::is_runtime_frame(rust_frame("__rustc::rust_panic", "")));
  CHECK_FALSE(report::is_runtime_frame(rust_frame("rs_registry::register_holding_gil", "/src/registry/src/lib.rs")));
  CHECK_FALSE(report::is_runtime_frame(rust_frame("pthread_mutex_lock", "")));
  CHECK_FALSE(report::is_runtime_frame(rust_frame("registry_register", "/src/registry.c")));
}

namespace {
std::vector<report::NativeFrame> V(std::initializer_list<const char*> functions) {
  std::vector<report::NativeFrame> frames;
  for (const char* f : functions) frames.push_back(rust_frame(f, ""));
  return frames;
}
}  // namespace

TEST_CASE("a futex word is named by the lock implementation its waiter is in", "[describe]") {
  CHECK(report::futex_lock_name(V({"std::sys::pal::unix::futex::futex_wait",
                                  "<std::sys::sync::rwlock::futex::RwLock>::write_contended", "rs::register"})) ==
        "std::sync::RwLock, write");
  CHECK(report::futex_lock_name(V({"futex_wait", "<std::sys::sync::rwlock::futex::RwLock>::read_contended"})) ==
        "std::sync::RwLock, read");
  CHECK(report::futex_lock_name(V({"<std::sys::sync::mutex::futex::Mutex>::lock_contended"})) == "std::sync::Mutex");
  CHECK(report::futex_lock_name(V({"parking_lot::raw_rwlock::RawRwLock<_>::lock_exclusive_slow", "futex_wait"})) ==
        "parking_lot::RwLock, write");
  CHECK(report::futex_lock_name(V({"parking_lot::raw_rwlock::RawRwLock::lock_shared_slow"})) ==
        "parking_lot::RwLock, read");
  CHECK(report::futex_lock_name(V({"parking_lot::raw_mutex::RawMutex::lock_slow"})) == "parking_lot::Mutex");
  // A channel and a runtime park the thread: the more specific name wins.
  CHECK(report::futex_lock_name(V({"<std::sys::sync::thread_parking::futex::Parker>::park",
                                  "<std::thread::thread::Thread>::park", "std::sync::mpmc::list::Channel<T>::recv"})) ==
        "std::sync::mpsc channel");
  CHECK(report::futex_lock_name(V({"<std::sys::sync::condvar::futex::Condvar>::wait", "tokio::runtime::park::Inner::park",
                                  "tokio::runtime::park::CachedParkThread::block_on"})) == "tokio Runtime::block_on");
  CHECK(report::futex_lock_name(V({"<std::sys::sync::condvar::futex::Condvar>::wait", "app::wait"})) ==
        "std::sync::Condvar");
  CHECK(report::futex_lock_name(V({"futex_mutex_lock", "registry_take_from_python"})) == "");
  SECTION("inlined frames are known by their file") {
    std::vector<report::NativeFrame> frames = {
        rust_frame("futex_wait", "/root/.cargo/registry/src/x/parking_lot_core-0.10.0/src/thread_parker/linux.rs"),
        rust_frame("lock_slow", "/root/.cargo/registry/src/x/parking_lot-0.13.0/src/raw_mutex.rs"),
        rust_frame("app::count", "/src/app/src/lib.rs")};
    CHECK(report::futex_lock_name(frames) == "parking_lot::Mutex");
    frames[1] = rust_frame("lock_contended", "/rustc/abc/library/std/src/sys/sync/mutex/futex.rs");
    CHECK(report::futex_lock_name(frames) == "std::sync::Mutex");
  }
  CHECK(report::futex_name_is_lock("std::sync::Mutex"));
  CHECK(report::futex_name_is_lock("parking_lot::RwLock, read"));
  CHECK(report::futex_name_is_lock(""));
  CHECK_FALSE(report::futex_name_is_lock("std::sync::mpsc channel"));
  CHECK_FALSE(report::futex_name_is_lock("tokio Runtime::block_on"));
}

// ---- symbolizing ----

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
  CHECK(report::base_name(frames[0].front().file) == "test_results_reader.cpp");
  CHECK(frames[0].front().line > 0);
  auto missing = symbolizer.symbolize("/nonexistent/lib.so", {0x10, 0x20});
  REQUIRE(missing.size() == 2);
  CHECK(missing[1].front().function == "??");
}

// ---- the command's environment and table ----

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

TEST_CASE("a misspelt subcommand gets the closest real one", "[cli]") {
  auto suggestion = [](const std::string& name) {
    const Subcommand* s = suggest_subcommand(name);
    return s ? std::string(s->name) : std::string("(none)");
  };
  CHECK(suggestion("rnu") == "run");
  CHECK(suggestion("rum") == "run");
  CHECK(suggestion("reprot") == "report");
  CHECK(suggestion("rep") == "report");  // a prefix
  CHECK(suggestion("r") == "(none)");    // a prefix of both
  CHECK(suggestion("stressful") == "(none)");
}

TEST_CASE("the command's exit status follows the shell's convention", "[child_process]") {
  auto run = [](std::vector<std::string> argv, std::vector<std::string> environment) {
    SupervisedCommand command;
    command.argv = std::move(argv);
    command.environment = std::move(environment);
    return run_supervised(command, SupervisionLimits{});
  };
  std::vector<std::string> env = {"PATH=/usr/bin:/bin"};
  ChildOutcome exited = run({"sh", "-c", "exit 3"}, env);
  REQUIRE(exited.started);
  CHECK(exit_status_of(exited.wait_status) == 3);
  ChildOutcome killed = run({"sh", "-c", "kill -TERM $$"}, env);
  REQUIRE(killed.started);
  CHECK(exit_status_of(killed.wait_status) == 128 + SIGTERM);
  ChildOutcome missing = run({"/nonexistent/program"}, env);
  CHECK_FALSE(missing.started);
  CHECK(missing.exec_errno == ENOENT);
  ChildOutcome with_env = run({"sh", "-c", "test \"$GW_VALUE\" = yes"}, {"PATH=/usr/bin:/bin", "GW_VALUE=yes"});
  CHECK(exit_status_of(with_env.wait_status) == 0);
}

// ---- renderers ----

namespace {

report::Report report_with_hostile_names() {
  report::Report r;
  r.command = {"python3", "<img src=x onerror=alert(2)>"};
  r.exit_status = 0;
  report::Finding f;
  f.kind = "lock-order-inversion";
  f.summary = "s <b>bold</b>";
  f.pids = {7};
  f.locks = {{0, "<i>name</i>", "mutex", 0x10, {{1, "/lib/<x>.so", 1, "ctor<T>", "y.c", 2}}}, {1, "GIL", "gil", 0, {}}};
  report::Thread t;
  t.tid = 8;
  t.name = "<script>alert(1)</script>";
  t.role = "took the GIL while holding mutex 0x10 '<i>name</i>'";
  t.native_frames = {{1, "/lib/<b>.so", 1, "f<T>&", "a\"b.c", 3}};
  t.python_frames = {{"<lambda>", "x'.py", 1}};
  f.threads = {t};
  f.edges = {{0, 1, "write", "write", 0}};
  r.findings = {f};
  r.processes = {{7, 1, {"python3", "<svg onload=alert(3)>"}, "/usr/bin/python3", "exited", 0, "", "<raw>.json"}};
  r.errors = {{"/out/raw/<bad>.json", "corrupt JSON at byte 3: <oops>"}};
  return r;
}

}  // namespace

TEST_CASE("everything from the process under test is escaped in the HTML report", "[html]") {
  std::string html = report::render_html(report_with_hostile_names(), "test");
  // Only the page's own script (the table sorter, at the end) and its own pictures.
  CHECK(count_of(html, "<script") == 1);
  CHECK(html.find("<script") > html.rfind("</section>"));
  CHECK(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK_FALSE(contains(html, "alert(1)</script>"));
  CHECK_FALSE(contains(html, "<img"));
  CHECK_FALSE(contains(html, "<svg onload"));
  CHECK_FALSE(contains(html, "<i>name"));
  CHECK_FALSE(contains(html, "<b>"));
  CHECK_FALSE(contains(html, "<x>"));
  CHECK_FALSE(contains(html, "<oops>"));
  CHECK(contains(html, "f&lt;T&gt;&amp;"));
  CHECK(contains(html, "a&quot;b.c:3"));
  CHECK(contains(html, "&lt;lambda&gt;"));
  CHECK(contains(html, "x&#39;.py"));
  CHECK(contains(html, "&lt;bad&gt;.json"));
  CHECK_FALSE(contains(html, "http://"));  // nothing to fetch
  CHECK_FALSE(contains(html, "https://"));
}

TEST_CASE("the HTML report shows the verdict, the cycle with the GIL marked, stacks and locks", "[html]") {
  report::Report r = report_with_hostile_names();
  r.errors.clear();
  std::string html = report::render_html(r, "9.9.9");
  CHECK(contains(html, "<p class=\"verdict bad\" id=\"verdict\">1 finding.</p>"));
  CHECK(contains(html, "Lock-order inversion (potential deadlock)"));
  CHECK(contains(html, "mutex 0x10 &#39;&lt;i&gt;name&lt;/i&gt;&#39; (first taken in ctor&lt;T&gt;) &rarr; "
                       "<span class=\"gil\">the GIL</span> &rarr; mutex 0x10 &#39;&lt;i&gt;name&lt;/i&gt;&#39;</p>"));
  CHECK(contains(html, "Python frames (innermost first)"));
  CHECK(contains(html, "<th>first taken at</th>"));
  CHECK(contains(html, "9.9.9"));
  r.findings.clear();
  CHECK(contains(report::render_html(r, "x"), "<p class=\"verdict good\" id=\"verdict\">No findings.</p>"));
  r.errors = {{"f", "m"}};
  CHECK(contains(report::render_html(r, "x"), "verdict warn"));
}

TEST_CASE("html_escape covers element content and both attribute quotes", "[html]") {
  CHECK(report::html_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(report::html_escape(std::string("nul\0x", 5)) == "nul&#xFFFD;x");
  CHECK(report::html_escape("plain ü") == "plain ü");
}

TEST_CASE("findings.json carries the documented keys, in order", "[findings_json]") {
  report::Report r = report_with_hostile_names();
  auto j = report::to_findings_json(r, "0.1.0");
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"format", "version", "tool", "command", "exit_status", "date", "processes",
                                         "untested_pythons", "free_threaded_pythons", "untracked_low_stack",
                                         "findings", "suppressed",
                                         "baselined", "errors"});
  CHECK(j["untested_pythons"] == json::array());
  CHECK(j["untracked_low_stack"] == 0);
  CHECK(j["free_threaded_pythons"] == 0);
  CHECK(j["processes"][0]["free_threaded"] == false);
  CHECK(j["processes"][0]["checks_off"] == json::array());
  CHECK(j["format"] == "gilwatch-findings");
  CHECK(j["version"] == 1);
  CHECK(j["tool"]["version"] == "0.1.0");
  const auto& f = j["findings"][0];
  for (const char* key : {"kind", "summary", "fingerprint", "severity", "count", "pids", "locks", "threads", "edges"})
    CHECK(f.contains(key));
  CHECK_FALSE(f.contains("suppression"));  // only under "suppressed"
  CHECK(f["threads"][0]["native_frames"][0] ==
        nlohmann::ordered_json::parse(
            R"({"pc":"0x1","module":"/lib/<b>.so","offset":"0x1","function":"f<T>&","file":"a\"b.c","line":3})"));
  CHECK(f["threads"][0]["python_frames"][0]["function"] == "<lambda>");
  CHECK(f["locks"][1]["name"] == "GIL");
  CHECK(f["locks"][0]["address"] == "0x10");
  CHECK(j["processes"][0]["exit_status"] == 0);
  CHECK(j["processes"][0]["python"].is_null());
  CHECK(j["errors"][0]["file"] == "/out/raw/<bad>.json");

  report::Report from_report;
  from_report.inputs = {"a", "b"};
  auto k = report::to_findings_json(from_report, "0.1.0");
  CHECK(k["inputs"] == json({"a", "b"}));
  CHECK_FALSE(k.contains("command"));
  CHECK(k["exit_status"].is_null());
  CHECK(k["findings"].is_array());
}

TEST_CASE("findings.json survives bytes that are not UTF-8", "[findings_json]") {
  report::Report r;
  r.command = {"prog\xff\xfe"};
  std::string text = report::render_findings_json(r, "0.1.0");
  CHECK(json::parse(text)["command"][0] == "prog\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("the text report is sanitizer-style and cannot drive the terminal", "[text_report]") {
  report::Report r = report_with_hostile_names();
  r.findings[0].threads[0].name = "evil\x1b[2J";
  r.findings[0].count = 2;
  r.findings[0].pids = {7, 9};
  std::string text = report::render_text(r);
  CHECK(contains(text, "==7==WARNING: gilwatch: lock-order-inversion\n"));
  CHECK(contains(text, "  seen in 2 processes (pids 7, 9)\n"));
  CHECK(contains(text, "  thread 8 (evil\\x1b[2J) took the GIL while holding"));
  CHECK(contains(text, "    #0 0x1 in f<T>& a\"b.c:3 (<b>.so+0x1)\n"));
  CHECK(contains(text, "      x'.py:1 in <lambda>\n"));
  CHECK_FALSE(contains(text, "\x1b"));
  CHECK(report::summary_line(r, "out/report.html") ==
        "gilwatch: 1 finding (lock-order-inversion), 1 unreadable results file -> out/report.html");
  r.findings.clear();
  r.errors.clear();
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings -> o.html");
}

TEST_CASE("an untested interpreter is said once in the summary line, findings.json and the report's header",
          "[text_report][findings_json][html]") {
  report::Report r;
  r.processes = {{7, 1, {"python3.8"}, "/usr/bin/python3.8", "exited", 0, "3.8.18", "a.json", "3.8"},
                 {8, 7, {"python3.8"}, "/usr/bin/python3.8", "exited", 0, "3.8.18", "b.json", "3.8"},
                 {9, 7, {"python3.11"}, "/usr/bin/python3.11", "exited", 0, "3.11.2", "c.json", ""}};
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings; Python 3.8: untested -> o.html");
  auto j = report::to_findings_json(r, "0.1.0");
  CHECK(j["untested_pythons"] == json({"Python 3.8: untested"}));
  std::string html = report::render_html(r, "0.1.0");
  CHECK(count_of(html, "<th>Python 3.8</th>") == 1);
  CHECK(contains(html, "untested: not among the versions gilwatch is tested with"));
  // All tested: not a word.
  r.processes.erase(r.processes.begin(), r.processes.begin() + 2);
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings -> o.html");
  CHECK(report::to_findings_json(r, "0.1.0")["untested_pythons"] == json::array());
  CHECK_FALSE(contains(report::render_html(r, "0.1.0"), "untested"));
}

TEST_CASE("acquisitions not tracked for low stack are summed over processes into the summary line, "
          "findings.json and the report's header", "[text_report][findings_json][html]") {
  report::Report r;
  r.processes = {{7, 1, {"prog"}, "/bin/prog", "exited", 0, "", "a.json", "", 3},
                 {8, 7, {"prog"}, "/bin/prog", "exited", 0, "", "b.json", "", 4}};
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings; 7 acquisitions not tracked: low stack -> o.html");
  CHECK(report::to_findings_json(r, "0.1.0")["untracked_low_stack"] == 7);
  std::string html = report::render_html(r, "0.1.0");
  CHECK(count_of(html, "<th>not tracked</th>") == 1);
  CHECK(contains(html, "7 lock acquisitions: low stack"));
  // None: not a word.
  r.processes[0].untracked_low_stack = r.processes[1].untracked_low_stack = 0;
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings -> o.html");
  CHECK(report::to_findings_json(r, "0.1.0")["untracked_low_stack"] == 0);
  CHECK_FALSE(contains(report::render_html(r, "0.1.0"), "not tracked"));
}

TEST_CASE("a free-threaded interpreter is said once in the summary line and the report's header, and counted "
          "in findings.json", "[text_report][findings_json][html]") {
  report::Report r;
  r.processes = {{7, 1, {"python3.13t"}, "/usr/bin/python3.13t", "exited", 0, "3.13.0 (main)", "a.json", ""},
                 {8, 7, {"python3.13t"}, "/usr/bin/python3.13t", "exited", 0, "3.13.0 (main)", "b.json", ""},
                 {9, 7, {"python3.11"}, "/usr/bin/python3.11", "exited", 0, "3.11.2", "c.json", ""}};
  r.processes[0].free_threaded = r.processes[1].free_threaded = true;
  r.processes[0].checks_off = {"gil-held-blocking"};
  CHECK(report::summary_line(r, "o.html") ==
        "gilwatch: no findings; Python 3.13t: free-threaded, GIL checks off -> o.html");
  auto j = report::to_findings_json(r, "0.1.0");
  CHECK(j["free_threaded_pythons"] == 2);
  CHECK(j["processes"][0]["free_threaded"] == true);
  CHECK(j["processes"][0]["checks_off"] == json({"gil-held-blocking"}));
  CHECK(j["processes"][2]["free_threaded"] == false);
  std::string html = report::render_html(r, "0.1.0");
  CHECK(count_of(html, "<th>Python 3.13t</th>") == 1);
  CHECK(contains(html, "free-threaded: no GIL"));
  // GIL builds only: not a word.
  r.processes.erase(r.processes.begin(), r.processes.begin() + 2);
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings -> o.html");
  CHECK(report::to_findings_json(r, "0.1.0")["free_threaded_pythons"] == 0);
  CHECK_FALSE(contains(report::render_html(r, "0.1.0"), "free-threaded"));
}

TEST_CASE("lock and cycle wording", "[describe]") {
  report::Finding f = three_lock_cycle();
  f.locks[0].first_site = {{1, "/m.so", 1, "registry_store", "", 0}};
  CHECK(report::cycle_text(f) == "mutex 0x10 (first taken in registry_store) -> the GIL -> rwlock 0x20 -> mutex 0x10");
  CHECK(report::thread_role(f.locks[2], "read", f.locks[1], "write") == "took the GIL while holding rwlock 0x20 (read)");
  CHECK(report::kind_info("gil-held-blocking").title == "Blocking while holding the GIL");
  CHECK(report::kind_info("fd-leak").severity == "warning");
  CHECK(report::kind_info("from-the-future").title == "from-the-future");
}

namespace {

// A process that reported a gil-held-blocking event (the non-cycle finding shape).
json blocking_results(int pid, uint64_t count, uint64_t longest_ms, uint64_t tid) {
  json j = abba_results(pid);
  j["findings"] = {{{"kind", "gil-held-blocking"},
                    {"summary", "blocking call pthread_join while holding the GIL"},
                    {"probable", false},
                    {"count", count},
                    {"longest_wait_ms", longest_ms},
                    {"detail", "pthread_join"},
                    {"locks", {{{"id", 0}, {"name", "GIL"}, {"kind", "gil"}, {"address", "0x0"}, {"first_site", json::array()}}}},
                    {"threads",
                     {{{"tid", tid},
                       {"name", "python3"},
                       {"role", "held the GIL while blocked in pthread_join for 250 ms"},
                       {"stack", {"0x401010"}},
                       {"python_frames", {{{"function", "shutdown"}, {"file", "drive.py"}, {"line", 7}}}}}}}}};
  return j;
}

}  // namespace

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

// ---- the contention profile ----

namespace {

// abba_results with a profile: `waits` ns of contended waiting on the lock first taken
// in take_a_then_b (0x401010), and an uncontended one first taken in take_b_then_a.
json profiled_results(int pid, uint64_t waits) {
  json document = abba_results(pid);
  document["findings"] = json::array();
  json hot = {{"kind", "mutex"},
              {"first_site", {"0x401010"}},
              {"locks", 2},
              {"acquisitions", 100},
              {"contended", 10},
              {"wait_total_ns", waits},
              {"wait_max_ns", waits / 2},
              {"holds", 100},
              {"hold_total_ns", 5000},
              {"hold_max_ns", 400},
              {"wait_histogram", {{40, 10}}},
              {"hold_histogram", {{20, 100}}},
              {"waiters", {{{"tid", pid + 1}, {"name", "worker"}, {"wait_ns", waits / 2}, {"stack", {"0x701234", "0x401010"}}}}}};
  json cold = {{"kind", "mutex"}, {"first_site", {"0x401030"}}, {"acquisitions", 7}, {"holds", 7},
               {"hold_histogram", {{10, 7}}}};
  document["profiles"] = {{"locks", {hot, cold}}, {"locks_not_listed", 1}, {"locks_not_profiled", 0}};
  return document;
}

}  // namespace

TEST_CASE("profiles merge into one row per kind and first site across processes", "[profile]") {
  FakeSymbolizer symbolizer;
  report::Report report = merged({profiled_results(10, 1000000), profiled_results(20, 3000000)}, symbolizer);
  const report::Profiles& p = report.profiles;
  CHECK(p.processes == 2);
  CHECK(p.locks_not_listed == 2);
  REQUIRE(p.locks.size() == 2);
  const report::LockContention& hot = p.locks[0];
  CHECK(hot.site.at(0).function == "take_a_then_b");
  CHECK(hot.locks == 4);
  CHECK(hot.acquisitions == 200);
  CHECK(hot.contended == 20);
  CHECK(hot.wait_total_ns == 4000000);
  CHECK(hot.wait_max_ns == 1500000);
  CHECK(hot.wait_histogram.at(40) == 20);
  // The longest waiters of both processes, longest first, without gilwatch's own frame.
  REQUIRE(hot.waiters.size() == 2);
  CHECK(hot.waiters[0].pid == 20);
  CHECK(hot.waiters[0].wait_ns == 1500000);
  CHECK(hot.waiters[0].frames.at(0).function == "take_a_then_b");
  CHECK(p.locks[1].site.at(0).function == "take_b_then_a");
  CHECK(p.locks[1].locks == 2);  // "locks" absent: one lock per entry
  CHECK(p.locks[1].contended == 0);
  auto j = report::to_findings_json(report, "1");
  CHECK(j["profiles"]["locks"][0]["contended_share"] == 0.1);
  CHECK(j["profiles"]["locks"][0]["wait_p50_ns"].get<uint64_t>() <= 1500000);
  CHECK(j["profiles"]["locks"][1]["waiters"].empty());
  // A run without the profile option has no profiles key at all.
  report::Report plain = merged({abba_results(30)}, symbolizer);
  CHECK(plain.profiles.processes == 0);
  CHECK_FALSE(report::to_findings_json(plain, "1").contains("profiles"));
}

TEST_CASE("a profile with a bucket out of range is refused with its key named", "[profile]") {
  json document = profiled_results(10, 1000);
  document["profiles"]["locks"][0]["wait_histogram"] = {{160, 1}};
  std::string error = refusal(document.dump());
  CHECK(error.find("profiles.locks[0].wait_histogram[0][0]") != std::string::npos);
  CHECK(error.find("out of range") != std::string::npos);
}

TEST_CASE("the contention table and the stderr summary rank rows by total wait", "[profile]") {
  FakeSymbolizer symbolizer;
  report::Report report = merged({profiled_results(10, 1000000)}, symbolizer);
  std::string html = report::render_html(report, "1");
  REQUIRE(contains(html, "<table class=\"sortable contention\">"));
  CHECK(html.find("take_a_then_b (abba.c:12)") < html.find("take_b_then_a (abba.c:20)"));
  CHECK(contains(html, "<td data-v=\"0.100000\">10.0%</td>"));
  CHECK(contains(html, "The longest waits for the mutex first taken in <code>take_a_then_b (abba.c:12)</code>"));
  std::string text = report::render_text(report);
  CHECK(contains(text, "==gilwatch== lock contention (1 profiled process): the locks waited for longest\n"));
  CHECK(contains(text, "  mutex first taken in take_a_then_b (abba.c:12) (2 locks): 100 acquisitions, 10.0% "
                       "contended; waited 1 ms in all"));
}
