// The `gilwatch` subcommands and the command's own exit statuses. cli.cpp holds the
// table that dispatches to them.
#pragma once

#include <string>
#include <vector>

namespace gilwatch::harness {

// Set from the project version by CMake.
inline constexpr const char* kVersion = GILWATCH_VERSION;
// docs/findings.md at the project's public home, for this version (harness/CMakeLists.txt).
inline constexpr const char* kDefaultDocsUrl = GILWATCH_DEFAULT_DOCS_URL;

// Exit statuses of gilwatch itself; `run` otherwise passes the command's status through.
inline constexpr int kExitUsage = 2;             // bad usage, missing library, unreadable results
inline constexpr int kExitCannotExecute = 126;   // CMD exists but could not be executed
inline constexpr int kExitCommandNotFound = 127; // CMD not found

// Each takes the arguments after the subcommand's name and returns the exit status.
int command_run(const std::vector<std::string>& args);
int command_report(const std::vector<std::string>& args);
int command_stress(const std::vector<std::string>& args);

}  // namespace gilwatch::harness
