// results_reader: reads the per-process results files that libgilwatch.so writes
// (format: instrumentation/include/gilwatch/result_format.h) into raw structs. Frames are
// still raw addresses here; merge + symbolizer turn them into the report model.
//
// A file that cannot be used — truncated, corrupt, another format, another version, a
// key missing or of the wrong type — is refused with a message that says where: the
// byte offset of a JSON error, or the path of the key ("findings[0].edges[1].thread.tid").
// A "running" file (a snapshot from a process that was killed or had not exited yet)
// is valid.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gilwatch/result_format.h"
#include "model.h"

namespace gilwatch::harness {

struct RawModule {
  std::string path;
  uint64_t load_bias = 0;
  std::vector<std::pair<uint64_t, uint64_t>> segments;  // executable ranges [begin, end)
};

struct RawPythonFrame {
  std::string function, file;
  int line = 0;
  std::optional<bool> entered_from_c = std::nullopt;  // 3.11+: a new call of the eval loop began this frame
  uint64_t loop_pc = 0;  // 3.12+: the return address of the native frame that runs its loop call
};

struct RawEdge {
  int from = 0, to = 0;
  std::string held_mode, acquired_mode;
  uint64_t tid = 0;
  std::string thread_name;
  std::vector<uint64_t> stack;  // return addresses, innermost first
  std::vector<RawPythonFrame> python_frames;
};

struct RawLock {
  int id = 0;
  std::string name, kind;
  uint64_t address = 0;
  std::vector<uint64_t> first_site;
};

// A thread of a finding that is not a cycle (deadlock, gil-held-blocking, ...).
struct RawThread {
  uint64_t tid = 0;
  std::string name, role;
  std::optional<int> waits_for;  // lock id
  std::vector<int> holds;        // lock ids
  std::optional<uint64_t> blocked_ms;  // how long its wait had lasted
  bool owner_known = true;       // false: waits for a futex word, whose owner is unknown
  std::vector<uint64_t> stack;
  std::vector<RawPythonFrame> python_frames;
};

// A further set of lock instances the library saw the same cycle on: the addresses of
// its locks (in the order of the finding's locks) and the thread of each edge.
struct RawInstance {
  std::vector<uint64_t> addresses;
  std::vector<uint64_t> tids;
};

struct RawFinding {
  std::string kind, summary;
  std::vector<RawLock> locks;
  std::vector<RawEdge> edges;      // lock-order-inversion: the cycle
  std::vector<RawThread> threads;  // other kinds
  std::vector<RawInstance> instances;  // lock-order-inversion: other instances, first ones
  bool probable = false;
  uint64_t occurrences = 1;
  std::optional<uint64_t> longest_wait_ms;
  std::string detail;
  std::string futex_wait;  // gil-held-blocking on a futex word: "short" or "long"
  bool holders_need_gil = false;  // with futex_wait: the word's holders asked for the GIL
  std::string context;  // what the process was doing (the running test), when known
  uint64_t cycle_length = 0;  // lock-order-inversion cut short: the cycle's true length
};

// One lock's contention profile, as the library wrote it (result_format.h "profiles").
struct RawLockWaiter {
  uint64_t tid = 0;
  std::string name;
  uint64_t wait_ns = 0;
  std::vector<uint64_t> stack;
};

// One entry per kind of lock and first site (the library groups the locks one call
// made and first took).
struct RawLockProfile {
  std::string kind;
  uint64_t locks = 1;
  std::vector<uint64_t> first_site;
  uint64_t acquisitions = 0, contended = 0, wait_total_ns = 0, wait_max_ns = 0;
  uint64_t holds = 0, hold_total_ns = 0, hold_max_ns = 0;
  std::vector<std::pair<int, uint64_t>> wait_histogram, hold_histogram;  // (bucket, count)
  std::vector<RawLockWaiter> waiters;
};

struct RawGilThread {
  uint64_t tid = 0;
  std::string name;
  uint64_t takes = 0, contended_takes = 0, held_ns = 0, waited_ns = 0, longest_hold_ns = 0, longest_wait_ns = 0;
};

struct RawGilSite {
  std::string api;
  std::vector<uint64_t> site;
  uint64_t calls = 0, wait_total_ns = 0, wait_max_ns = 0, holds_timed = 0, held_total_ns = 0, held_max_ns = 0;
  uint64_t sections = 0, released_total_ns = 0, released_max_ns = 0, takes_inside = 0, capi_calls_inside = 0;
  std::vector<std::string> capi_inside;
};

struct RawGilHolder {
  std::vector<uint64_t> site;  // empty: no extension call seen in the holds
  uint64_t holds = 0, held_total_ns = 0, held_max_ns = 0;
};

struct RawGilProfile {
  bool present = false, observed = false;
  uint64_t wall_ns = 0, takes = 0, contended_takes = 0, held_ns = 0, waited_ns = 0, threads_not_profiled = 0;
  std::vector<std::pair<int, uint64_t>> hold_histogram, wait_histogram;
  std::vector<RawGilThread> threads;
  std::vector<RawGilSite> sites;
  uint64_t sites_not_profiled = 0;
  std::vector<RawGilHolder> long_holds;
};

struct RawProfiles {
  bool present = false;  // the process ran with the profile option
  RawGilProfile gil;
  std::vector<RawLockProfile> locks;
  uint64_t locks_not_listed = 0, locks_not_profiled = 0;
};

struct ProcessResults {
  report::Process process;
  // Who wrote the file: "library" (libgilwatch.so, the default), "pyhooks" (the Python
  // side: leak and speedup findings) or "harness" (gilwatch stress: crash and hang). Only
  // the library's files describe a process of their own.
  std::string reporter = result_format::kReporterLibrary;
  std::optional<report::RunRef> run;  // the stress run it belongs to
  std::vector<RawModule> modules;
  std::vector<RawFinding> findings;
  RawProfiles profiles;
};

// Parses the text of one results file; `path` is recorded as the process's results file.
bool parse_results(const std::string& text, const std::string& path, ProcessResults* out, std::string* error);

// Reads and parses one results file.
bool read_results_file(const std::string& path, ProcessResults* out, std::string* error);

// The results directory of `dir`: DIR/raw when DIR is an output directory (has raw/),
// else DIR itself.
std::string results_directory(const std::string& dir);

// The results files (gilwatch.<pid>.<start-ns>.json) in results_directory(dir), in the
// order their processes started.
std::vector<std::string> list_results_files(const std::string& dir);

}  // namespace gilwatch::harness
