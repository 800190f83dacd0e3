// describe: the words every output uses for kinds, locks and cycles, in one place so
// findings.json summaries, the text on stderr and the HTML page say the same thing.
// Plain text only; each renderer escapes for its own medium.
#pragma once

#include <string>
#include <vector>

#include "model.h"

namespace gilwatch::report {

// How a finding kind of the DESIGN.md contract is presented.
struct KindInfo {
  std::string title;     // "Lock-order inversion (potential deadlock)"
  std::string meaning;   // what it means for the program, for someone who has not seen one
  std::string severity;  // "error" | "warning"
};

// Unknown kinds (from a newer library) get their own name as title, no explanation and
// severity "error".
KindInfo kind_info(const std::string& kind);

// Every kind of the contract, in the order docs/findings.md presents them.
std::vector<std::string> known_kinds();

// "the GIL", "mutex 0x7f00...", "rwlock 0x7f00... 'name'".
std::string describe_lock(const Lock& lock);

// describe_lock plus, for locks other than the GIL, "(first taken in FUNCTION)" when the
// function of its first site is known. Used in cycles, where addresses alone say little.
std::string lock_label(const Lock& lock);

const Lock* find_lock(const Finding& finding, int id);

// The locks of a finding's cycle in order, the first repeated at the end
// (L1, L2, L1), following the edges; falls back to the order of `locks` when the edges
// do not form a chain. Empty when the finding has no locks.
std::vector<const Lock*> cycle_locks(const Finding& finding);

// "mutex 0x10 (first taken in f) -> the GIL -> mutex 0x10"
std::string cycle_text(const Finding& finding);

// "took rwlock 0x10 (write) while holding the GIL" — modes are named for rwlocks only,
// where read/write decides whether the edge can deadlock.
std::string thread_role(const Lock& held, const std::string& held_mode, const Lock& taken,
                        const std::string& taken_mode);

// A finding's stable fingerprint: 16 hex digits, a 64-bit FNV-1a hash of its kind and
// merge signature (harness/results/merge.h), which hold no addresses, pids, thread ids or line
// numbers. SARIF's partialFingerprints and baseline files both use it; a defined hash,
// so the value is the same whatever compiler or standard library built gilwatch.
std::string fingerprint(const Finding& finding);
// The fingerprint of its merge key before lock classes (Finding::legacy_signature), which
// baselines written by an older gilwatch hold; equal to fingerprint() for most kinds.
std::string legacy_fingerprint(const Finding& finding);

// "0x1a2b" — how every output prints addresses and offsets.
std::string hex(uint64_t value);

// The facts a non-cycle finding carries besides its threads, in words, or "" when there
// are none: "probable (inferred from a wait on an object with no owner); 12 times;
// longest wait 340 ms". Never the raw `detail`: the summary says it in words.
// For a cycle, or "" for another kind. Only the code counts for a lock-order inversion,
// not whether two threads met, so one thread taking both orders is a finding too:
// "one thread took both orders: thread 12 (worker) took mutex 0x10 then the GIL, and
// later the GIL then mutex 0x10"; else "taken by different threads: thread 12 (a) took
// mutex 0x10 then the GIL; thread 13 (b) took the GIL then mutex 0x10".
std::string cycle_threads_text(const Finding& finding);
// "on 20 lock instances: 0x10, 0x20, 0x30, 0x40 and 16 more" (the addresses of each
// instance's locks, the GIL left out), or "" when the finding was seen on one.
std::string instances_text(const Finding& finding);
// With the cycle's threads and its instances when it has them.
std::string finding_facts(const Finding& finding);

// For a finding of stress runs: "seen in 37 of 200 runs of tool-churn; first in
// tool-churn #3 (seed 1234)"; "" outside stress.
std::string runs_fact(const Report& report, const Finding& finding);

// The shell command that reproduces a finding, or "" when nothing says how: for stress,
// its first run (`cd DIR && gilwatch stress SUITE --seed S --rerun 'LABEL#I'`); else the
// command of its first process under `gilwatch run`.
std::string rerun_command(const Report& report, const Finding& finding);

// `word` quoted for a POSIX shell when it needs to be.
std::string shell_quote(const std::string& word);

// For a stress report: "200 runs: 190 ok, 7 findings, 2 crash, 1 hang"; "" otherwise.
std::string runs_summary(const Report& report);

// "3.8" of a Python version string ("3.8.18 (default, ...)"); the string itself when it
// does not start with major.minor.
std::string python_series(const std::string& version);

// The interpreters of the report's processes gilwatch is not tested with, each once in
// process order ("3.8"): said in findings.json, the report's header and `run`'s summary.
std::vector<std::string> untested_pythons(const Report& report);
// Lock acquisitions, over every process, whose new lock-order edges were not recorded
// because too little stack was left (docs/design.md, "Stack budget").
uint64_t untracked_low_stack(const Report& report);
// The free-threaded interpreters of the report's processes, each once in process order
// ("3.13t"): their GIL checks were off (docs/design.md, "Free-threaded builds").
std::vector<std::string> free_threaded_pythons(const Report& report);
// How many of the report's processes ran a free-threaded interpreter.
int free_threaded_process_count(const Report& report);
// "3 acquisitions not tracked: low stack", or "" when none were.
std::string untracked_low_stack_text(const Report& report);
// The library's capacities that overflowed, merged over the processes by capacity
// (lost summed, the largest limit), in order of first appearance.
std::vector<CapacityWarning> capacity_warnings(const Report& report);
// "capacity held_locks_per_thread (512) overflowed: 3 lock acquisitions not tracked".
std::string capacity_warning_text(const CapacityWarning& warning);

// "12 ns", "3.4 us", "1.25 ms", "2.1 s": a duration for people.
std::string duration_text(uint64_t ns);

// "registry_update (contend.c:9)", or module+offset when not symbolized: where a
// profile row's locks were first taken.
std::string site_label(const std::vector<NativeFrame>& site);
// One frame as site_label shows it: "f (file.c:12)", "f", or "module+0x..." without a name.
std::string frame_label(const NativeFrame& frame);

// site_label, or "Python code (no extension call seen)" for a long hold without a site.
std::string holder_label(const std::vector<NativeFrame>& site);

// The share of acquisitions that had to wait, 0..1 (0 when there were none).
double contended_share(const LockContention& row);

// part / whole, 0 when whole is 0.
double share_of(uint64_t part, uint64_t whole);

// A percentile of a row's wait or hold histogram (q in 0..1), in nanoseconds, at most
// `max_ns` (the histogram knows values to within 12.5%; the maximum is exact).
uint64_t histogram_percentile(const std::vector<uint64_t>& histogram, double q, uint64_t max_ns);

// Last path component ("libc.so.6" for "/lib/x86_64-linux-gnu/libc.so.6").
std::string base_name(const std::string& path);

// Frames of a language runtime's own machinery rather than of the program: Rust's panic
// and unwinding path, its std lock and thread-parking internals, parking_lot's and
// lock_api's slow paths. Where a finding happened is the first frame that is not one.
bool is_runtime_frame(const NativeFrame& frame);
// The index of the first frame that is not a runtime's; frames.size() when all are.
std::size_t first_program_frame(const std::vector<NativeFrame>& frames);
// What kind of futex-based lock a waiting thread's frames show it waiting on ("std
// RwLock (write)", "parking_lot Mutex", "std mpsc channel", ...), from the symbols of the
// lock implementation on its stack; "" when none is recognized.
std::string futex_lock_name(const std::vector<NativeFrame>& frames);
// Whether a futex word so named is a lock (a Mutex, an RwLock, or not recognized) rather
// than a parked thread, a channel, a condition variable or a runtime waiting for work.
bool futex_name_is_lock(const std::string& name);
// Whether only the contended acquisitions of the row's locks can be seen (futex words,
// PyMutex): its acquisitions are its waits.
bool only_waits_seen(const LockContention& row);
// A contention row's kind as shown: "mutex", "futex (std::sync::RwLock, write)".
std::string contention_kind_label(const LockContention& row);

}  // namespace gilwatch::report
