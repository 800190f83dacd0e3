// gilwatch: one table of subcommands, generated help, "did you mean" for typos.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "gilwatch/options.h"

namespace {

using gilwatch::harness::kExitUsage;

struct Subcommand {
  const char* name;
  const char* help;
  int (*run)(const std::vector<std::string>& args);
};

const Subcommand kSubcommands[] = {
    {"run", "run a command under gilwatch and report what it found", gilwatch::harness::command_run},
    {"report", "rebuild the report from earlier runs' output directories", gilwatch::harness::command_report},
};

void print_help(std::ostream& out) {
  out << "gilwatch " << gilwatch::harness::kVersion
      << " — finds lock-order inversions and GIL misuse in Python native extensions\n\n"
         "Usage: gilwatch SUBCOMMAND [OPTIONS] ...\n\nSubcommands:\n";
  for (const Subcommand& s : kSubcommands) out << "  " << s.name << std::string(10 - std::strlen(s.name), ' ') << s.help << "\n";
  out << "\n`gilwatch SUBCOMMAND --help` describes each one.\n\n"
         "Library options (GILWATCH_OPTIONS=key=value:key=value, read by libgilwatch.so):\n";
  for (std::size_t i = 0; i < gilwatch::kOptionCount; ++i) {
    const gilwatch::OptionInfo& o = gilwatch::kOptionTable[i];
    out << "  " << o.key << std::string(15 - std::strlen(o.key), ' ') << "(" << o.kind << ") " << o.help << "\n";
  }
  out << "\nExit status: 2 for usage errors and unreadable results; for `run`, 66 (--exitcode) when\n"
         "there were findings, otherwise the command's own status.\n";
}

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

int main(int argc, char** argv) {
  if (argc < 2) {
    print_help(std::cerr);
    return kExitUsage;
  }
  std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    print_help(std::cout);
    return 0;
  }
  if (name == "--version") {
    std::cout << "gilwatch " << gilwatch::harness::kVersion << "\n";
    return 0;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const Subcommand& s : kSubcommands)
    if (name == s.name) return s.run(args);
  std::cerr << "gilwatch: unknown subcommand '" << name << "'";
  const Subcommand* best = nullptr;
  std::size_t best_distance = 3;
  for (const Subcommand& s : kSubcommands) {
    std::size_t d = edit_distance(name, s.name);
    if (d < best_distance) {
      best_distance = d;
      best = &s;
    }
  }
  if (best) std::cerr << "; did you mean '" << best->name << "'?";
  std::cerr << "\nRun 'gilwatch --help' for the list.\n";
  return kExitUsage;
}
