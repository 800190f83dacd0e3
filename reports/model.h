// model: the merged, symbolized findings of one or more runs, as plain structs. The
// harness fills it (results_reader -> merge + symbolizer); the renderers (findings_json,
// html_report, text_report) only read it, so they can be tested with hand-built values.
//
// Every string here that came from the process under test (names, paths, argv, Python
// reprs, and the symbol and file names read from its binaries) is untrusted text.
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
  // 3.11+: whether a new call of the eval loop began this frame (C called Python here);
  // unknown before 3.11 and where the interpreter's layout is not known.
  std::optional<bool> entered_from_c = std::nullopt;
  // 3.12+: the address (pc) of the native frame whose eval-loop call runs this frame, found
  // on the C stack as it was captured; 0 when unknown. Places frames whose loop frames a
  // stripped interpreter leaves unnamed.
  uint64_t loop_pc = 0;
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
  // The wait-for graph of a deadlock (Lock::id values): what the thread waits for and
  // what it holds, where the library recorded them.
  std::optional<int> waits_for;
  std::vector<int> holds;
  // What the library recorded of its wait: false when it waits on a futex word (whose
  // owner cannot be known), and how long the wait had lasted. Not written out.
  bool owner_known = true;
  std::optional<uint64_t> blocked_ms;
  std::vector<NativeFrame> native_frames;  // innermost first
  std::vector<PythonFrame> python_frames;  // innermost first
};

struct Edge {
  int from = 0, to = 0;  // Lock::id values
  std::string held_mode, acquired_mode;  // read | write
  int thread_index = 0;  // into Finding::threads
};

// One occurrence of a finding on its own lock instances: a merged finding (the same lock
// classes, or the same sites, seen again) lists where else it happened.
struct Instance {
  int64_t pid = 0;
  std::vector<uint64_t> addresses;  // its locks' addresses, in the order of its cycle or list
  std::vector<uint64_t> tids;       // the thread of each edge (cycles), or its threads
};

// One run of a stress scenario: what reproduces it.
struct RunRef {
  std::string scenario;
  std::string variant;  // a finalization way, or ""
  int index = 0;
  uint64_t seed = 0;
  // "tool-churn #3" or "exit.sigint #0"
  std::string label() const {
    return (variant.empty() ? scenario : scenario + "." + variant) + " #" + std::to_string(index);
  }
  bool operator<(const RunRef& o) const {
    if (scenario != o.scenario) return scenario < o.scenario;
    if (variant != o.variant) return variant < o.variant;
    return index < o.index;
  }
  bool operator==(const RunRef& o) const {
    return scenario == o.scenario && variant == o.variant && index == o.index;
  }
};

// What a stress run measured (the driver's result.json), for the report's charts.
struct TeardownCycle {
  int cycle = 0;
  int threads = 0;  // native threads after the cycle's teardown
  int fds = 0;      // open fds after it
  double teardown_ms = 0;
};

struct Measurements {
  // teardown: the counts before the first cycle and after each
  std::optional<int> baseline_threads, baseline_fds;
  std::vector<TeardownCycle> cycles;
  // speedup: calls per second by thread count (ascending), and the scenario's target
  std::vector<std::pair<int, double>> throughput;
  double min_speedup = 0;
  int at_threads = 0;
  bool empty() const { return cycles.empty() && throughput.empty(); }
};

// A stress run as `gilwatch stress` recorded it (run.json).
struct Run {
  RunRef run;
  std::string kind;                // the scenario's kind
  std::vector<std::string> argv;
  std::string outcome;             // crash | hang | findings | error | interrupted | ok
  std::string reason;              // one line: why the outcome is not "ok"
  std::optional<int> exit_status;  // when it exited
  std::optional<int> signal;       // when a signal ended it
  bool timed_out = false;
  int64_t duration_ms = 0;
  int64_t pid = 0;
  Measurements measured;  // from result.json, when the driver wrote one
};

