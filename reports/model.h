// model: the merged, symbolized findings of one or more runs, as plain structs. The
// harness fills it (results_reader -> merge + symbolizer); the renderers (findings_json,
// html_report, text_report) only read it, so they can be tested with hand-built values.
//
// Every string here that came from the process under test (names, paths, argv, Python
// reprs, and what addr2line printed about its binaries) is untrusted text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gilwatch::report {

struct NativeFrame {
  uint64_t pc = 0;
  std::string module;    // path of the object; empty when no module contains pc
  uint64_t offset = 0;   // pc - the module's load bias
  std::string function;  // "??" when unknown
  std::string file;      // empty when unknown
  int line = 0;          // 0 when unknown
};

struct PythonFrame {
  std::string function;
  std::string file;
  int line = 0;
};

struct Lock {
  int id = 0;
  std::string name;  // "GIL" for the GIL; empty for anonymous locks
  std::string kind;  // gil, mutex, rwlock
  uint64_t address = 0;
  std::vector<NativeFrame> first_site;  // where it was first seen being taken
};

struct Thread {
  uint64_t tid = 0;
  std::string name;
  std::string role;  // "took rwlock 0x... (write) while holding the GIL"
  std::vector<NativeFrame> native_frames;  // innermost first
  std::vector<PythonFrame> python_frames;  // innermost first
};

struct Edge {
  int from = 0, to = 0;  // Lock::id values
  std::string held_mode, acquired_mode;  // read | write
  int thread_index = 0;  // into Finding::threads
};

struct Finding {
  std::string kind;
  std::string summary;
  std::string severity = "error";  // error | warning
  int count = 1;                   // processes that saw it
  std::vector<int64_t> pids;       // of those processes
  std::vector<Lock> locks;
  std::vector<Thread> threads;
  std::vector<Edge> edges;         // a cycle: edges[i].to == edges[i+1].from
  bool probable = false;           // inferred, not proven (e.g. a futex wait)
  uint64_t occurrences = 1;        // times it happened, summed over processes
  std::optional<uint64_t> longest_wait_ms;  // timed kinds (gil-held-blocking, deadlock)
  std::string detail;              // kind-specific: the C API function, the call...
  std::string signature;           // merge key; not rendered
};

struct Process {
  int64_t pid = 0, ppid = 0;
  std::vector<std::string> argv;
  std::string exe;
  std::string state;               // running | exited
  std::optional<int> exit_status;  // only once exited
  std::string python_version;      // empty when no interpreter was loaded
  std::string results_file;
};

// A results file that could not be used, and why.
struct InputError {
  std::string file;
  std::string message;
};

struct Report {
  std::vector<std::string> command;  // set by `gilwatch run`
  std::vector<std::string> inputs;   // set by `gilwatch report`
  std::optional<int> exit_status;    // the command's status (run only)
  std::string date;                  // ISO 8601, UTC
  std::vector<Process> processes;
  std::vector<Finding> findings;
  std::vector<InputError> errors;
};

}  // namespace gilwatch::report
