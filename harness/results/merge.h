// merge: turns the raw results of every process into the report model. It symbolizes
// native frames (batched per module, capped), names locks and thread roles, and merges
// findings that are the same bug seen in several processes into one finding with a count.
//
// Two findings are the same bug when their signatures match (finding_signature): the
// kind, plus the cycle described without addresses or positions — by lock classes, or
// where they cannot tell the locks apart by the sites of its edges — rotated to a
// canonical starting edge, so the cycle closed from another edge matches too. Each
// finding lists the lock instances it was seen on (Finding::instances).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "model.h"
#include "results_reader.h"
#include "symbolizer.h"

namespace gilwatch::harness {

struct MergeOptions {
  // Distinct addresses looked up in all; beyond it frames keep module+offset only, so a
  // huge run cannot make the report take minutes.
  std::size_t max_symbolized_frames = 5000;
};

// Appends every process to out->processes and the merged findings to out->findings, in
// the order they were first seen.
void merge_results(const std::vector<ProcessResults>& processes, Symbolizer& symbolizer,
                   const MergeOptions& options, report::Report* out);

// A lock's class: what stands for it in a merge signature, the same for every instance
// of one lock of the program — its kind (and name) and where it was first taken (the
// function of its first site). The GIL is its own class; a lock without a first site (a
// futex word) has none: "".
std::string lock_class(const report::Lock& lock);

// The kinds whose locks' classes join their (non-cycle) signature: abandoned-lock and
// fork-with-lock-held, where which lock was left held is the bug.
bool has_lock_sites(const std::string& kind);

// The merge signature; report::fingerprint hashes it for SARIF and baselines. It must
// survive address-space randomization, rebuilding and line drift of unrelated code: it
// holds lock kinds and names, function names (stable_function_name) and, only for a
// frame without symbols, the module's file name and the offset in it — never an address,
// a pid, a thread id or a line number.
//
// A cycle: its lock classes in order when they are all known and distinct, so one bug on
// many lock instances (a lock per object, a connection's mutex) is one finding; else
// each edge as its locks' classes and the innermost two program frames where it was
// taken. Other kinds: the kind, the detail, the innermost program frame of each thread
// and, for has_lock_sites kinds, the classes of their locks.
std::string finding_signature(const report::Finding& finding);

// The signature before lock classes (each edge by its locks' kinds and the innermost
// program frame; no lock sites for other kinds): baselines written before keep matching
// through report::legacy_fingerprint.
std::string legacy_finding_signature(const report::Finding& finding);

// Adds one occurrence's instance to a merged finding, unless it is listed already;
// beyond kMaxInstancesListed it is only counted.
inline constexpr std::size_t kMaxInstancesListed = 32;
void add_instance(report::Finding* finding, report::Instance instance);

// A function name without what the compiler adds to clones of it (" [clone .isra.0]",
// ".constprop.0", ".part.0", ".cold"): the same code whether or not it was cloned.
std::string stable_function_name(const std::string& function);

// libgilwatch.so (or a renamed copy, libgilwatch-*.so): its frames are the hooks, not
// the code under test.
bool is_gilwatch_module(const std::string& path);

}  // namespace gilwatch::harness
