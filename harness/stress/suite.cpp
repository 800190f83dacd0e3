#include "suite.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>
#include <stdexcept>
#include <toml++/toml.h>

#include "text_file.h"

namespace gilwatch::harness {

using nlohmann::json;

const char* kind_name(ScenarioKind kind) {
  switch (kind) {
    case ScenarioKind::kHammer: return "hammer";
    case ScenarioKind::kTeardown: return "teardown";
    case ScenarioKind::kFinalization: return "finalization";
    case ScenarioKind::kSpeedup: return "speedup";
    case ScenarioKind::kScript: return "script";
  }
  return "?";
}

std::optional<std::string> process_environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (!value) return std::nullopt;
  return std::string(value);
}

bool is_callable_reference(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  auto dotted_identifiers = [](const std::string& part) {
    bool at_start = true;
    for (char c : part) {
      if (c == '.') {
        if (at_start) return false;
        at_start = true;
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
                 (!at_start && std::isdigit(static_cast<unsigned char>(c)))) {
        at_start = false;
      } else {
        return false;
      }
    }
    return !at_start;
  };
  return dotted_identifiers(text.substr(0, colon)) && dotted_identifiers(text.substr(colon + 1));
}

namespace {

// Every complaint carries the position of the value (or table) it is about.
struct SuiteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string position(const std::string& path, const toml::source_region& where) {
  std::ostringstream out;
  out << path;
  if (where.begin.line) out << ":" << where.begin.line << ":" << where.begin.column;
  return out.str();
}

// Reads one table, key by key, remembering which keys were used so that leftovers —
// typos — can be refused by name.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, std::string context, EnvironmentLookup lookup)
      : table_(table), path_(std::move(path)), context_(std::move(context)), lookup_(lookup) {}

  [[noreturn]] void fail_at(const toml::source_region& where, const std::string& what) const {
    throw SuiteError(position(path_, where) + ": " + context_ + what);
  }
  [[noreturn]] void fail_key(const char* key, const std::string& what) const {
    const toml::node* node = table_.get(key);
    fail_at(node ? node->source() : table_.source(), "key '" + std::string(key) + "': " + what);
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(table_.source(), what); }

  bool has(const char* key) const { return table_.get(key) != nullptr; }

  const toml::node* get(const char* key) {
    used_.insert(key);
    return table_.get(key);
  }

  std::optional<std::string> string(const char* key, bool expand) {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    auto value = node->value<std::string>();
    if (!node->is_string() || !value) fail_key(key, std::string("expected a string, found ") + type_of(*node));
    return expand ? expand_variables(*value, key) : *value;
  }

  std::string required_string(const char* key, bool expand) {
    auto value = string(key, expand);
    if (!value) fail("missing required key '" + std::string(key) + "'");
    if (value->empty()) fail_key(key, "must not be empty");
    return *value;
  }

  std::optional<std::string> callable(const char* key) {
    auto value = string(key, false);
    if (value && !is_callable_reference(*value))
      fail_key(key, "'" + *value + "' is not a callable reference of the form module:function");
    return value;
  }

  std::string required_callable(const char* key) {
    if (!has(key)) fail("missing required key '" + std::string(key) + "'");
    return *callable(key);
  }

  std::optional<int64_t> integer(const char* key, int64_t low, int64_t high) {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    if (!node->is_integer()) fail_key(key, std::string("expected an integer, found ") + type_of(*node));
    int64_t value = *node->value<int64_t>();
    if (value < low || value > high)
      fail_key(key, std::to_string(value) + " is out of range " + std::to_string(low) + ".." + std::to_string(high));
    return value;
  }

  // A number of seconds or a ratio: integers are accepted where floats are expected.
  std::optional<double> number(const char* key, double low_exclusive, double high) {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    if (!node->is_number()) fail_key(key, std::string("expected a number, found ") + type_of(*node));
    double value = node->is_integer() ? double(*node->value<int64_t>()) : *node->value<double>();
    if (!std::isfinite(value) || value <= low_exclusive || value > high) {
      std::ostringstream range;
      range << "must be greater than " << low_exclusive << " and at most " << high;
      fail_key(key, range.str());
    }
    return value;
  }

