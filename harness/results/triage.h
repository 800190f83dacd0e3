// triage: what `run`, `stress` and `report` share about suppressions and the baseline —
// their flags, loading the files before anything runs (a malformed file is a usage error
// and nothing is written), and setting findings aside after symbolization. The decisions
// are suppressions.h's and baseline.h's; the renderers show Report::suppressed and
// Report::baselined.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "baseline.h"
#include "model.h"
#include "suppressions.h"

namespace gilwatch::harness {

struct TriageFlags {
  std::vector<std::string> suppressions;  // --suppressions FILE (repeatable)
  std::string baseline;                   // --baseline FILE
  std::string write_baseline;             // --write-baseline FILE
  bool show_suppressed = false;           // --show-suppressed
};

// Adds --suppressions, --baseline, --write-baseline and --show-suppressed to `app`.
void add_triage_options(CLI::App& app, TriageFlags* flags);

struct Triage {
  std::vector<SuppressionRule> rules;
  std::optional<Baseline> baseline;
};

// The suppressions key of a GILWATCH_OPTIONS string (may be null), or "" when it has
// none or does not parse (`run` and `stress` report a bad GILWATCH_OPTIONS themselves).
std::string suppressions_option(const char* gilwatch_options);

// Loads the suppressions files (the flags' when given, else `options_suppressions`, the
// suppressions key of GILWATCH_OPTIONS, when not empty) and the baseline. On a bad or
// unreadable file, sets `error` ("FILE:LINE: reason") and returns false.
bool load_triage(const TriageFlags& flags, const std::string& options_suppressions, Triage* triage,
                 std::string* error);

// Moves each finding that a rule suppresses to report->suppressed (with the rule), then
// each one the baseline knows to report->baselined; report->findings keeps the rest, in
// order.
void apply_triage(const Triage& triage, report::Report* report);

// Writes --write-baseline's file when asked; false (after naming the file on `errors`)
// when it could not be written.
bool write_baseline_if_asked(const TriageFlags& flags, const report::Report& report, std::ostream& errors);

}  // namespace gilwatch::harness
