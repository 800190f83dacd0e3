// run_findings: the findings `gilwatch run` makes itself, when the processes of CMD could
// not. A process under libgilwatch.so reports its own crash (the crash kind, with the
// faulting thread's stacks) and its own hang (at the hang signal); the command adds a
// finding only when no such record came, from what it saw of CMD from outside:
// - crash: CMD itself was ended by a fault signal (is_crash_signal) and no results file
//   of CMD's pid holds a crash finding (a static program, a crash inside the library's
//   own locks, a handler of the program's that never chained on);
// - hang: CMD outlived run's --timeout, or gilwatch was sent SIGTERM while CMD ran, and no
//   process wrote a hang finding (hang_signal=0, a static program).
// The library's record wins when present: it has the stacks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gilwatch::harness {

// Signals that end a process because it faulted or gave up: SIGSEGV, SIGBUS, SIGFPE,
// SIGILL, SIGABRT, SIGTRAP, SIGSYS. Not SIGKILL, SIGTERM, SIGINT and the like: those come
// from outside (a timeout, the user, Ctrl-C) and are no crash of the program's own.
bool is_crash_signal(int sig);

// "SIGSEGV", or "signal N".
std::string signal_name(int sig);

// How CMD ended, as `run` saw it, and what the library wrote about it.
struct RunEndFacts {
  pid_t pid = 0;                    // CMD
  std::vector<std::string> argv;    // CMD's
  int wait_status = 0;              // CMD's, as waitpid returned it
  bool timed_out = false;           // still running at --timeout
  double timeout_seconds = 0;
  bool terminated = false;          // gilwatch was sent SIGTERM while CMD ran
  bool library_crash = false;       // a results file of CMD's pid holds a crash finding
  bool library_hang = false;        // some process of CMD wrote a hang finding
};

// The finding kind `run` adds (result_format.h's kCrash or kHang), or "" for none.
std::string run_finding_kind(const RunEndFacts& facts);

// That finding, as a harness finding (harness_results.h); null when none.
nlohmann::json run_finding(const RunEndFacts& facts);

// What the results files in `raw` say about CMD: sets library_crash and library_hang.
void read_library_records(const std::string& raw, RunEndFacts* facts);

// Writes run_finding(facts), if any, as raw/gilwatch.<pid>.harness.json. Returns the
// kind written ("" for none).
std::string write_run_finding(const std::string& raw, const RunEndFacts& facts);

}  // namespace gilwatch::harness
