#include "library_flags.h"

#include <map>

#include "gilwatch/options.h"

namespace gilwatch::harness {

namespace {

struct FlagSpec {
  const char* name = nullptr;
  const char* value_name = nullptr;
  const char* sets = nullptr;
  int lo = 0, hi = 0;
  bool show_default = false;
  const char* run_help = nullptr;
  const char* stress_help = nullptr;
};

struct Row {
  const char* key;
  const char* default_text;
  FlagSpec flags[2];  // a row with more flags does not compile: make this larger
};

#define GILWATCH_VALUE_FLAG(name, value_name, lo, hi, show_default, run_help, stress_help) \
  FlagSpec{name, value_name, nullptr, lo, hi, show_default, run_help, stress_help}
#define GILWATCH_SWITCH_FLAG(name, sets, run_help, stress_help) \
  FlagSpec{name, nullptr, sets, 0, 0, false, run_help, stress_help}
#define GILWATCH_OPTION(type, key, def, lo, hi, parse, help, ...) Row{#key, #def, {__VA_ARGS__}},
const Row kRows[] = {
#include "gilwatch/options.def"
};
#undef GILWATCH_VALUE_FLAG
#undef GILWATCH_SWITCH_FLAG

}  // namespace

const std::vector<LibraryFlag>& library_flags() {
  static const std::vector<LibraryFlag> flags = [] {
    std::vector<LibraryFlag> out;
    for (const Row& row : kRows)
      for (const FlagSpec& f : row.flags)
        if (f.name)
          out.push_back({row.key, f.name, f.value_name, f.sets, f.lo, f.hi, f.show_default, f.run_help,
                         f.stress_help, row.default_text});
    return out;
  }();
  return flags;
}

std::string library_flag_help(const LibraryFlag& flag, FlagCommand command) {
  const char* help = command == FlagCommand::Run ? flag.run_help : flag.stress_help;
  if (!help) return "";
  std::string sets = flag.sets ? std::string(flag.key) + "=" + flag.sets : std::string(flag.key);
  return std::string(help) + " (" + sets + ")";
}

void add_library_flags(CLI::App& app, FlagCommand command, LibraryFlags* flags) {
  std::map<std::string, CLI::Option*> added;  // by key: flags that set one key exclude each other
  for (const LibraryFlag& flag : library_flags()) {
    std::string help = library_flag_help(flag, command);
    if (help.empty()) continue;
    std::string key = flag.key;
    CLI::Option* option = nullptr;
    if (flag.value_name) {
      option = app.add_option_function<int>(
                      flag.name, [flags, key](const int& value) { flags->set(key, std::to_string(value)); }, help)
                   ->type_name(flag.value_name)
                   ->check(CLI::Range(flag.lo, flag.hi).description(""));
      if (flag.show_default && command == FlagCommand::Run) option->default_str(flag.default_text);
    } else {
      std::string sets = flag.sets;
      option = app.add_flag_callback(flag.name, [flags, key, sets] { flags->set(key, sets); }, help);
    }
    if (auto it = added.find(key); it != added.end())
      option->excludes(it->second);
    else
      added[key] = option;
  }
}

}  // namespace gilwatch::harness
