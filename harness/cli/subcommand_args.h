// The argument parsing every subcommand shares: CLI11 for the flags, --help to stdout
// with status 0, a usage error named after the subcommand with status 2.
#pragma once

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"

namespace gilwatch::harness {

// Parses `args` into `app`. Returns the status to exit with when parsing ends the
// command (help printed, or a usage error reported), nothing when the command goes on.
inline std::optional<int> parse_subcommand_args(CLI::App& app, const std::vector<std::string>& args,
                                                const char* subcommand, const char* usage) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them reversed
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "gilwatch " << subcommand << ": " << e.what() << "\n" << usage << "\n";
    return kExitUsage;
  }
  return std::nullopt;
}

// --sarif FILE and --junit FILE: the machine-readable renderings every command that
// writes a report can also write.
inline void add_machine_output_options(CLI::App& app, std::string* sarif, std::string* junit) {
  app.add_option("--sarif", *sarif, "also write the findings as SARIF 2.1.0 (for code scanning)")->type_name("FILE");
  app.add_option("--junit", *junit, "also write JUnit XML: a test case per scenario, or per test with findings")
      ->type_name("FILE");
}

// --docs-url URL: where the reports link for each kind's explanation and fix
// (outputs.h's docs_url() checks and resolves it).
inline void add_docs_url_option(CLI::App& app, std::string* url) {
  app.add_option("--docs-url", *url,
                 std::string("docs/findings.md as an http(s) URL, linked from the HTML and SARIF reports (default: "
                             "$GILWATCH_DOCS_URL, else ") + kDefaultDocsUrl + ")")
      ->type_name("URL");
}

// --full-stacks: every command that prints findings and writes the HTML report.
inline void add_full_stacks_option(CLI::App& app, bool* full_stacks) {
  app.add_flag("--full-stacks", *full_stacks,
               "show every frame of every stack on stderr, in the HTML report and in findings.json's `text` (by "
               "default interpreter, test-runner, thread start and runtime frames fold into one line)");
}

}  // namespace gilwatch::harness
