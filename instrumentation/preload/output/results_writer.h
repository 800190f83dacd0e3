// results_writer: what the library reports — the per-process results file (format:
// gilwatch/result_format.h) and the sanitizer-style text on stderr. The one header the
// rest of the library uses; the files behind it, one job each, are listed in
// results_parts.h. Runs inside the process under test: raw syscalls, mmap'd buffers, no
// stdio, no malloc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gilwatch::preload {

// Records the loaded objects (path, load bias, executable segments) so native frames can
// be symbolized after the process is gone. Call at start-up and after each dlopen.
void snapshot_modules();

// Chooses the results file name for this process image (again in a fork child).
void init_results_file();

// Rewrites the results file. `exited`: the final write at exit, with `exit_status`.
void write_results(bool exited, int exit_status);

// Prints findings [first, count) on stderr.
void print_findings(std::size_t first, std::size_t count);

// Prints events (non-cycle findings) [first, count) on stderr.
void print_events(std::size_t first, std::size_t count);

// The context (what the process was doing: the running test, from the pytest plugin
// through gilwatch_set_context) of findings [first, count) and events
// [first_event, event_count) just reported: the context current now.
void note_context_of_new_findings(std::size_t first, std::size_t count, std::size_t first_event,
                                  std::size_t event_count);

// Prints the one-line summary at exit when there were findings.
void print_exit_summary();
// Findings this process reports by itself: all but the short futex waits, which only the
// command can judge (wait_monitor.h).
std::size_t reported_finding_count();

}  // namespace gilwatch::preload

// Exported (exports.map): gilwatch_set_context and the rest the Python side calls.
#include "gilwatch/exports.h"
