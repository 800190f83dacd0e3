#include <cstring>
#include "cli.h"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "commands.h"
#include "gilwatch/options.h"

namespace gilwatch::harness {

const std::vector<Subcommand>& subcommands() {
  static const std::vector<Subcommand> table = {
      {"run", "run a command with gilwatch preloaded, then report what it found", command_run},
      {"stress", "run a scenario suite many times in subprocesses and count what the runs found",
       command_stress},
      {"report", "merge the results of earlier runs into one report", command_report},
  };
  return table;
}

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

const Subcommand* suggest_subcommand(const std::string& name) {
  if (name.empty()) return nullptr;
  // A unique prefix ("rep") is what the user started to type.
  const Subcommand* prefixed = nullptr;
  int prefix_matches = 0;
  for (const Subcommand& s : subcommands())
    if (std::string(s.name).rfind(name, 0) == 0) {
      prefixed = &s;
      ++prefix_matches;
    }
  if (prefix_matches == 1) return prefixed;
  if (prefix_matches > 1) return nullptr;  // ambiguous: any guess would be arbitrary
  const Subcommand* best = nullptr;
  std::size_t best_distance = 3;  // beyond 2 edits a suggestion is more confusing than helpful
  for (const Subcommand& s : subcommands()) {
    std::size_t d = edit_distance(name, s.name);
    if (d < best_distance) {
      best_distance = d;
      best = &s;
    }
  }
  return best;
}

void print_help(std::ostream& out) {
  out << "gilwatch " << kVersion
      << ": finds lock-order inversions and GIL misuse in Python native extensions while they run\n\n"
         "Usage: gilwatch SUBCOMMAND [OPTIONS] ...\n"
         "       gilwatch --help | --version\n\n"
         "Subcommands:\n";
  for (const Subcommand& s : subcommands()) out << fmt::format("  {:<10}{}\n", s.name, s.help);
  out << "\n'gilwatch SUBCOMMAND --help' (or 'gilwatch help SUBCOMMAND') describes each one.\n\n"
         "Library options, GILWATCH_OPTIONS=key=value:key=value (read by libgilwatch.so in each\n"
         "process; 'gilwatch run' keeps yours and adds the keys its flags set):\n";
  std::size_t key_width = 0;
  for (std::size_t i = 0; i < kOptionCount; ++i) key_width = std::max(key_width, std::strlen(kOptionTable[i].key));
  for (std::size_t i = 0; i < kOptionCount; ++i) {
    const OptionInfo& o = kOptionTable[i];
    out << fmt::format("  {:<{}} {:<7}{}\n", o.key, key_width, o.kind, o.help);
  }
  out << "\nEnvironment:\n"
         "  GILWATCH_OPTIONS  library options, as above\n"
         "  GILWATCH_LIBRARY  the library 'gilwatch run' preloads (default: ../lib/libgilwatch.so\n"
         "                    next to this executable)\n"
         "\nExit status: 2 for usage errors and unreadable results files; 'gilwatch run' exits\n"
         "with 66 (--exitcode) when there were findings, else with the command's own status;\n"
         "'gilwatch stress' with 66 (--exitcode) when there were findings or runs that were not ok,\n"
         "130 when interrupted.\n";
}

int gilwatch_main(int argc, char** argv) {
  if (argc < 2) {
    print_help(std::cerr);
    return kExitUsage;
  }
  std::string name = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (name == "-h" || name == "--help") {
    print_help(std::cout);
    return 0;
  }
  if (name == "--version") {
    std::cout << "gilwatch " << kVersion << "\n";
    return 0;
  }
  if (name == "help") {
    if (args.empty()) {
      print_help(std::cout);
      return 0;
    }
    name = args[0];
    args = {"--help"};
  }
  for (const Subcommand& s : subcommands())
    if (name == s.name) return s.run(args);

  if (name.rfind('-', 0) == 0)
    std::cerr << "gilwatch: unknown option '" << name << "' (options come after the subcommand)";
  else
    std::cerr << "gilwatch: unknown subcommand '" << name << "'";
  // "--run" is more likely the subcommand with dashes than an option.
  std::string bare = name.substr(std::min(name.find_first_not_of('-'), name.size()));
  if (const Subcommand* guess = suggest_subcommand(bare))
    std::cerr << "; did you mean '" << guess->name << "'?";
  std::cerr << "\nRun 'gilwatch --help' for the list.\n";
  return kExitUsage;
}

}  // namespace gilwatch::harness
