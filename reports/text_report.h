// text_report: what `gilwatch run` and `gilwatch report` print on stderr, in the
// sanitizers' style: one "==PID==WARNING: gilwatch: KIND" block per finding with the
// cycle, each thread's role, its stack ("#0 0x... in f file:line (module+0xoff)", Python
// frames "py file:line in f" where their eval loop ran them, "… 14 interpreter frames"); then one summary line.
#pragma once

#include <cstddef>
#include <string>

#include "model.h"

namespace gilwatch::report {

struct TextOptions {
  // Every frame of every stack, none folded (--full-stacks); else interpreter, test-runner,
  // thread start and runtime frames fold (stack_view.h) and at most `max_frames` rows of
  // each thread's stack are printed (the HTML has them all).
  bool full_stacks = false;
  std::size_t max_frames = 24;
};

// Every finding.
std::string render_text(const Report& report, const TextOptions& options = {});

// One finding's block, as render_text prints it: the "==PID==WARNING: gilwatch: KIND"
// line, summary, facts, fix, each thread's stack (folded unless options.full_stacks);
// ends with a blank line. findings.json carries it as each finding's `text`.
std::string finding_text(const Report& report, const Finding& finding, const TextOptions& options = {});

// The contention profile's top rows ("==gilwatch== lock contention ..."), or "" when no
// process ran with the profile option. render_text ends with it.
std::string profile_text(const Profiles& profiles, std::size_t max_rows = 5);

// "gilwatch: 2 findings (lock-order-inversion) -> DIR/report.html", or
// "gilwatch: no findings -> DIR/report.html"; names unreadable results files' count too,
// and what was set aside: "gilwatch: 2 new findings (...), 5 known (baseline FILE),
// 3 suppressed -> ...".

std::string summary_line(const Report& report, const std::string& html_path);

// The suppressed findings, each under the rule that matched it, then the known
// (baselined) ones: what --show-suppressed prints. "" when there are none.
std::string set_aside_text(const Report& report, const TextOptions& options = {});

// Control characters (a terminal escape in a thread name, say) shown as \xNN so text
// from the process under test cannot drive the terminal.
std::string printable(const std::string& text);

}  // namespace gilwatch::report
