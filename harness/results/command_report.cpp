// `gilwatch report`: rebuilds findings.json and report.html from the results of one or
// more earlier runs, merging them (the same bug in several runs becomes one finding).
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "subcommand_args.h"
#include "help_format.h"
#include "output_lock.h"
#include "outputs.h"
#include "results_reader.h"
#include "run_record.h"
#include "text_report.h"
#include "triage.h"
#include "gilwatch/options.h"

namespace gilwatch::harness {

namespace fs = std::filesystem;

int command_report(const std::vector<std::string>& args) {
  constexpr const char* kUsage =
      "Usage: gilwatch report DIR... [-o FILE.html] [--sarif FILE] [--junit FILE] [--json FILE] [-q]\n"
      "                       [--suppressions FILE]... [--baseline FILE] [--write-baseline FILE] [--show-suppressed]\n"
      "                       [--docs-url URL] [--full-stacks]";
  CLI::App app{"Merges the per-process results under each DIR (an output directory of 'gilwatch run' or\n"
               "'gilwatch stress', or a raw/ directory itself) into one report: an HTML page and\n"
               "findings.json, and SARIF and JUnit XML when asked. The same finding in several processes,\n"
               "runs or shards becomes one finding with a count.",
               "gilwatch report"};
  use_subcommand_help(app, kUsage);
  app.footer(
             "Suppressed findings (--suppressions, or suppressions=FILE in GILWATCH_OPTIONS) and\n"
             "findings the --baseline knows are listed apart in the reports and counted in the summary.\n"
             "Findings are listed most severe first, grouped by kind, each with what to change.\n\n"
             "Exit status: 0 when the report was written, whatever it found; 2 for usage errors, a\n"
             "malformed suppressions or baseline file (nothing is written), an output inside a DIR a\n"
             "running gilwatch run or stress still writes to (a report of what it holds so far may\n"
             "go elsewhere: -o), and when a results file could not be read (it is named on stderr\n"
             "and in the report, and the rest is still reported).\n");
  std::vector<std::string> dirs;
  std::string html, json;
  bool quiet = false;
  app.add_option("DIR", dirs, "output directories (or raw/ directories) of earlier runs")
      ->required()
      ->type_name("");
  app.add_option("-o,--output", html, "the HTML report (default: DIR/report.html; required with several DIRs)")
      ->type_name("FILE.html");
  app.add_option("--json", json, "the findings in JSON (default: findings.json next to the HTML report)")
      ->type_name("FILE");
  std::string sarif, junit;
  add_machine_output_options(app, &sarif, &junit);
  std::string docs_flag;
  add_docs_url_option(app, &docs_flag);
  app.add_flag("-q,--quiet", quiet, "print only the summary line on stderr, not every finding");
  TriageFlags triage_flags;
  add_triage_options(app, &triage_flags);
  bool full_stacks = false;
  add_full_stacks_option(app, &full_stacks);
  if (auto status = parse_subcommand_args(app, args, "report", kUsage)) return *status;
  std::string docs, docs_error;
  if (!docs_url(docs_flag, std::getenv("GILWATCH_DOCS_URL"), &docs, &docs_error)) {
    std::cerr << "gilwatch report: " << docs_error << "\n";
    return kExitUsage;
  }
  Triage triage;
  std::string triage_error;
  if (!load_triage(triage_flags, suppressions_option(std::getenv("GILWATCH_OPTIONS")), &triage, &triage_error)) {
    std::cerr << "gilwatch report: " << triage_error << "\n";
    return kExitUsage;
  }
  // Directories a running `gilwatch run` or `stress` holds: reading them is safe (the
  // library replaces results files atomically), so a report of what they hold so far may
  // be written elsewhere — the pytest plugin does that after each test —, but not into
  // them, where the run's own report would replace it and its raw files are not complete.
  std::vector<std::pair<fs::path, pid_t>> held;
  for (const std::string& d : dirs) {
    std::error_code ec;
    if (!fs::is_directory(d, ec)) {
      std::cerr << "gilwatch report: '" << d << "' is not a directory\n";
      return kExitUsage;
    }
    fs::path dir = fs::path(d);
    if (dir.filename().empty()) dir = dir.parent_path();  // "DIR/raw/"
    std::vector<fs::path> holders = {dir};
    if (dir.filename() == "raw") holders.push_back(dir.parent_path());
    for (const fs::path& candidate : holders) {
      pid_t holder = 0;
      if (output_directory_in_use(candidate.string(), &holder)) held.emplace_back(candidate, holder);
    }
    // Not an error: a run of programs that never loaded the library leaves none.
    if (!is_stress_directory(d) && list_results_files(d).empty())
      std::cerr << "gilwatch report: warning: no results files (gilwatch.*.json) in " << results_directory(d) << "\n";
  }
  if (html.empty()) {
    if (dirs.size() != 1) {
      std::cerr << "gilwatch report: with several directories, name the HTML report with -o FILE.html\n"
                << kUsage << "\n";
      return kExitUsage;
    }
    html = (fs::path(dirs.front()) / "report.html").string();
  }
  if (json.empty()) json = (fs::path(html).parent_path() / "findings.json").string();
  for (const auto& [dir, holder] : held) {
    std::error_code ec;
    fs::path held_dir = fs::weakly_canonical(dir, ec);
    for (const std::string& output : {html, json, sarif, junit, triage_flags.write_baseline}) {
      if (output.empty()) continue;
      fs::path parent = fs::weakly_canonical(fs::absolute(output).parent_path(), ec);
      if (parent == held_dir || parent == held_dir / "raw") {
        std::cerr << "gilwatch report: " << dir.string() << " is in use by a running gilwatch"
                  << (holder > 0 ? " (pid " + std::to_string(holder) + ")" : "")
                  << "; report it once that has ended, or write the report elsewhere (-o FILE.html)\n";
        return kExitUsage;
      }
    }
  }

  report::Report report;
  report.inputs = dirs;
  report.date = utc_now_iso8601();
  DwflSymbolizer symbolizer;
  CollectCounts counts = collect_results(dirs, symbolizer, &report, std::cerr);
  apply_triage(triage, &report);
  bool written = write_outputs(report, {json, html, sarif, junit, docs, full_stacks}, std::cerr);
  written &= write_baseline_if_asked(triage_flags, report, std::cerr);
  if (!quiet) std::cerr << report::render_text(report, {full_stacks});
  if (triage_flags.show_suppressed) std::cerr << report::set_aside_text(report, {full_stacks});
  std::cerr << report::summary_line(report, html) << "\n";
  return (!written || counts.unreadable > 0) ? kExitUsage : 0;
}

}  // namespace gilwatch::harness
