// suppressions: the sanitizer-style suppressions file and the decision whether a finding
// is suppressed. Pure functions on the report model, unit-tested without running anything;
// `run`, `stress` and `report` apply them after symbolization (triage.h), and the
// renderers only show the outcome.
//
// The file: one rule per line, `KIND:PATTERN`. KIND is a finding kind of docs/findings.md
// or `*` for every kind; PATTERN is a glob (`*` any run of characters, `?` one) that must
// match the whole of one frame's name. Blank lines and lines starting with `#` are
// ignored; spaces around KIND and PATTERN are dropped.
//
// A rule matches a finding of its kind when its pattern matches any frame of any of the
// finding's thread stacks (the sanitizers' rule): a native frame's function (demangled),
// its module (full path or file name) or its source file (full path or file name); a
// Python frame's function or file (full path or file name). The first matching rule, in
// file order and then in the order the files were given, is the one recorded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model.h"

namespace gilwatch::harness {

struct SuppressionRule {
  std::string kind;     // a finding kind, or "*"
  std::string pattern;  // a glob
  std::string file;     // where the rule was written
  int line = 0;
  std::string text() const { return kind + ":" + pattern; }
};

// Whole-string glob match: `*` matches any run of characters (also '/'), `?` one.
bool glob_match(std::string_view pattern, std::string_view text);

// Parses the text of a suppressions file named `file_name` and appends its rules to
// `rules`. On the first malformed line, sets `error` to "FILE:LINE: reason" and returns
// false (rules of earlier lines are appended).
bool parse_suppressions(const std::string& text, const std::string& file_name, std::vector<SuppressionRule>* rules,
                        std::string* error);

// Reads and parses the file at `path`; an unreadable file is an error naming it.
bool load_suppressions(const std::string& path, std::vector<SuppressionRule>* rules, std::string* error);

// The first rule that matches `finding`, with the frame it matched; nothing when none does.
std::optional<report::Suppression> match_suppression(const report::Finding& finding,
                                                     const std::vector<SuppressionRule>& rules);

}  // namespace gilwatch::harness
