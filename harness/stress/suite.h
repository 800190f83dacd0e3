// suite: the scenario suites `gilwatch stress` runs, read from TOML (toml++).
//
// A suite is a list of [[scenario]] tables. Each names the user's Python callables as
// "module:function" and the scenario kind's parameters; docs/stress.md describes every
// key. Reading validates everything up front — unknown keys, wrong types, values out of
// range, missing required keys — and refuses the whole file with a message that names
// the file, the line and the key, so a typo never turns into a silently skipped check.
//
// The kind-specific parameters are kept as JSON: the harness hands them unchanged to the
// scenario driver (pyhooks/gilwatch/driver.py) that runs inside each subprocess.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gilwatch::harness {

enum class ScenarioKind { kHammer, kTeardown, kFinalization, kSpeedup, kScript };

const char* kind_name(ScenarioKind kind);

// The ways a `finalization` scenario ends the interpreter; each is its own variant.
inline const std::vector<std::string>& finalization_ways() {
  static const std::vector<std::string> ways = {"normal",         "sys-exit",       "exception",
                                                "sigint",         "daemon-threads", "abandoned-callback"};
  return ways;
}

struct Scenario {
  std::string name;
  ScenarioKind kind = ScenarioKind::kScript;
  std::string where;  // "suite.toml:12", for messages about this scenario
  int runs = 1;
  double timeout_s = 60;
  std::vector<std::pair<std::string, std::string>> env;  // after ${VAR} expansion
  std::optional<uint64_t> seed;
  std::string python;  // interpreter; empty: the suite's, else --python, else python3
  bool perturb = false;
  // Variants run separately, `runs` times each: the finalization ways; {""} otherwise.
  std::vector<std::string> variants;
  // The kind's own parameters, for the driver (keys as in the suite, defaults filled in).
  nlohmann::json params = nlohmann::json::object();
  // Runs that measure time (speedup) run alone, never beside other runs.
  bool exclusive() const { return kind == ScenarioKind::kSpeedup; }
};

struct Suite {
  std::string path;
  std::string python;           // top-level `python`, may be empty
  std::optional<uint64_t> seed; // top-level `seed`
  std::vector<Scenario> scenarios;
};

// Looks up ${NAME} in the environment of `gilwatch stress`.
using EnvironmentLookup = std::optional<std::string> (*)(const std::string& name);
std::optional<std::string> process_environment(const std::string& name);

// Reads and validates a suite. On failure returns false with `error` set to one line:
// "FILE:LINE:COLUMN: ..." (or "FILE: ..." when the file cannot be read).
bool load_suite(const std::string& path, Suite* out, std::string* error,
                EnvironmentLookup lookup = process_environment);

// The same, from text (`path` names it in messages).
bool parse_suite(const std::string& text, const std::string& path, Suite* out, std::string* error,
                 EnvironmentLookup lookup = process_environment);

// "module:function" or "module.sub:Class.method": a module path, a colon, an attribute path.
bool is_callable_reference(const std::string& text);

}  // namespace gilwatch::harness
