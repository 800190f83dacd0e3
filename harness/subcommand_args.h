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

}  // namespace gilwatch::harness
