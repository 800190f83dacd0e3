// outputs: the part `run` and `report` share — read every results file of some output
// directories into one merged report, then write findings.json and report.html.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "commands.h"
#include "model.h"
#include "symbolizer.h"

namespace gilwatch::harness {

struct CollectCounts {
  int files = 0;       // results files found
  int unreadable = 0;  // of those, skipped (each named in report->errors and on `warnings`)
};

// Reads the results files of every dir (an output directory or a raw/ directory; a file
// reached twice is read once), merges and symbolizes them into `report`.
CollectCounts collect_results(const std::vector<std::string>& dirs, Symbolizer& symbolizer, report::Report* report,
                              std::ostream& warnings);

// Where the renderings go; an empty path is not written.
struct OutputPaths {
  std::string json;   // findings.json
  std::string html;   // report.html
  std::string sarif;  // SARIF 2.1.0 (--sarif)
  std::string junit;  // JUnit XML (--junit)
  // docs/findings.md as an http(s) URL (docs_url()); each kind links to its section.
  std::string docs_url = kDefaultDocsUrl;
  bool full_stacks = false;  // --full-stacks: the HTML report's stacks and findings.json's `text` unfolded
};

// The documentation URL the reports link to: `option` (--docs-url) when given, else
// $GILWATCH_DOCS_URL when set, else kDefaultDocsUrl. False, with an error naming the
// option or the variable, when the chosen value is not an http:// or https:// URL.
bool docs_url(const std::string& option, const char* environment, std::string* url, std::string* error);

// Writes every named output (each through a temporary file and a rename, so a reader
// never sees half a file). Returns false, after naming the file on `errors`, when one
// could not be written.
bool write_outputs(const report::Report& report, const OutputPaths& paths, std::ostream& errors);

// Writes one file the same way (a temporary file, then a rename; missing parent
// directories are created). False, after naming the file on `errors`, on failure.
bool write_text_output(const std::string& path, const std::string& content, std::ostream& errors);

std::string utc_now_iso8601();

}  // namespace gilwatch::harness
