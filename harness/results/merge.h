// merge: turns the raw results of every process into the report model. It symbolizes
// native frames (batched per module, capped), names locks and thread roles, and merges
// findings that are the same bug seen in several processes into one finding with a count.
//
// Two findings are the same bug when their signatures match: the kind, plus the cycle
// described without addresses or positions — each edge as the kinds/names of its two
// locks and the function of its innermost frame outside libgilwatch.so — rotated to a
// canonical starting edge, so the cycle closed from another edge matches too.
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

// The merge signature; report::fingerprint hashes it for SARIF and baselines. It must
// survive address-space randomization, rebuilding and line drift of unrelated code: it
// holds lock kinds and names, function names (stable_function_name) and, only for a
// frame without symbols, the module's file name and the offset in it — never an address,
// a pid, a thread id or a line number.
std::string finding_signature(const report::Finding& finding);

// A function name without what the compiler adds to clones of it (" [clone .isra.0]",
// ".constprop.0", ".part.0", ".cold"): the same code whether or not it was cloned.
std::string stable_function_name(const std::string& function);

// libgilwatch.so (or a renamed copy, libgilwatch-*.so): its frames are the hooks, not
// the code under test.
bool is_gilwatch_module(const std::string& path);

}  // namespace gilwatch::harness
