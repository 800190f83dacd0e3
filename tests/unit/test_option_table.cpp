// The option table (gilwatch/options.def) against everything made from it: every row
// parses, every flag of `run` and `stress` round-trips through the composed
// GILWATCH_OPTIONS into the library's parser, and every key and flag shows in --help.
#include <catch2/catch.hpp>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "gilwatch/options.h"
#include "library_flags.h"
#include "run_environment.h"

using namespace gilwatch;
using namespace gilwatch::harness;

namespace {

// The member of `row` in `o`, as the text a key takes ("1" for true).
std::string member_text(const Options& o, const OptionInfo& row) {
  const char* member = reinterpret_cast<const char*>(&o) + row.offset;
  switch (row.type) {
    case OptionType::Int: return std::to_string(*reinterpret_cast<const int*>(member));
    case OptionType::U64: return std::to_string(*reinterpret_cast<const unsigned long long*>(member));
    case OptionType::Bool: return *reinterpret_cast<const bool*>(member) ? "1" : "0";
    case OptionType::Path: return member;
  }
  return "";
}

// Values every row accepts: an int's bounds (a signal that can serve for hang_signal).
std::vector<std::string> good_values(const OptionInfo& row) {
  switch (row.type) {
    case OptionType::Int:
      if (row.parse) return {"0", "10"};
      return {std::to_string(row.lo), std::to_string(row.hi)};
    case OptionType::U64: return {"0", "18446744073709551615"};
    case OptionType::Bool: return {"0", "1"};
    case OptionType::Path: return {"/tmp/gilwatch option table"};
  }
  return {};
}

std::vector<std::string> bad_values(const OptionInfo& row) {
  switch (row.type) {
    case OptionType::Int:
      return {std::to_string(row.lo - 1), std::to_string(row.hi + 1), "x"};
    case OptionType::U64: return {"-1", "x"};
    case OptionType::Bool: return {"2", "maybe"};
    case OptionType::Path: return {"/" + std::string(1100, 'x')};
  }
  return {};
}

// Parses `args` as `command`'s library flags; returns the options the library would get.
Options options_from_flags(FlagCommand command, const std::vector<std::string>& args) {
  CLI::App app{"test"};
  LibraryFlags flags;
  add_library_flags(app, command, &flags);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  app.parse(reversed);
  flags.out_dir = "/tmp/out";
  std::string text = compose_options(nullptr, flags);
  Options o;
  char error[256];
  INFO(text);
  REQUIRE(parse_options(text.c_str(), &o, error, sizeof(error)));
  return o;
}

std::string help_of(FlagCommand command) {
  CLI::App app{"test"};
  LibraryFlags flags;
  add_library_flags(app, command, &flags);
  return app.help();
}

}  // namespace

TEST_CASE("every row of the option table parses its values and refuses others", "[option_table]") {
  for (const OptionInfo& row : kOptionTable) {
    for (const std::string& value : good_values(row)) {
      Options o;
      char error[256];
      std::string text = std::string(row.key) + "=" + value;
      INFO(text);
      CHECK(parse_options(text.c_str(), &o, error, sizeof(error)));
      CHECK(member_text(o, row) == value);
    }
    for (const std::string& value : bad_values(row)) {
      Options o;
      char error[256];
      std::string text = std::string(row.key) + "=" + value;
      INFO(text);
      CHECK_FALSE(parse_options(text.c_str(), &o, error, sizeof(error)));
      CHECK(std::string(error).find(row.key) != std::string::npos);
    }
  }
}

TEST_CASE("each member of Options starts at its row's default", "[option_table]") {
  Options o;
  for (const OptionInfo& row : kOptionTable) {
    INFO(row.key);
    std::string def = row.default_text;
    if (row.type == OptionType::Bool) def = def == "true" ? "1" : "0";
    if (row.type == OptionType::Path) def = "";
    CHECK(member_text(o, row) == def);
  }
}

TEST_CASE("keys are unique and the table and the parser agree on them", "[option_table]") {
  for (std::size_t i = 0; i < kOptionCount; ++i) {
    CHECK(find_option(kOptionTable[i].key) == &kOptionTable[i]);
    for (std::size_t j = i + 1; j < kOptionCount; ++j) CHECK(std::strcmp(kOptionTable[i].key, kOptionTable[j].key));
  }
  CHECK(find_option("colour") == nullptr);
}

