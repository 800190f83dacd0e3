#include "triage.h"

#include "describe.h"
#include "gilwatch/options.h"
#include "outputs.h"

namespace gilwatch::harness {

void add_triage_options(CLI::App& app, TriageFlags* flags) {
  app.add_option("--suppressions", flags->suppressions,
                 "KIND:PATTERN rules, one a line: matching findings are counted and listed apart, not reported "
                 "(repeatable; default: the suppressions key of GILWATCH_OPTIONS)")
      ->type_name("FILE")
      // One FILE per flag: `--suppressions F DIR` must leave DIR to the positionals.
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--baseline", flags->baseline,
                 "fingerprints of known findings (from --write-baseline): report only new ones")
      ->type_name("FILE");
  app.add_option("--write-baseline", flags->write_baseline,
                 "write the fingerprints of the findings (and of the known ones) as a baseline file")
      ->type_name("FILE");
  app.add_flag("--show-suppressed", flags->show_suppressed,
               "also print the suppressed and known findings on stderr (they are always in the reports)");
}

std::string suppressions_option(const char* gilwatch_options) {
  // The library's own parser, so the key means the same on both sides.
  Options options;
  char error[512];
  if (!parse_options(gilwatch_options, &options, error, sizeof(error))) return "";
  return options.suppressions;
}

bool load_triage(const TriageFlags& flags, const std::string& options_suppressions, Triage* triage,
                 std::string* error) {
  std::vector<std::string> files = flags.suppressions;
  if (files.empty() && !options_suppressions.empty()) files.push_back(options_suppressions);
  for (const std::string& file : files)
    if (!load_suppressions(file, &triage->rules, error)) return false;
  if (!flags.baseline.empty()) {
    Baseline baseline;
    if (!load_baseline(flags.baseline, &baseline, error)) return false;
    triage->baseline = std::move(baseline);
  }
  return true;
}

void apply_triage(const Triage& triage, report::Report* report) {
  if (triage.baseline) report->baseline_file = triage.baseline->file;
  std::vector<report::Finding> kept;
  for (report::Finding& f : report->findings) {
    if (auto suppression = match_suppression(f, triage.rules)) {
      f.suppressed_by = std::move(suppression);
      report->suppressed.push_back(std::move(f));
    } else if (triage.baseline && (triage.baseline->fingerprints.count(report::fingerprint(f)) ||
                                   triage.baseline->fingerprints.count(report::legacy_fingerprint(f)))) {
      report->baselined.push_back(std::move(f));
    } else {
      kept.push_back(std::move(f));
    }
  }
  report->findings = std::move(kept);
}

bool write_baseline_if_asked(const TriageFlags& flags, const report::Report& report, std::ostream& errors) {
  if (flags.write_baseline.empty()) return true;
  return write_text_output(flags.write_baseline, render_baseline(report), errors);
}

}  // namespace gilwatch::harness
