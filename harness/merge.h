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

std::string finding_signature(const report::Finding& finding);

// libgilwatch.so (or a renamed copy, libgilwatch-*.so): its frames are the hooks, not
// the code under test.
bool is_gilwatch_module(const std::string& path);

}  // namespace gilwatch::harness
