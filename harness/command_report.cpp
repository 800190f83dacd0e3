// `gilwatch report`: rebuilds findings.json and report.html from earlier runs' results.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "report_writer.h"
#include "text_report.h"

namespace gilwatch::harness {

namespace fs = std::filesystem;

int command_report(const std::vector<std::string>& args) {
  CLI::App app{"Merge the results of one or more output directories (or raw/ directories) into one "
               "report: HTML and findings.json.",
               "gilwatch report"};
  const std::string usage = "Usage: gilwatch report DIR... [-o FILE.html] [--json FILE]";
  app.footer(usage);
  std::vector<std::string> dirs;
  std::string html, json;
  bool quiet = false;
  app.add_option("dirs", dirs, "output directories of earlier runs")->required();
  app.add_option("-o,--output", html, "HTML report (default: DIR/report.html when one DIR is given)");
  app.add_option("--json", json, "findings.json (default: next to the HTML report)");
  app.add_flag("-q,--quiet", quiet, "do not print the findings on stderr");
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "gilwatch report: " << e.what() << "\n" << usage << "\n";
    return kExitUsage;
  }
  for (const std::string& d : dirs) {
    if (!fs::is_directory(d)) {
      std::cerr << "gilwatch report: '" << d << "' is not a directory\n";
      return kExitUsage;
    }
  }
  if (html.empty()) {
    if (dirs.size() != 1) {
      std::cerr << "gilwatch report: with several directories, name the report with -o FILE.html\n";
      return kExitUsage;
    }
    html = (fs::path(dirs[0]) / "report.html").string();
  }
  if (json.empty()) json = (fs::path(html).parent_path() / "findings.json").string();

  report::Report report;
  report.inputs = dirs;
  report.date = utc_now_iso8601();
  int unreadable = collect_results(dirs, &report);
  bool written = write_outputs(report, json, html);
  if (!quiet) std::cerr << report::render_text(report);
  std::cerr << summary_line(report, html) << "\n";
  return (!written || unreadable) ? kExitUsage : 0;
}

}  // namespace gilwatch::harness
