// cli: the table of subcommands, the generated top-level help and the "did you mean"
// for a misspelt subcommand — like ninja's table of subtools.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace gilwatch::harness {

struct Subcommand {
  const char* name;
  const char* help;  // one line, for `gilwatch --help`
  int (*run)(const std::vector<std::string>& args);
};

const std::vector<Subcommand>& subcommands();

// The subcommand a misspelt `name` most likely meant: the only one it is a prefix of,
// else the closest within two edits; nullptr when nothing is close or `name` is a prefix
// of several.
const Subcommand* suggest_subcommand(const std::string& name);

void print_help(std::ostream& out);

// Everything main() does: dispatch argv[1] through the table.
int gilwatch_main(int argc, char** argv);

}  // namespace gilwatch::harness
