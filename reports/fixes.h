// fixes: what to change, on the page next to each finding, and the one order in which
// every output lists findings. The fix of a kind is one table (fixes.cpp), kept in step
// with docs/findings.md's "Fix" lines (tests/unit/test_fixes.cpp compares them); the fix
// of a case names the functions its evidence shows (the innermost program frame of the
// threads involved, the blocking call, the C API function).
#pragma once

#include <string>
#include <vector>

#include "model.h"

namespace gilwatch::report {

// What to change for any finding of `kind`, in one or two sentences; "" for a kind this
// gilwatch does not know.
std::string kind_fix(const std::string& kind);

// What to change for this finding, naming its functions, where the evidence allows
// ("release the GIL around the rwlock (write) in registry_store, or do not take the
// GIL while holding rwlock 0x10 in call_task_with_gil."); "" when it does not.
std::string case_fix(const Finding& finding);

// The function a thread's stack shows as the program's own: the innermost named frame
// that is neither libc's, gilwatch's, the interpreter's, nor a language runtime's or a
// binding layer's machinery. "" when none is.
std::string program_function(const std::vector<NativeFrame>& frames);

// The reading order of kinds, most severe first: deadlock, crash, hang,
// lock-order-inversion, capi-without-gil, ... (docs/reports.md). Unknown kinds come last.
const std::vector<std::string>& kinds_by_severity();
int severity_rank(const std::string& kind);

// Findings in reading order: by severity_rank, then errors before warnings, then as they
// were (stable).
void sort_for_reading(std::vector<Finding>* findings);

// The kinds of `findings` in reading order, each once, with how many findings each has.
std::vector<std::pair<std::string, std::size_t>> kind_counts(const std::vector<Finding>& findings);

}  // namespace gilwatch::report
