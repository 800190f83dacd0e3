#include "sarif.h"

#include <fmt/format.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "describe.h"
#include "fixes.h"

namespace gilwatch::report {

namespace {

using Json = nlohmann::ordered_json;

// Percent-encodes what may not appear in a URI path (RFC 3986: unreserved, sub-delims,
// ':', '@' and '/' stay).
std::string uri_path(const std::string& path) {
  static const char* kKeep = "-._~!$&'()*+,;=:@/";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || std::strchr(kKeep, c))
      out += char(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string with_slash(std::string dir) {
  if (!dir.empty() && dir.back() != '/') dir += '/';
  return dir;
}

// "WaitForGil"-style names for rules: the kind in CamelCase.
std::string rule_name(const std::string& kind) {
  std::string out;
  bool upper = true;
  for (char c : kind) {
    if (c == '-') {
      upper = true;
      continue;
    }
    out += upper ? char(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

class LocationMaker {
 public:
  explicit LocationMaker(const SarifOptions& options) : root_(with_slash(options.source_root)) {}

  bool in_source_root(const NativeFrame& f) const {
    return !root_.empty() && f.file.compare(0, root_.size(), root_) == 0;
  }

  // A physical location for a frame with a file; null when it has none.
  Json physical(const NativeFrame& f) const {
    if (f.file.empty() || f.file[0] != '/') return nullptr;
    Json artifact;
    if (in_source_root(f)) {
      artifact = {{"uri", uri_path(f.file.substr(root_.size()))}, {"uriBaseId", "SRCROOT"}};
    } else {
      artifact = {{"uri", "file://" + uri_path(f.file)}};
    }
    Json location = {{"artifactLocation", artifact}};
    if (f.line > 0) location["region"] = {{"startLine", f.line}};
    return location;
  }

  Json location(const NativeFrame& f, const std::string& message) const {
    Json physical_location = physical(f);
    if (physical_location.is_null()) return nullptr;
    Json out = {{"physicalLocation", physical_location}};
    if (!message.empty()) out["message"] = {{"text", message}};
    return out;
  }

  // The frame to annotate for a stack: the innermost in the source root (the user's
  // code), else the innermost with a file.
  const NativeFrame* best_frame(const std::vector<NativeFrame>& frames) const {
    for (const NativeFrame& f : frames)
      if (in_source_root(f)) return &f;
    for (const NativeFrame& f : frames)
      if (!f.file.empty() && f.file[0] == '/') return &f;
    return nullptr;
  }

  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

std::string frame_text(const NativeFrame& f) {
  std::string text = f.function.empty() ? "??" : f.function;
  if (!f.module.empty()) text += " in " + base_name(f.module);
  return text;
}

Json thread_flow(const Thread& t, const LocationMaker& where) {
  Json locations = Json::array();
  for (const NativeFrame& f : t.native_frames) {
    Json location = where.location(f, frame_text(f));
    // Frames without a file (libc, stripped libraries) still say where the thread was.
    if (location.is_null()) location = {{"message", {{"text", frame_text(f)}}}};
    locations.push_back({{"location", location}});
  }
  for (const PythonFrame& p : t.python_frames) {
    Json location = {{"message", {{"text", p.function + " (Python)"}}}};
    if (!p.file.empty() && p.file[0] == '/') {
      NativeFrame as_file;
      as_file.file = p.file;
      as_file.line = p.line;
      location = where.location(as_file, p.function + " (Python)");
    }
    locations.push_back({{"location", location}});
  }
  if (locations.empty()) locations.push_back({{"location", {{"message", {{"text", "no stack was captured"}}}}}});
  std::string role = "thread " + std::to_string(t.tid) + (t.name.empty() ? "" : " '" + t.name + "'");
  if (!t.role.empty()) role += ": " + t.role;
  return {{"message", {{"text", role}}}, {"locations", locations}};
}

// What the kind means, then what to change for any finding of it.
std::string help_text(const std::string& kind) {
  KindInfo info = kind_info(kind);
  std::string text = info.meaning.empty() ? info.title : info.meaning;
  if (std::string fix = kind_fix(kind); !fix.empty()) text += " Fix: " + fix;
  return text;
}

Json result_json(const Report& report, const Finding& f, int rule_index, const LocationMaker& where) {
  std::string message = f.summary;
  if (std::string facts = finding_facts(f); !facts.empty()) message += " (" + facts + ")";
  if (std::string runs = runs_fact(report, f); !runs.empty()) message += "; " + runs;
  std::string fix = case_fix(f);
  if (fix.empty()) fix = kind_fix(f.kind);
  if (!fix.empty()) message += ". Fix: " + fix;
  if (std::string command = rerun_command(report, f); !command.empty())
    message += (fix.empty() ? ". " : " ") + std::string("To run it again: ") + command;
  Json result = {{"ruleId", f.kind},
                 {"ruleIndex", rule_index},
                 {"level", f.severity == "warning" ? "warning" : "error"},
                 {"message", {{"text", message}}}};
  // Primary locations: where each thread made its move (for an inversion, where each
  // edge's second lock was taken); related: where the locks were first taken.
  Json locations = Json::array(), related = Json::array();
  for (const Thread& t : f.threads)
    if (const NativeFrame* frame = where.best_frame(t.native_frames)) {
      std::string text = "thread " + std::to_string(t.tid) + (t.role.empty() ? "" : ": " + t.role);
      Json location = where.location(*frame, text);
      if (!location.is_null() && locations.size() < 8) locations.push_back(location);
    }
  int related_id = 1;
  for (const Lock& l : f.locks)
    if (const NativeFrame* frame = where.best_frame(l.first_site)) {
      Json location = where.location(*frame, describe_lock(l) + " first taken here");
      if (location.is_null()) continue;
      location["id"] = related_id++;
      related.push_back(location);
    }
  // Code scanning shows only results with a location. Without a native frame in a
  // file: the innermost Python frame, else the test it happened in (a pytest node id
  // names its file), else the stress suite that found it.
  if (locations.empty()) {
    NativeFrame fallback;
    for (const Thread& t : f.threads)
      for (const PythonFrame& p : t.python_frames)
        if (fallback.file.empty() && !p.file.empty() && p.file[0] == '/') fallback.file = p.file, fallback.line = p.line;
    std::string text = "where it was found";
    if (fallback.file.empty() && !f.contexts.empty()) {
      std::string test_file = f.contexts.front().substr(0, f.contexts.front().find("::"));
      fallback.file = test_file.empty() || test_file[0] == '/' ? test_file : with_slash(where.root()) + test_file;
      text = "in test " + f.contexts.front();
    }
    if (fallback.file.empty() && !f.runs.empty() && report.stress) {
      fallback.file = report.stress->suite;
      text = "found by stress scenario " + f.runs.front().scenario;
    }
    Json location = where.location(fallback, text);
    if (!location.is_null()) locations.push_back(location);
  }
  if (!locations.empty()) result["locations"] = locations;
  if (!related.empty()) result["relatedLocations"] = related;
  if (!f.threads.empty()) {
    Json flows = Json::array();
    for (const Thread& t : f.threads) flows.push_back(thread_flow(t, where));
    result["codeFlows"] = Json::array({{{"threadFlows", flows}}});
  }
  // The merge signature is stable across runs and machines (no addresses): code
  // scanning uses it to follow one finding from run to run.
  result["partialFingerprints"] = {{"gilwatchSignature/v2", fingerprint(f)}};
  Json properties = {{"occurrences", f.occurrences}, {"processes", f.count}, {"probable", f.probable}};
  if (!f.runs.empty()) {
    properties["seenInRuns"] = f.runs.size();
    properties["ofRuns"] = runs_of_scenarios_seen(report, f);
    properties["firstRun"] = f.runs.front().label();
    properties["firstRunSeed"] = std::to_string(f.runs.front().seed);
  }
  if (!f.contexts.empty()) properties["tests"] = f.contexts;
  result["properties"] = properties;
  return result;
}

}  // namespace

std::string render_sarif(const Report& report, const std::string& tool_version, const SarifOptions& options) {
  LocationMaker where(options);
  std::vector<std::string> kinds = known_kinds();
  for (const Finding& f : report.findings)
    if (std::find(kinds.begin(), kinds.end(), f.kind) == kinds.end()) kinds.push_back(f.kind);
  Json rules = Json::array();
  for (const std::string& kind : kinds) {
    KindInfo info = kind_info(kind);
    Json rule = {{"id", kind},
                 {"name", rule_name(kind)},
                 {"shortDescription", {{"text", info.title}}},
                 {"fullDescription", {{"text", info.meaning.empty() ? info.title : info.meaning}}},
                 {"defaultConfiguration", {{"level", info.severity == "warning" ? "warning" : "error"}}},
                 {"help", {{"text", help_text(kind)}}}};
    if (!options.findings_doc_url.empty()) rule["helpUri"] = options.findings_doc_url + "#" + kind;
    rules.push_back(rule);
  }
  Json results = Json::array();
  auto add_result = [&](const Finding& f, const char* baseline_state) {
    int index = int(std::find(kinds.begin(), kinds.end(), f.kind) - kinds.begin());
    Json result = result_json(report, f, index, where);
    // With a baseline, each result says whether it is new; suppressed ones carry why.
    if (!report.baseline_file.empty()) result["baselineState"] = baseline_state;
    if (f.suppressed_by)
      result["suppressions"] = Json::array(
          {{{"kind", "external"},
            {"justification", f.suppressed_by->rule + " (" + f.suppressed_by->file + ":" +
                                  std::to_string(f.suppressed_by->line) + ") matched " + f.suppressed_by->frame}}});
    results.push_back(std::move(result));
  };
  // In reading order, as the other outputs list them.
  for (const std::vector<Finding>* list : {&report.findings, &report.baselined, &report.suppressed}) {
    std::vector<Finding> sorted = *list;
    sort_for_reading(&sorted);
    for (const Finding& f : sorted) add_result(f, list == &report.baselined ? "unchanged" : "new");
  }
  Json invocation = {{"executionSuccessful", report.errors.empty()}};
  if (!report.command.empty()) {
    std::string line;
    for (const std::string& w : report.command) line += (line.empty() ? "" : " ") + shell_quote(w);
    invocation["commandLine"] = line;
  }
  if (report.exit_status) invocation["exitCode"] = *report.exit_status;
  if (!report.errors.empty()) {
    Json notifications = Json::array();
    for (const InputError& e : report.errors)
      notifications.push_back({{"level", "error"}, {"message", {{"text", e.file + ": " + e.message}}}});
    invocation["toolExecutionNotifications"] = notifications;
  }
  Json run = {{"tool",
               {{"driver",
                 {{"name", "gilwatch"},
                  {"version", tool_version},
                  {"semanticVersion", tool_version},
                  {"rules", rules}}}}},
              {"invocations", Json::array({invocation})},
              {"results", results},
              {"columnKind", "unicodeCodePoints"}};
  if (!where.root().empty())
    run["originalUriBaseIds"] = {{"SRCROOT", {{"uri", "file://" + uri_path(where.root())}}}};
  Json log = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
              {"version", "2.1.0"},
              {"runs", Json::array({run})}};
  return log.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace gilwatch::report
