// merge: turns the raw results of every process into the report model — symbolizes
// native frames, names the locks, describes each thread's role, and merges findings
// that are the same bug seen in several processes (same kind, same cycle of lock kinds,
// same code at every edge) into one finding with a count.
#pragma once

#include <vector>

#include "model.h"
#include "results_reader.h"
#include "symbolizer.h"

namespace gilwatch::harness {

struct MergeOptions {
  std::size_t max_symbolized_frames = 5000;  // beyond this, frames keep module+offset only
};

void merge_results(const std::vector<ProcessResults>& processes, Symbolizer& symbolizer,
                   const MergeOptions& options, report::Report* out);

// The merge key of a finding: kind + its edges described position-independently and
// rotated to a canonical start. Exposed for tests.
std::string finding_signature(const report::Finding& finding);

}  // namespace gilwatch::harness
