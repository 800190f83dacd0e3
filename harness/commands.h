// The `gilwatch` subcommands. main.cpp holds the table that dispatches to them.
#pragma once

#include <string>
#include <vector>

namespace gilwatch::harness {

inline constexpr const char* kVersion = "0.1.0";

// Exit statuses of the command itself (the run's own status is passed through).
inline constexpr int kExitUsage = 2;
inline constexpr int kExitCommandNotFound = 127;

int command_run(const std::vector<std::string>& args);
int command_report(const std::vector<std::string>& args);

}  // namespace gilwatch::harness