  std::optional<bool> boolean(const char* key) {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    if (!node->is_boolean()) fail_key(key, std::string("expected true or false, found ") + type_of(*node));
    return *node->value<bool>();
  }

  std::optional<std::vector<std::string>> strings(const char* key, bool expand) {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    const toml::array* array = node->as_array();
    if (!array) fail_key(key, std::string("expected an array of strings, found ") + type_of(*node));
    std::vector<std::string> out;
    for (const toml::node& element : *array) {
      auto value = element.value<std::string>();
      if (!element.is_string() || !value)
        fail_at(element.source(), "key '" + std::string(key) + "': expected strings only, found " + type_of(element));
      out.push_back(expand ? expand_variables(*value, key) : *value);
    }
    return out;
  }

  std::optional<std::vector<int64_t>> integers(const char* key, int64_t low, int64_t high) {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    const toml::array* array = node->as_array();
    if (!array) fail_key(key, std::string("expected an array of integers, found ") + type_of(*node));
    std::vector<int64_t> out;
    for (const toml::node& element : *array) {
      if (!element.is_integer())
        fail_at(element.source(), "key '" + std::string(key) + "': expected integers only, found " + type_of(element));
      int64_t value = *element.value<int64_t>();
      if (value < low || value > high)
        fail_at(element.source(), "key '" + std::string(key) + "': " + std::to_string(value) + " is out of range " +
                                      std::to_string(low) + ".." + std::to_string(high));
      out.push_back(value);
    }
    return out;
  }

  std::vector<std::pair<std::string, std::string>> environment(const char* key) {
    const toml::node* node = get(key);
    std::vector<std::pair<std::string, std::string>> out;
    if (!node) return out;
    const toml::table* table = node->as_table();
    if (!table) fail_key(key, std::string("expected a table of strings, found ") + type_of(*node));
    for (const auto& [name, value] : *table) {
      std::string variable(name.str());
      auto text = value.value<std::string>();
      if (!value.is_string() || !text)
        fail_at(value.source(), "key '" + std::string(key) + "." + variable + "': expected a string, found " +
                                    type_of(value));
      if (variable.empty() || variable.find('=') != std::string::npos)
        fail_at(value.source(), "key '" + std::string(key) + "': '" + variable + "' is not a variable name");
      out.emplace_back(variable, expand_variables(*text, (std::string(key) + "." + variable).c_str()));
    }
    return out;
  }

  // Refuses keys nobody asked for: typos, or keys of another kind.
  void refuse_unknown_keys(const std::vector<std::string>& also_allowed = {}) const {
    for (const auto& [key, value] : table_) {
      std::string name(key.str());
      if (used_.count(name) || std::find(also_allowed.begin(), also_allowed.end(), name) != also_allowed.end())
        continue;
      std::string known;
      for (const std::string& k : used_) known += (known.empty() ? "" : ", ") + k;
      fail_at(value.source(), "unknown key '" + name + "' (known here: " + known + ")");
    }
  }

  // Marks keys as known without reading them (read elsewhere).
  void know(std::initializer_list<const char*> keys) {
    for (const char* k : keys) used_.insert(k);
  }

 private:
  static const char* type_of(const toml::node& node) {
    switch (node.type()) {
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a float";
      case toml::node_type::boolean: return "a boolean";
      case toml::node_type::array: return "an array";
      case toml::node_type::table: return "a table";
      default: return "a date or time";
    }
  }

  // ${NAME} from the environment of gilwatch itself; $$ is a literal '$'.
  std::string expand_variables(const std::string& text, const char* key) const {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '$') {
        out += text[i];
        continue;
      }
      if (i + 1 < text.size() && text[i + 1] == '$') {
        out += '$';
        ++i;
        continue;
      }
      std::size_t close = text.find('}', i);
      if (i + 1 >= text.size() || text[i + 1] != '{' || close == std::string::npos)
        fail_key(key, "a '$' must start ${NAME} (write $$ for a literal '$')");
      std::string name = text.substr(i + 2, close - i - 2);
      std::optional<std::string> value = lookup_(name);
      if (!value) fail_key(key, "${" + name + "} is not set in the environment");
      out += *value;
      i = close;
    }
    return out;
  }

  const toml::table& table_;
  std::string path_;
  std::string context_;
  EnvironmentLookup lookup_;
  std::set<std::string> used_;
};