TEST_CASE("every flag of run and stress sets its key in the library's options", "[option_table]") {
  for (FlagCommand command : {FlagCommand::Run, FlagCommand::Stress}) {
    for (const LibraryFlag& flag : library_flags()) {
      if (library_flag_help(flag, command).empty()) continue;
      const OptionInfo& row = *find_option(flag.key);
      INFO((command == FlagCommand::Run ? "run " : "stress ") << flag.name);
      if (flag.value_name) {
        for (int value : {flag.lo, flag.hi}) {
          Options o = options_from_flags(command, {flag.name, std::to_string(value)});
          CHECK(member_text(o, row) == std::to_string(value));
        }
        // The flag's range is checked by the command, before anything runs.
        CHECK_THROWS_AS(options_from_flags(command, {flag.name, std::to_string(flag.lo - 1)}), CLI::ParseError);
        CHECK_THROWS_AS(options_from_flags(command, {flag.name, std::to_string(flag.hi + 1)}), CLI::ParseError);
      } else {
        Options o = options_from_flags(command, {flag.name});
        CHECK(member_text(o, row) == flag.sets);
        CHECK(member_text(Options{}, row) != flag.sets);  // a switch changes something
      }
    }
  }
}

TEST_CASE("a flag not given leaves its key to the user's options", "[option_table]") {
  Options defaults;
  for (FlagCommand command : {FlagCommand::Run, FlagCommand::Stress}) {
    Options o = options_from_flags(command, {});
    for (const OptionInfo& row : kOptionTable)
      if (std::strcmp(row.key, "out_dir") && std::strcmp(row.key, "report_stderr")) {
        INFO(row.key);
        CHECK(member_text(o, row) == member_text(defaults, row));
      }
  }
}

TEST_CASE("two flags that set one key cannot both be given", "[option_table]") {
  CHECK_THROWS_AS(options_from_flags(FlagCommand::Run, {"--keep-deadlocked", "--deadlock-exitcode", "3"}),
                  CLI::ParseError);
  CHECK(options_from_flags(FlagCommand::Run, {"--keep-deadlocked"}).deadlock_exitcode == 0);
  CHECK(options_from_flags(FlagCommand::Run, {"--deadlock-exitcode", "3"}).deadlock_exitcode == 3);
}

TEST_CASE("stress has only the flags whose rows name them for stress", "[option_table]") {
  CHECK_THROWS_AS(options_from_flags(FlagCommand::Stress, {"--stack-depth", "8"}), CLI::ParseError);
  CHECK(options_from_flags(FlagCommand::Stress, {"--gil-blocking-ms", "5"}).gil_blocking_ms == 5);
}

TEST_CASE("every flag shows in its subcommand's help with the key it sets", "[option_table]") {
  for (FlagCommand command : {FlagCommand::Run, FlagCommand::Stress}) {
    std::string help = help_of(command);
    for (const LibraryFlag& flag : library_flags()) {
      std::string text = library_flag_help(flag, command);
      INFO(flag.name << ": " << text);
      if (text.empty()) {
        CHECK(help.find(std::string(flag.name) + " ") == std::string::npos);
        continue;
      }
      CHECK(help.find(flag.name) != std::string::npos);
      CHECK(help.find(text) != std::string::npos);
      CHECK(text.find(std::string("(") + flag.key) != std::string::npos);
      if (flag.show_default && command == FlagCommand::Run)
        CHECK(help.find(std::string(flag.name) + " " + flag.value_name + "=" + flag.default_text) !=
              std::string::npos);
    }
  }
}

TEST_CASE("gilwatch --help lists every key with its kind and help", "[option_table]") {
  std::ostringstream out;
  print_help(out);
  for (const OptionInfo& row : kOptionTable) {
    INFO(row.key);
    std::string help = out.str();
    auto at = help.find(std::string("  ") + row.key + " ");
    REQUIRE(at != std::string::npos);
    std::string line = help.substr(at, help.find('\n', at) - at);
    CHECK(line.find(row.kind) != std::string::npos);
    CHECK(line.find(row.help) != std::string::npos);
  }
}
