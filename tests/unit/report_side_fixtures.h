// What the unit tests of the report side share: hand-written results files (an ABBA
// between two mutexes, a gil-held-blocking event, profiles), a fake symbolizer, and
// reading and merging them, so each unit's tests (test_results_reader, test_merge,
// test_describe, the renderers' tests) start from the same inputs.
#pragma once

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
inline json abba_results(int pid, const std::string& thread_name = "worker") {
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

inline ProcessResults parsed(const json& document, const std::string& path = "gilwatch.1.1.json") {
  ProcessResults r;
  std::string error;
  INFO(document.dump());
  REQUIRE(parse_results(document.dump(), path, &r, &error));
  return r;
}

inline std::string refusal(const std::string& text) {
  ProcessResults r;
  std::string error;
  CHECK_FALSE(parse_results(text, "x.json", &r, &error));
  return error;
}

inline report::Report merged(const std::vector<json>& documents, FakeSymbolizer& symbolizer, MergeOptions options = {}) {
  std::vector<ProcessResults> processes;
  for (std::size_t i = 0; i < documents.size(); ++i)
    processes.push_back(parsed(documents[i], "gilwatch." + std::to_string(i) + ".json"));
  report::Report report;
  merge_results(processes, symbolizer, options, &report);
  return report;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
inline std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

}  // namespace

namespace {

// A three-lock cycle A -> GIL -> B -> A; edge i was taken in function f<i>.
inline report::Finding three_lock_cycle() {
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

inline report::Finding rotated(report::Finding f, std::size_t by) {
  std::rotate(f.edges.begin(), f.edges.begin() + long(by), f.edges.end());
  std::rotate(f.locks.begin(), f.locks.begin() + long(by), f.locks.end());
  return f;
}

}  // namespace

namespace {

inline report::NativeFrame rust_frame(const std::string& function, const std::string& file) {
  return {0x1000, "/ext/rs_mod.abi3.so", 0x1000, function, file, 1};
}

// A Rust panic reported with the GIL held: the unwinding path on top, then `site`.
inline report::Finding panic_at(const std::string& site) {
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

namespace {
inline std::vector<report::NativeFrame> V(std::initializer_list<const char*> functions) {
  std::vector<report::NativeFrame> frames;
  for (const char* f : functions) frames.push_back(rust_frame(f, ""));
  return frames;
}
}  // namespace

namespace {

inline report::Report report_with_hostile_names() {
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

namespace {

// A process that reported a gil-held-blocking event (the non-cycle finding shape).
inline json blocking_results(int pid, uint64_t count, uint64_t longest_ms, uint64_t tid) {
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

namespace {

// abba_results with a profile: `waits` ns of contended waiting on the lock first taken
// in take_a_then_b (0x401010), and an uncontended one first taken in take_b_then_a.
inline json profiled_results(int pid, uint64_t waits) {
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

namespace {

// A thread of a pytest run of a C extension on an interpreter with one eval-loop frame
// per Python frame (3.10 and older): the extension's registry_store waits for a mutex,
// called from the test, which pytest and pluggy called, which `pytest` started.
// `loops_per_python`: false drops all eval-loop frames but two (as when 3.11+ nests the
// Python calls in one loop frame), so the frames cannot be matched.
inline report::NativeFrame module_frame(const std::string& function, const std::string& module,
                                        const std::string& file = "", int line = 0) {
  static uint64_t pc = 0x1000;
  pc += 0x10;
  return {pc, module, pc & 0xfff, function, file, line};
}

inline report::Thread pytest_thread(bool loops_per_python = true) {
  const std::string libc = "/lib/x86_64-linux-gnu/libc.so.6", ext = "/app/_registry.cpython-310-x86_64-linux-gnu.so",
                    libpython = "/usr/lib/libpython3.10.so.1.0", exe = "/usr/bin/python3.10",
                    site = "/venv/lib/python3.10/site-packages/";
  report::Thread t;
  t.tid = 4242;
  t.name = "MainThread";
  t.python_frames = {{"test_store", "/app/tests/test_registry.py", 12},
                     {"pytest_pyfunc_call", site + "_pytest/python.py", 195},
                     {"_multicall", site + "pluggy/_callers.py", 103},
                     {"_hookexec", site + "pluggy/_manager.py", 120},
                     {"__call__", site + "pluggy/_hooks.py", 513},
                     {"runtest", site + "_pytest/python.py", 1788},
                     {"main", site + "_pytest/config/__init__.py", 175},
                     {"console_main", site + "_pytest/config/__init__.py", 201},
                     {"<module>", "/venv/bin/pytest", 8}};
  t.native_frames = {module_frame("pthread_mutex_lock", libc), module_frame("registry_store", ext, "registry.c", 40),
                     module_frame("registry_call", ext, "registry.c", 61), module_frame("cfunction_call", libpython),
                     module_frame("_PyObject_MakeTpCall", libpython)};
  for (std::size_t i = 0; i < t.python_frames.size(); ++i) {
    if (loops_per_python || i == 0 || i + 1 == t.python_frames.size())
      t.native_frames.push_back(module_frame("_PyEval_EvalFrameDefault", libpython));
    t.native_frames.push_back(module_frame("_PyFunction_Vectorcall", libpython));
  }
  for (const char* f : {"PyEval_EvalCode", "pyrun_file", "Py_BytesMain"}) t.native_frames.push_back(module_frame(f, libpython));
  t.native_frames.push_back(module_frame("__libc_start_call_main", libc));
  t.native_frames.push_back(module_frame("__libc_start_main", libc));
  t.native_frames.push_back(module_frame("_start", exe));
  return t;
}

// A Rust extension's worker: its own frame (rs_registry::store) under tokio's and PyO3's.
inline report::Thread rust_worker_thread() {
  const std::string ext = "/app/rs_registry.so";
  report::Thread t;
  t.tid = 77;
  t.name = "tokio-runtime-w";
  t.native_frames = {module_frame("syscall", "/lib/x86_64-linux-gnu/libc.so.6"),
                     module_frame("std::sys::pal::unix::futex::futex_wait", ext),
                     module_frame("std::sys::sync::mutex::futex::Mutex::lock_contended", ext),
                     module_frame("rs_registry::store", ext, "/src/registry/src/lib.rs", 30),
                     module_frame("tokio::runtime::task::core::Core<T,S>::poll", ext),
                     module_frame("tokio::runtime::task::harness::Harness<T,S>::poll", ext),
                     module_frame("tokio::runtime::scheduler::multi_thread::worker::Context::run", ext),
                     module_frame("std::sys::backtrace::__rust_begin_short_backtrace", ext),
                     module_frame("core::ops::function::FnOnce::call_once{{vtable.shim}}", ext),
                     module_frame("std::sys::pal::unix::thread::Thread::new::thread_start", ext),
                     module_frame("start_thread", "/lib/x86_64-linux-gnu/libc.so.6"),
                     module_frame("clone3", "/lib/x86_64-linux-gnu/libc.so.6")};
  return t;
}

}  // namespace
