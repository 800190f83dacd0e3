// baseline: the findings a project already knows about, by fingerprint, so that a run
// reports only new ones. `--write-baseline FILE` writes one; `--baseline FILE` reads it.
//
// The file is text, one known finding per line, for review and for diffs:
//
//   # gilwatch baseline: FINGERPRINT KIND SUMMARY, one known finding per line
//   3c5e0d6a0f9e42b1 lock-order-inversion lock-order inversion (potential deadlock): ...
//
// Only the fingerprint (16 hex digits, report::fingerprint: the same as SARIF's
// partialFingerprints) decides; the kind and summary are there for people. Blank lines
// and lines starting with `#` are ignored; deleting a line reports that finding again.
#pragma once

#include <set>
#include <string>

#include "model.h"

namespace gilwatch::harness {

struct Baseline {
  std::string file;
  std::set<std::string> fingerprints;
};

// Parses the text of a baseline file named `file_name`. On the first malformed line, sets
// `error` to "FILE:LINE: reason" and returns false.
bool parse_baseline(const std::string& text, const std::string& file_name, Baseline* baseline, std::string* error);

// Reads and parses the file at `path`; an unreadable file is an error naming it.
bool load_baseline(const std::string& path, Baseline* baseline, std::string* error);

// The baseline of a report: its reported findings and those the baseline it was read
// with already knew (suppressed findings stay with their suppressions), sorted by
// fingerprint so that rewriting it gives a small diff.
std::string render_baseline(const report::Report& report);

}  // namespace gilwatch::harness