// How `gilwatch stress` was invoked (stress.json): what a re-run command needs.
struct StressInvocation {
  std::string suite;              // absolute path
  std::string seed;               // the base seed, decimal
  std::string working_directory;  // where it ran (suites may use relative paths)
  std::string python;             // --python, or ""
  bool perturb = false;           // --perturb
};

// Why a finding is set aside rather than reported: the suppression rule that matched it,
// where that rule was written, and the frame it matched.
struct Suppression {
  std::string rule;   // "KIND:PATTERN" as written
  std::string file;   // the suppressions file
  int line = 0;       // its line in that file
  std::string frame;  // what the pattern matched: a function, module or source file
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
  uint64_t cycle_length = 0;       // a lock-order cycle longer than its listed locks (cut);
                                   // 0 when every lock is listed
  std::string signature;           // merge key; not rendered
  // The merge key before lock classes (merge.h): a baseline written by an older gilwatch
  // lists findings by its fingerprint, so a finding matches a baseline by either.
  std::string legacy_signature;
  // Where it happened: one entry per distinct set of lock instances (capped; see
  // instances_not_listed). Empty for a finding without locks.
  std::vector<Instance> instances;
  uint64_t instances_not_listed = 0;
  std::vector<RunRef> runs;        // stress runs that saw it, in order; empty outside stress
  std::vector<std::string> contexts;  // what the processes were doing: the tests it happened in
  std::optional<Suppression> suppressed_by;  // set on the findings in Report::suppressed
};

// A fixed capacity of the library that overflowed in a process (findings.json's
// "capacity_warnings", merged by capacity over the processes).
struct CapacityWarning {
  std::string capacity;   // "held_locks_per_thread" (result_format.h's kCapacity*)
  uint64_t limit = 0;
  uint64_t lost = 0;      // how many of `lost_what` were lost to it
  std::string lost_what;  // "lock acquisitions not tracked"
};

struct Process {
  int64_t pid = 0, ppid = 0;
  std::vector<std::string> argv;
  std::string exe;
  std::string state;               // running | exited
  std::optional<int> exit_status;  // only once exited
  std::string python_version;      // empty when no interpreter was loaded
  std::string results_file;
  std::string untested_python = {};  // "3.8": its interpreter is not among the versions
                                   // gilwatch is tested with; empty when it is, or unknown
  uint64_t untracked_low_stack = 0;  // lock acquisitions whose new lock-order edges the
                                     // library skipped: too little stack left
  bool free_threaded = false;        // a free-threaded interpreter (3.13t+): no GIL
  std::vector<std::string> checks_off = {};  // checks that did not apply to it ("gil-held-blocking")
  std::vector<CapacityWarning> capacity_warnings = {};  // the library's capacities that overflowed
};

// The contention profile (the profile option), merged over processes and runs: one row
// per kind of lock and site that first took it (all the locks a constructor makes are
// one row). Durations in nanoseconds; histograms use gilwatch/duration_buckets.h.
struct LockWaiter {
  int64_t pid = 0;
  uint64_t tid = 0;
  std::string name;
  uint64_t wait_ns = 0;
  std::vector<NativeFrame> frames;  // where it waited, innermost first
};

struct LockContention {
  std::string kind;               // mutex | rwlock | futex
  std::string name;               // futex: the lock implementation its waiters were in
  std::vector<NativeFrame> site;  // the call that first took the lock(s); futex: that waited
  int locks = 0;                  // locks merged into this row (counted per process)
  uint64_t acquisitions = 0, contended = 0, wait_total_ns = 0, wait_max_ns = 0;
  uint64_t holds = 0, hold_total_ns = 0, hold_max_ns = 0;
  std::vector<uint64_t> wait_histogram, hold_histogram;  // one count per bucket
  std::vector<LockWaiter> waiters;                      // the longest waits, longest first
};

