// html_report: one self-contained page (inline CSS, SVG and one small script, no network
// requests), readable from file:// and without JavaScript (the script only makes tables
// sortable). Everything that came from the process under test is escaped.
#pragma once

#include <string>

#include "model.h"

namespace gilwatch::report {

struct HtmlOptions {
  // Where docs/findings.md is, as a URL ("file:///.../docs/findings.md"); each finding
  // links to its kind's section there. Empty: the link names docs/findings.md in words.
  std::string findings_doc_url;
  // Rows beyond these limits are counted, not listed (the page stays small with
  // thousands of runs); findings.json and stress.json keep everything.
  std::size_t max_run_rows = 500;
  std::size_t max_process_rows = 500;
  // Every frame of every stack (--full-stacks); else interpreter, test-runner, thread
  // start and runtime frames fold into a row that expands on a click (stack_view.h).
  bool full_stacks = false;
};

std::string render_html(const Report& report, const std::string& tool_version, const HtmlOptions& options = {});

// Escapes &, <, >, " and ' so text is safe both in element content and in attribute values.
std::string html_escape(const std::string& text);

}  // namespace gilwatch::report
