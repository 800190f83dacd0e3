#include "findings_json.h"

#include <fmt/format.h>

namespace gilwatch::report {

std::string describe_lock(const Lock& lock) {
  if (lock.kind == "gil") return "the GIL";
  return fmt::format("{} {:#x}", lock.kind, lock.address);
}

namespace {

nlohmann::json frames_json(const std::vector<NativeFrame>& frames) {
  nlohmann::json out = nlohmann::json::array();
  for (const NativeFrame& f : frames) {
    out.push_back({{"pc", fmt::format("{:#x}", f.pc)},
                   {"module", f.module},
                   {"offset", fmt::format("{:#x}", f.offset)},
                   {"function", f.function},
                   {"file", f.file},
                   {"line", f.line}});
  }
  return out;
}

}  // namespace

nlohmann::json to_findings_json(const Report& report, const std::string& tool_version) {
  nlohmann::json j;
  j["format"] = "gilwatch-findings";
  j["version"] = 1;
  j["tool"] = {{"name", "gilwatch"}, {"version", tool_version}};
  if (!report.command.empty()) j["command"] = report.command;
  if (!report.inputs.empty()) j["inputs"] = report.inputs;
  j["exit_status"] = report.has_exit_status ? nlohmann::json(report.exit_status) : nlohmann::json();
  j["date"] = report.date;
  nlohmann::json processes = nlohmann::json::array();
  for (const Process& p : report.processes) {
    nlohmann::json pj = {{"pid", p.pid},        {"ppid", p.ppid},   {"argv", p.argv},
                         {"exe", p.exe},        {"state", p.state}, {"results_file", p.results_file},
                         {"python", p.python_version}};
    pj["exit_status"] = p.has_exit_status ? nlohmann::json(p.exit_status) : nlohmann::json();
    processes.push_back(std::move(pj));
  }
  j["processes"] = std::move(processes);
  nlohmann::json findings = nlohmann::json::array();
  for (const Finding& f : report.findings) {
    nlohmann::json fj = {{"kind", f.kind},         {"summary", f.summary}, {"severity", f.severity},
                         {"count", f.count},       {"pids", f.pids}};
    nlohmann::json locks = nlohmann::json::array();
    for (const Lock& l : f.locks)
      locks.push_back({{"id", l.id},
                       {"name", l.name},
                       {"kind", l.kind},
                       {"address", fmt::format("{:#x}", l.address)},
                       {"first_site", frames_json(l.first_site)}});
    fj["locks"] = std::move(locks);
    nlohmann::json threads = nlohmann::json::array();
    for (const Thread& t : f.threads) {
      nlohmann::json python = nlohmann::json::array();
      for (const PythonFrame& p : t.python_frames)
        python.push_back({{"function", p.function}, {"file", p.file}, {"line", p.line}});
      threads.push_back({{"tid", t.tid},
                         {"name", t.name},
                         {"role", t.role},
                         {"native_frames", frames_json(t.native_frames)},
                         {"python_frames", std::move(python)}});
    }
    fj["threads"] = std::move(threads);
    nlohmann::json edges = nlohmann::json::array();
    for (const Edge& e : f.edges)
      edges.push_back({{"from", e.from},
                       {"to", e.to},
                       {"held_mode", e.held_mode},
                       {"acquired_mode", e.acquired_mode},
                       {"thread_index", e.thread_index}});
    fj["edges"] = std::move(edges);
    findings.push_back(std::move(fj));
  }
  j["findings"] = std::move(findings);
  nlohmann::json errors = nlohmann::json::array();
  for (const InputError& e : report.errors) errors.push_back({{"file", e.file}, {"message", e.message}});
  j["errors"] = std::move(errors);
  return j;
}

}  // namespace gilwatch::report