// The GIL profile: who held the GIL, who waited for it (each thread of each process).
struct GilThread {
  int64_t pid = 0;
  uint64_t tid = 0;
  std::string name;
  uint64_t takes = 0, contended_takes = 0, held_ns = 0, waited_ns = 0, longest_hold_ns = 0, longest_wait_ns = 0;
  uint64_t wall_ns = 0;  // its process's profiled wall time: the denominator of its shares
};

// An extension call site that takes or drops the GIL (merged by API and function/line).
struct GilSite {
  std::string api;                // PyEval_SaveThread, PyGILState_Ensure...
  std::vector<NativeFrame> site;  // the calling code
  uint64_t calls = 0;
  uint64_t wait_total_ns = 0, wait_max_ns = 0;  // takes: time spent getting the GIL
  uint64_t holds_timed = 0, held_total_ns = 0, held_max_ns = 0;  // drops: the hold that ended here
  uint64_t sections = 0, released_total_ns = 0, released_max_ns = 0;  // released sections begun here
  uint64_t takes_inside = 0, capi_calls_inside = 0;  // inside those sections
  std::vector<std::string> capi_inside;              // the C API functions called inside them
};

// Holds of the GIL of 1 ms or more, by the extension code that last called the C API
// during them (empty `site`: none did — Python code, or the interpreter itself).
struct GilHolder {
  std::vector<NativeFrame> site;
  uint64_t holds = 0, held_total_ns = 0, held_max_ns = 0;
};

struct GilProfileSummary {
  int processes = 0;  // processes whose GIL hand-offs were seen
  uint64_t wall_ns = 0, takes = 0, contended_takes = 0, held_ns = 0, waited_ns = 0, threads_not_profiled = 0;
  std::vector<uint64_t> hold_histogram, wait_histogram;  // one count per bucket
  std::vector<GilThread> threads;                        // longest held first
  std::vector<GilSite> sites;                            // the most called first
  uint64_t sites_not_profiled = 0;
  std::vector<GilHolder> long_holds;                     // the longest total first
};

struct Profiles {
  int processes = 0;                   // processes that ran with the profile option
  GilProfileSummary gil;
  std::vector<LockContention> locks;   // longest total wait first
  uint64_t locks_not_listed = 0;       // locks the processes profiled but did not list
  uint64_t locks_not_profiled = 0;     // locks their profile tables had no room for
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
  std::vector<Finding> findings;     // reported: neither suppressed nor in the baseline
  // Set aside, never dropped: findings a suppression rule matched, and findings the
  // baseline already knew (by fingerprint). Neither counts toward an exit status.
  std::vector<Finding> suppressed;
  std::vector<Finding> baselined;
  std::string baseline_file;         // the --baseline FILE, "" when none was given
  std::vector<InputError> errors;
  std::vector<Run> runs;             // stress runs, in plan order; empty outside stress
  bool interrupted = false;          // a stress invocation was stopped before its end
  std::optional<StressInvocation> stress;  // the (first) stress invocation read
  Profiles profiles;                 // empty unless processes ran with the profile option
};

// The scenarios a finding was seen in, in the order of its runs.
inline std::vector<std::string> scenarios_of(const Finding& finding) {
  std::vector<std::string> scenarios;
  for (const RunRef& r : finding.runs) {
    bool known = false;
    for (const std::string& s : scenarios) known = known || s == r.scenario;
    if (!known) scenarios.push_back(r.scenario);
  }
  return scenarios;
}

// The denominator of "seen in N of M runs": every run in the report of the scenarios
// (all their variants) the finding was seen in.
inline int runs_of_scenarios_seen(const Report& report, const Finding& finding) {
  std::vector<std::string> scenarios = scenarios_of(finding);
  int n = 0;
  for (const Run& r : report.runs)
    for (const std::string& s : scenarios)
      if (r.run.scenario == s) ++n;
  return n;
}

}  // namespace gilwatch::report
