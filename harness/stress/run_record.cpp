#include "run_record.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace gilwatch::harness {

namespace fs = std::filesystem;
using nlohmann::json;

std::string render_run_record(const RunRecord& r) {
  json j = {
      {"format", kRunRecordFormat},
      {"version", kRunRecordVersion},
      {"scenario", r.run.scenario},
      {"variant", r.run.variant},
      {"index", r.run.index},
      // A string: seeds use all 64 bits, more than a JSON number carries exactly.
      {"seed", std::to_string(r.run.seed)},
      {"kind", r.kind},
      {"argv", r.argv},
      {"outcome", r.outcome},
      {"reason", r.reason},
      {"timed_out", r.timed_out},
      {"duration_ms", r.duration_ms},
      {"pid", r.pid},
  };
  j["exit_status"] = r.exit_status ? json(*r.exit_status) : json(nullptr);
  j["signal"] = r.signal ? json(*r.signal) : json(nullptr);
  return j.dump(2) + "\n";
}

bool parse_run_record(const std::string& text, RunRecord* out, std::string* error) {
  try {
    json j = json::parse(text);
    if (!j.is_object() || j.value("format", "") != kRunRecordFormat) {
      *error = "not a gilwatch run record (format is not \"gilwatch-run\")";
      return false;
    }
    if (j.value("version", 0) != kRunRecordVersion) {
      *error = "run record version " + j.value("version", json(nullptr)).dump() + " is not supported (expected " +
               std::to_string(kRunRecordVersion) + ")";
      return false;
    }
    RunRecord r;
    r.run.scenario = j.at("scenario").get<std::string>();
    r.run.variant = j.value("variant", "");
    r.run.index = j.at("index").get<int>();
    r.run.seed = std::stoull(j.at("seed").get<std::string>());
    r.kind = j.value("kind", "");
    r.argv = j.value("argv", std::vector<std::string>{});
    r.outcome = j.at("outcome").get<std::string>();
    r.reason = j.value("reason", "");
    r.timed_out = j.value("timed_out", false);
    r.duration_ms = j.value("duration_ms", int64_t(0));
    r.pid = j.value("pid", int64_t(0));
    if (j.contains("exit_status") && !j["exit_status"].is_null()) r.exit_status = j["exit_status"].get<int>();
    if (j.contains("signal") && !j["signal"].is_null()) r.signal = j["signal"].get<int>();
    *out = std::move(r);
    return true;
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

bool read_stress_record(const std::string& stress_dir, StressRecord* out, std::string* error) {
  std::string path = (fs::path(stress_dir) / "stress.json").string();
  std::string text;
  if (!read_text_file(path, &text, error)) return false;
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("format", "") != kStressRecordFormat) {
    *error = path + ": not a gilwatch stress record";
    return false;
  }
  try {
    StressRecord r;
    r.interrupted = j.value("interrupted", false);
    r.invocation.suite = j.value("suite", "");
    r.invocation.seed = j.value("seed", "0");
    r.invocation.working_directory = j.value("working_directory", "");
    r.invocation.python = j.value("python", "");
    r.invocation.perturb = j.value("perturb", false);
    *out = std::move(r);
    return true;
  } catch (const std::exception& e) {
    *error = path + ": " + e.what();
    return false;
  }
}

void read_measurements(const std::string& run_dir, report::Measurements* out) {
  std::string text, error;
  *out = {};
  if (!read_text_file((fs::path(run_dir) / "result.json").string(), &text, &error)) return;
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return;
  report::Measurements m;
  try {
    if (j.contains("baseline") && j["baseline"].is_object()) {
      m.baseline_threads = j["baseline"].value("threads", 0);
      m.baseline_fds = j["baseline"].value("fds", 0);
    }
    if (j.contains("cycles") && j["cycles"].is_array())
      for (const json& c : j["cycles"])
        m.cycles.push_back({c.value("cycle", 0), c.value("threads", 0), c.value("fds", 0),
                            c.value("teardown_ms", 0.0)});
    if (j.contains("throughput") && j["throughput"].is_object()) {
      for (const auto& [threads, value] : j["throughput"].items())
        m.throughput.emplace_back(std::stoi(threads), value.get<double>());
      std::sort(m.throughput.begin(), m.throughput.end());
      m.min_speedup = j.value("min_speedup", 0.0);
      m.at_threads = j.value("at_threads", 0);
    }
  } catch (const std::exception&) {
    return;  // a driver older or newer than this reader: no charts for this run
  }
  *out = std::move(m);
}

bool is_stress_directory(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(fs::path(dir) / "runs", ec);
}

std::vector<std::string> list_run_directories(const std::string& stress_dir) {
  std::vector<std::pair<std::pair<std::string, long>, std::string>> found;
  std::error_code ec;
  for (const auto& label : fs::directory_iterator(fs::path(stress_dir) / "runs", ec)) {
    if (!label.is_directory(ec)) continue;
    for (const auto& run : fs::directory_iterator(label.path(), ec)) {
      std::string index = run.path().filename().string();
      if (!run.is_directory(ec) || index.empty() || !std::all_of(index.begin(), index.end(), ::isdigit) ||
          !fs::exists(run.path() / "run.json", ec))
        continue;
      found.push_back({{label.path().filename().string(), std::stol(index)}, run.path().string()});
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [key, path] : found) out.push_back(std::move(path));
  return out;
}

}  // namespace gilwatch::harness
