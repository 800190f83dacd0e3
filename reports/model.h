// model: the merged, symbolized findings of one or more runs, as plain structs. The
// harness fills it (results_reader + merge + symbolizer); the renderers (findings_json,
// html_report, text_report) only read it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gilwatch::report {

struct NativeFrame {
  uint64_t pc = 0;
  std::string module;    // path of the object, empty if unknown
  uint64_t offset = 0;   // pc - load bias
  std::string function;  // "??" when unknown
  std::string file;      // empty when unknown
  int line = 0;
};

struct PythonFrame {
  std::string function;
  std::string file;
  int line = 0;
};

struct Lock {
  int id = 0;
  std::string name;  // "GIL" for the GIL
  std::string kind;  // gil, mutex, rwlock
  uint64_t address = 0;
  std::vector<NativeFrame> first_site;
};

struct Thread {
  uint64_t tid = 0;
  std::string name;
  std::string role;  // "took rwlock 0x... while holding the GIL"
  std::vector<NativeFrame> native_frames;
  std::vector<PythonFrame> python_frames;
};

struct Edge {
  int from = 0, to = 0;  // Lock ids
  std::string held_mode, acquired_mode;
  int thread_index = 0;  // into Finding::threads
};

struct Finding {
  std::string kind;
  std::string summary;
  std::string severity;  // "error" | "warning"
  int count = 1;         // processes that saw it
  std::vector<int64_t> pids;
  std::vector<Lock> locks;
  std::vector<Thread> threads;
  std::vector<Edge> edges;
  std::string signature;  // merge key (not rendered)
};

struct Process {
  int64_t pid = 0, ppid = 0;
  std::vector<std::string> argv;
  std::string exe;
  std::string state;  // running | exited
  bool has_exit_status = false;
  int exit_status = 0;
  std::string python_version;  // empty if no interpreter
  std::string results_file;
};

struct InputError {
  std::string file;
  std::string message;
};

struct Report {
  std::vector<std::string> command;  // `gilwatch run`
  std::vector<std::string> inputs;   // `gilwatch report`
  bool has_exit_status = false;
  int exit_status = 0;
  std::string date;  // ISO 8601, UTC
  std::vector<Process> processes;
  std::vector<Finding> findings;
  std::vector<InputError> errors;
};

// "the GIL", "rwlock 0x7f..." — how summaries and roles name a lock.
std::string describe_lock(const Lock& lock);

}  // namespace gilwatch::report
