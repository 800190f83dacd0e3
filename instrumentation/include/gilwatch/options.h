// gilwatch options: parsed from GILWATCH_OPTIONS ("key=value:key=value", the sanitizer
// convention). The preload library parses them once at start-up; the `gilwatch` command
// builds the same string from its flags (one flag per key), so both sides share this
// parser and its table of keys.
//
// The parser never allocates: it runs inside the process under test before main().
#pragma once

#include <cstddef>

namespace gilwatch {

struct Options {
  // Directory that receives this process's results file (created if missing).
  // Empty: results are only printed on stderr.
  char out_dir[1024] = {};
  // Exit status forced at process exit when this process reported findings
  // (0 keeps the program's own status). Same meaning as the sanitizers' exitcode.
  int exitcode = 66;
  // Print each finding on stderr as it is found (sanitizer style).
  bool report_stderr = true;
  // Capture Python frames (function, file, line) of a thread that holds the GIL when it
  // adds a lock-order edge. Costs a few C API calls per new edge, nothing per lock.
  bool python_frames = true;
  // Deepest native stack captured per edge (1..64).
  int stack_depth = 32;
  // 0: findings only; 1: also start-up and exit notes; 2: debugging chatter.
  int verbosity = 0;
  // A wait-for cycle is reported once every thread on it has been blocked this long
  // (milliseconds); a probable deadlock (a GIL holder blocked on a condition variable or
  // futex while another thread waits for the GIL) after twice as long.
  int deadlock_ms = 500;
  // Exit status of a process in which a deadlock was found, after its results are
  // written; 0 leaves the deadlocked threads waiting (the process hangs as it would).
  int deadlock_exitcode = 67;
  // A wait with the GIL held that lasts at least this long (milliseconds) is a
  // gil-held-blocking finding.
  int gil_blocking_ms = 100;
  // Check extension calls into the Python C API for a held GIL (capi-without-gil).
  bool capi_checks = true;
  // When not 0, this signal makes the process write a `hang` finding: every thread's
  // stack and what it waits for (`gilwatch stress` sends it at a run's timeout).
  int hang_signal = 0;
  // When not 0, lock and GIL acquisitions are sometimes delayed by up to this many
  // microseconds (seeded by `seed`), to make rare interleavings less rare.
  int perturb_us = 0;
  unsigned long long seed = 0;
  // Profile the GIL (per thread: takes, time held and waited) and lock contention (per
  // lock: acquisitions, contended acquisitions, wait and hold times, the longest waits'
  // stacks): results "profiles". Off, it costs one load and branch per lock operation;
  // on, two clock reads per acquisition.
  bool profile = false;
  // A suppressions file (KIND:PATTERN lines). The library only records it: the
  // `gilwatch` command reads it, when no --suppressions flag is given, and decides after
  // symbolization which findings it suppresses (docs/cli.md).
  char suppressions[1024] = {};
};

// Describes one recognised key; the table drives parsing and `gilwatch --help`.
struct OptionInfo {
  const char* key;
  const char* kind;  // "path", "int", "bool"
  const char* help;
};
extern const OptionInfo kOptionTable[];
extern const std::size_t kOptionCount;

// Parses `text` into `out`, starting from whatever `out` already holds. On the first bad
// entry, writes a one-line message naming the key (and the value) into `error` and
// returns false; entries before it are applied. A null or empty text is valid.
bool parse_options(const char* text, Options* out, char* error, std::size_t error_size);

}  // namespace gilwatch
