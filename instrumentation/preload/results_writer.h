// results_writer: the per-process results file (format: gilwatch/result_format.h) and
// the sanitizer-style text on stderr. Runs inside the process under test: raw syscalls,
// mmap'd buffers, no stdio, no malloc.
#pragma once

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

// Prints the one-line summary at exit when there were findings.
void print_exit_summary();

}  // namespace gilwatch::preload
