// library_flags: the flags of `gilwatch run` and `gilwatch stress` that set one
// GILWATCH_OPTIONS key each. They are made from the rows of gilwatch/options.def (its
// FLAGS column), so a key, its flags, their ranges and their help are written once. What
// the flags set goes into LibraryFlags, which compose_options() turns into the string
// the library parses.
//
// It does not decide what a key means or which values the library accepts (the
// library's parser, engine/options.cpp), nor the flags of a subcommand that are not one
// key each (--out, --suppressions, stress's --hang-signal and --perturb).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "run_environment.h"

namespace gilwatch::harness {

enum class FlagCommand { Run, Stress };

// One flag: --NAME VALUE sets KEY=VALUE, or the switch --NAME sets KEY=SETS.
struct LibraryFlag {
  const char* key;
  const char* name;          // "--stack-depth"
  const char* value_name;    // "N"; null for a switch
  const char* sets;          // a switch's value; null for a value flag
  int lo, hi;                // a value flag's range
  bool show_default;         // run's --help shows the key's default
  const char* run_help;      // null: not a flag of `run`
  const char* stress_help;   // null: not a flag of `stress`
  const char* default_text;  // the key's default, as options.def writes it
};

// Every flag, in the order of options.def.
const std::vector<LibraryFlag>& library_flags();

// The flag's help in `command` (empty when the command has no such flag), ending with
// the key it sets: "... (stack_depth)", "... (python_frames=0)".
std::string library_flag_help(const LibraryFlag& flag, FlagCommand command);

// Adds `command`'s flags to `app`; each flag given sets its key in `flags`.
void add_library_flags(CLI::App& app, FlagCommand command, LibraryFlags* flags);

}  // namespace gilwatch::harness