bool valid_scenario_name(const std::string& name) {
  if (name.empty() || name.size() > 100 || name[0] == '.' || name[0] == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

void read_kind_parameters(TableReader& r, Scenario& s) {
  json& p = s.params;
  switch (s.kind) {
    case ScenarioKind::kHammer: {
      auto callables = r.strings("callables", false);
      if (!callables) r.fail("missing required key 'callables' (an array of \"module:function\")");
      if (callables->empty()) r.fail_key("callables", "name at least one callable");
      for (const std::string& c : *callables)
        if (!is_callable_reference(c))
          r.fail_key("callables", "'" + c + "' is not a callable reference of the form module:function");
      p["callables"] = *callables;
      p["threads"] = r.integer("threads", 1, 256).value_or(4);
      auto duration = r.number("duration", 0, 3600);
      auto iterations = r.integer("iterations", 1, int64_t(1) << 40);
      if (duration && iterations) r.fail_key("iterations", "give 'duration' or 'iterations', not both");
      if (iterations)
        p["iterations"] = *iterations;
      else
        p["duration"] = duration.value_or(2.0);
      if (auto setup = r.callable("setup")) p["setup"] = *setup;
      break;
    }
    case ScenarioKind::kTeardown: {
      p["factory"] = r.required_callable("factory");
      if (auto use = r.callable("use")) p["use"] = *use;
      p["cycles"] = r.integer("cycles", 1, 1000000).value_or(10);
      p["warmup"] = r.integer("warmup", 0, 1000).value_or(0);
      p["max_teardown_ms"] = r.integer("max_teardown_ms", 1, 3600000).value_or(5000);
      p["settle_ms"] = r.integer("settle_ms", 0, 60000).value_or(200);
      break;
    }
    case ScenarioKind::kFinalization: {
      p["start"] = r.required_callable("start");
      auto use = r.callable("use");
      auto abandon = r.callable("abandon");
      if (use) p["use"] = *use;
      if (abandon) p["abandon"] = *abandon;
      p["threads"] = r.integer("threads", 1, 64).value_or(2);
      auto ways = r.strings("ways", false);
      if (ways) {
        if (ways->empty()) r.fail_key("ways", "name at least one way");
        std::set<std::string> seen;
        for (const std::string& w : *ways) {
          const auto& known = finalization_ways();
          if (std::find(known.begin(), known.end(), w) == known.end()) {
            std::string list;
            for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
            r.fail_key("ways", "unknown way '" + w + "' (known: " + list + ")");
          }
          if (!seen.insert(w).second) r.fail_key("ways", "'" + w + "' is listed twice");
        }
        if (seen.count("abandoned-callback") && !abandon)
          r.fail_key("ways", "'abandoned-callback' needs the 'abandon' callable");
        s.variants = *ways;
      } else {
        for (const std::string& w : finalization_ways())
          if (w != "abandoned-callback" || abandon) s.variants.push_back(w);
      }
      break;
    }
    case ScenarioKind::kSpeedup: {
      p["callable"] = r.required_callable("callable");
      auto threads = r.integers("threads", 1, 256).value_or(std::vector<int64_t>{1, 2});
      std::sort(threads.begin(), threads.end());
      threads.erase(std::unique(threads.begin(), threads.end()), threads.end());
      if (threads.empty() || threads.front() != 1 || threads.size() < 2)
        r.fail_key("threads", "list 1 and at least one larger thread count");
      int64_t at = r.integer("at_threads", 2, 256).value_or(2);
      if (std::find(threads.begin(), threads.end(), at) == threads.end())
        r.fail_key("at_threads", std::to_string(at) + " is not one of 'threads'");
      p["threads"] = threads;
      p["at_threads"] = at;
      p["min_speedup"] = r.number("min_speedup", 0, 1024).value_or(1.8);
      p["duration"] = r.number("duration", 0, 600).value_or(1.0);
      p["repeats"] = r.integer("repeats", 1, 100).value_or(3);
      break;
    }
    case ScenarioKind::kScript: {
      p["script"] = r.required_string("script", true);
      p["args"] = r.strings("args", true).value_or(std::vector<std::string>{});
      p["expect_status"] = r.integer("expect_status", 0, 255).value_or(0);
      break;
    }
  }
  if (s.variants.empty()) s.variants.push_back("");
}

Scenario read_scenario(const toml::table& table, const std::string& path, std::size_t index,
                       EnvironmentLookup lookup) {
  // Name first, so every later message can say which scenario it is about.
  std::string context = "scenario #" + std::to_string(index + 1) + ": ";
  if (auto n = table.get("name"); n && n->is_string()) context = "scenario '" + *n->value<std::string>() + "': ";
  TableReader r(table, path, context, lookup);
  Scenario s;
  s.where = position(path, table.source());
  s.name = r.required_string("name", false);
  if (!valid_scenario_name(s.name))
    r.fail_key("name", "'" + s.name + "' is not a valid name (letters, digits, '-', '_', '.'; used for directories)");
  std::string kind = r.required_string("kind", false);
  static const ScenarioKind kinds[] = {ScenarioKind::kHammer, ScenarioKind::kTeardown, ScenarioKind::kFinalization,
                                       ScenarioKind::kSpeedup, ScenarioKind::kScript};
  bool found = false;
  for (ScenarioKind k : kinds)
    if (kind == kind_name(k)) {
      s.kind = k;
      found = true;
    }
  if (!found) r.fail_key("kind", "unknown kind '" + kind + "' (known: hammer, teardown, finalization, speedup, script)");
  s.runs = int(r.integer("runs", 1, 1000000).value_or(1));
  s.timeout_s = r.number("timeout", 0, 86400).value_or(60);
  s.env = r.environment("env");
  if (auto seed = r.integer("seed", 0, INT64_MAX)) s.seed = uint64_t(*seed);
  s.python = r.string("python", true).value_or("");
  s.perturb = r.boolean("perturb").value_or(false);
  r.string("description", false);
  read_kind_parameters(r, s);
  r.refuse_unknown_keys();
  return s;
}

}  // namespace

bool parse_suite(const std::string& text, const std::string& path, Suite* out, std::string* error,
                 EnvironmentLookup lookup) {
  try {
    toml::table root;
    try {
      root = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
      throw SuiteError(position(path, e.source()) + ": " + std::string(e.description()));
    }
    Suite suite;
    suite.path = path;
    TableReader top(root, path, "", lookup);
    suite.python = top.string("python", true).value_or("");
    if (auto seed = top.integer("seed", 0, INT64_MAX)) suite.seed = uint64_t(*seed);
    top.string("description", false);
    const toml::node* scenarios = top.get("scenario");
    if (!scenarios) throw SuiteError(path + ": no [[scenario]] tables: a suite lists at least one scenario");
    const toml::array* list = scenarios->as_array();
    if (!list || !list->is_array_of_tables())
      top.fail_key("scenario", "write each scenario as a [[scenario]] table");
    top.refuse_unknown_keys();
    std::set<std::string> names;
    for (std::size_t i = 0; i < list->size(); ++i) {
      const toml::table& table = *list->get(i)->as_table();
      Scenario s = read_scenario(table, path, i, lookup);
      if (!names.insert(s.name).second)
        throw SuiteError(s.where + ": scenario '" + s.name + "': the name is used by an earlier scenario");
      suite.scenarios.push_back(std::move(s));
    }
    *out = std::move(suite);
    return true;
  } catch (const SuiteError& e) {
    *error = e.what();
    return false;
  }
}

bool load_suite(const std::string& path, Suite* out, std::string* error, EnvironmentLookup lookup) {
  std::string text, reason;
  if (!read_text_file(path, &text, &reason)) {
    *error = path + ": cannot read the suite: " + reason;
    return false;
  }
  return parse_suite(text, path, out, error, lookup);
}

}  // namespace gilwatch::harness
