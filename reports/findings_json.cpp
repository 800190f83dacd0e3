#include "findings_json.h"

#include <algorithm>

#include "describe.h"

namespace gilwatch::report {

namespace {

using Json = nlohmann::ordered_json;

Json native_frames_json(const std::vector<NativeFrame>& frames) {
  Json out = Json::array();
  for (const NativeFrame& f : frames)
    out.push_back(Json{{"pc", hex(f.pc)},
                       {"module", f.module},
                       {"offset", hex(f.offset)},
                       {"function", f.function},
                       {"file", f.file},
                       {"line", f.line}});
  return out;
}

Json python_frames_json(const std::vector<PythonFrame>& frames) {
  Json out = Json::array();
  for (const PythonFrame& p : frames) out.push_back(Json{{"function", p.function}, {"file", p.file}, {"line", p.line}});
  return out;
}

Json optional_int(const std::optional<int>& value) { return value ? Json(*value) : Json(nullptr); }

Json run_ref_json(const RunRef& r) {
  // The seed as a string: it uses all 64 bits, more than a JSON number carries exactly.
  return Json{{"scenario", r.scenario}, {"variant", r.variant}, {"index", r.index}, {"seed", std::to_string(r.seed)}};
}

Json finding_json(const Report& report, const Finding& f, const TextOptions& text_options) {
  Json locks = Json::array();
  for (const Lock& l : f.locks)
    locks.push_back(Json{{"id", l.id},
                         {"name", l.name},
                         {"kind", l.kind},
                         {"address", hex(l.address)},
                         {"first_site", native_frames_json(l.first_site)}});
  Json threads = Json::array();
  for (const Thread& t : f.threads) {
    Json thread{{"tid", t.tid},
                {"name", t.name},
                {"role", t.role},
                {"native_frames", native_frames_json(t.native_frames)},
                {"python_frames", python_frames_json(t.python_frames)}};
    if (t.waits_for) thread["waits_for"] = *t.waits_for;
    if (!t.holds.empty()) thread["holds"] = t.holds;
    threads.push_back(std::move(thread));
  }
  Json edges = Json::array();
  for (const Edge& e : f.edges)
    edges.push_back(Json{{"from", e.from},
                         {"to", e.to},
                         {"held_mode", e.held_mode},
                         {"acquired_mode", e.acquired_mode},
                         {"thread_index", e.thread_index}});
  Json j{{"kind", f.kind},
         {"summary", f.summary},
         {"fingerprint", fingerprint(f)},
         {"severity", f.severity},
         {"probable", f.probable},
         {"count", f.count},
         {"occurrences", f.occurrences},
         {"pids", f.pids}};
  if (f.longest_wait_ms) j["longest_wait_ms"] = *f.longest_wait_ms;
  if (!f.detail.empty()) j["detail"] = f.detail;
  if (f.cycle_length) j["cycle_length"] = f.cycle_length;
  if (!f.contexts.empty()) j["tests"] = f.contexts;
  if (!f.runs.empty()) {
    // Stress: how many runs saw it, out of how many, and the runs that reproduce it.
    Json runs = Json::array();
    for (const RunRef& r : f.runs) runs.push_back(run_ref_json(r));
    j["seen_in_runs"] = f.runs.size();
    j["of_runs"] = runs_of_scenarios_seen(report, f);
    j["runs"] = std::move(runs);
  }
  if (!f.instances.empty()) {
    // Where it happened: each occurrence's lock instances (the GIL left out) and threads.
    Json instances = Json::array();
    for (const Instance& instance : f.instances) {
      Json addresses = Json::array();
      for (uint64_t a : instance.addresses) addresses.push_back(hex(a));
      instances.push_back(Json{{"pid", instance.pid}, {"addresses", std::move(addresses)}, {"tids", instance.tids}});
    }
    j["instances"] = std::move(instances);
    j["instances_not_listed"] = f.instances_not_listed;
  }
  if (!f.edges.empty()) j["taken_by"] = cycle_threads_text(f);
  j["locks"] = std::move(locks);
  j["threads"] = std::move(threads);
  j["edges"] = std::move(edges);
  if (f.suppressed_by)
    j["suppression"] = Json{{"rule", f.suppressed_by->rule},
                            {"file", f.suppressed_by->file},
                            {"line", f.suppressed_by->line},
                            {"frame", f.suppressed_by->frame}};
  // What the text report prints for it (one rendering: the pytest plugin's failure text
  // is this), without the blank line that ends the block.
  std::string text = finding_text(report, f, text_options);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  j["text"] = std::move(text);
  return j;
}

// The contention profile: a row per lock kind and site, durations in nanoseconds.
Json profiles_json(const Profiles& profiles) {
  Json locks = Json::array();
  for (const LockContention& row : profiles.locks) {
    Json waiters = Json::array();
    for (const LockWaiter& w : row.waiters)
      waiters.push_back(Json{{"pid", w.pid}, {"tid", w.tid}, {"name", w.name}, {"wait_ns", w.wait_ns},
                             {"native_frames", native_frames_json(w.frames)}});
    locks.push_back(Json{{"kind", row.kind},
                         {"site", native_frames_json(row.site)},
                         {"locks", row.locks},
                         {"acquisitions", row.acquisitions},
                         {"contended", row.contended},
                         {"contended_share", contended_share(row)},
                         {"wait_total_ns", row.wait_total_ns},
                         {"wait_max_ns", row.wait_max_ns},
                         {"wait_p50_ns", histogram_percentile(row.wait_histogram, 0.5, row.wait_max_ns)},
                         {"wait_p90_ns", histogram_percentile(row.wait_histogram, 0.9, row.wait_max_ns)},
                         {"wait_p99_ns", histogram_percentile(row.wait_histogram, 0.99, row.wait_max_ns)},
                         {"holds", row.holds},
                         {"hold_total_ns", row.hold_total_ns},
                         {"hold_max_ns", row.hold_max_ns},
                         {"hold_p50_ns", histogram_percentile(row.hold_histogram, 0.5, row.hold_max_ns)},
                         {"hold_p90_ns", histogram_percentile(row.hold_histogram, 0.9, row.hold_max_ns)},
                         {"hold_p99_ns", histogram_percentile(row.hold_histogram, 0.99, row.hold_max_ns)},
                         {"waiters", std::move(waiters)}});
    if (!row.name.empty()) locks.back()["name"] = row.name;
  }
  const GilProfileSummary& g = profiles.gil;
  Json threads = Json::array();
  for (const GilThread& t : g.threads)
    threads.push_back(Json{{"pid", t.pid},
                           {"tid", t.tid},
                           {"name", t.name},
                           {"takes", t.takes},
                           {"contended_takes", t.contended_takes},
                           {"held_ns", t.held_ns},
                           {"held_share", share_of(t.held_ns, t.wall_ns)},
                           {"waited_ns", t.waited_ns},
                           {"waited_share", share_of(t.waited_ns, t.wall_ns)},
                           {"longest_hold_ns", t.longest_hold_ns},
                           {"longest_wait_ns", t.longest_wait_ns}});
  uint64_t hold_max = 0, wait_max = 0;
  for (const GilThread& t : g.threads) hold_max = std::max(hold_max, t.longest_hold_ns), wait_max = std::max(wait_max, t.longest_wait_ns);
  Json gil{{"processes", g.processes},
           {"wall_ns", g.wall_ns},
           {"takes", g.takes},
           {"contended_takes", g.contended_takes},
           {"held_ns", g.held_ns},
           {"waited_ns", g.waited_ns},
           {"hold_p50_ns", histogram_percentile(g.hold_histogram, 0.5, hold_max)},
           {"hold_p99_ns", histogram_percentile(g.hold_histogram, 0.99, hold_max)},
           {"wait_p50_ns", histogram_percentile(g.wait_histogram, 0.5, wait_max)},
           {"wait_p99_ns", histogram_percentile(g.wait_histogram, 0.99, wait_max)},
           {"threads", std::move(threads)},
           {"threads_not_profiled", g.threads_not_profiled}};
  Json sites = Json::array();
  for (const GilSite& site : g.sites)
    sites.push_back(Json{{"api", site.api},
                         {"site", native_frames_json(site.site)},
                         {"calls", site.calls},
                         {"wait_total_ns", site.wait_total_ns},
                         {"wait_max_ns", site.wait_max_ns},
                         {"holds_timed", site.holds_timed},
                         {"held_total_ns", site.held_total_ns},
                         {"held_max_ns", site.held_max_ns},
                         {"sections", site.sections},
                         {"released_total_ns", site.released_total_ns},
                         {"released_max_ns", site.released_max_ns},
                         {"takes_inside", site.takes_inside},
                         {"capi_calls_inside", site.capi_calls_inside},
                         {"capi_inside", site.capi_inside}});
  gil["sites"] = std::move(sites);
  Json holds = Json::array();
  for (const GilHolder& h : g.long_holds)
    holds.push_back(Json{{"site", native_frames_json(h.site)},
                         {"holds", h.holds},
                         {"held_total_ns", h.held_total_ns},
                         {"held_max_ns", h.held_max_ns}});
  gil["long_holds"] = std::move(holds);
  gil["sites_not_profiled"] = g.sites_not_profiled;
  return Json{{"processes", profiles.processes},
              {"gil", std::move(gil)},
              {"locks", std::move(locks)},
              {"locks_not_listed", profiles.locks_not_listed},
              {"locks_not_profiled", profiles.locks_not_profiled}};
}

}  // namespace

nlohmann::ordered_json to_findings_json(const Report& report, const std::string& tool_version,
                                        const TextOptions& text) {
  Json j;
  j["format"] = kFindingsFormatName;
  j["version"] = kFindingsFormatVersion;
  j["tool"] = Json{{"name", "gilwatch"}, {"version", tool_version}};
  // `run` records what it ran, `report` what it read; exactly one of the two.
  if (report.inputs.empty())
    j["command"] = report.command;
  else
    j["inputs"] = report.inputs;
  j["exit_status"] = optional_int(report.exit_status);
  j["date"] = report.date;
  Json processes = Json::array();
  for (const Process& p : report.processes)
    processes.push_back(Json{{"pid", p.pid},
                             {"ppid", p.ppid},
                             {"argv", p.argv},
                             {"exe", p.exe},
                             {"state", p.state},
                             {"exit_status", optional_int(p.exit_status)},
                             {"python", p.python_version.empty() ? Json(nullptr) : Json(p.python_version)},
                             {"free_threaded", p.free_threaded},
                             {"checks_off", p.checks_off},
                             {"results_file", p.results_file}});
  j["processes"] = std::move(processes);
  // "Python 3.8: untested", once per version, when processes ran an interpreter outside
  // the tested versions (docs/support.md); empty when all were tested.
  Json untested = Json::array();
  for (const std::string& series : untested_pythons(report)) untested.push_back("Python " + series + ": untested");
  j["untested_pythons"] = std::move(untested);
  // Processes that ran a free-threaded interpreter: their GIL checks were off.
  j["free_threaded_pythons"] = free_threaded_process_count(report);
  // Lock acquisitions whose new lock orders were not recorded: too little stack left.
  j["untracked_low_stack"] = untracked_low_stack(report);
  // The library's fixed capacities that overflowed: what was lost to each.
  Json capacities = Json::array();
  for (const CapacityWarning& w : capacity_warnings(report))
    capacities.push_back(Json{{"capacity", w.capacity}, {"limit", w.limit}, {"lost", w.lost}, {"lost_what", w.lost_what}});
  j["capacity_warnings"] = std::move(capacities);
  Json findings = Json::array();
  for (const Finding& f : report.findings) findings.push_back(finding_json(report, f, text));
  j["findings"] = std::move(findings);
  // Set aside, never dropped: what the suppressions matched and what the baseline knew.
  Json suppressed = Json::array(), baselined = Json::array();
  for (const Finding& f : report.suppressed) suppressed.push_back(finding_json(report, f, text));
  for (const Finding& f : report.baselined) baselined.push_back(finding_json(report, f, text));
  j["suppressed"] = std::move(suppressed);
  j["baselined"] = std::move(baselined);
  if (!report.baseline_file.empty()) j["baseline"] = report.baseline_file;
  if (!report.runs.empty()) {
    Json runs = Json::array();
    for (const Run& r : report.runs) {
      Json run = run_ref_json(r.run);
      run["kind"] = r.kind;
      run["outcome"] = r.outcome;
      run["reason"] = r.reason;
      run["exit_status"] = optional_int(r.exit_status);
      run["signal"] = optional_int(r.signal);
      run["timed_out"] = r.timed_out;
      run["duration_ms"] = r.duration_ms;
      runs.push_back(std::move(run));
    }
    j["stress"] = Json{{"interrupted", report.interrupted}, {"runs", std::move(runs)}};
  }
  if (report.profiles.processes > 0) j["profiles"] = profiles_json(report.profiles);
  Json errors = Json::array();
  for (const InputError& e : report.errors) errors.push_back(Json{{"file", e.file}, {"message", e.message}});
  j["errors"] = std::move(errors);
  return j;
}

std::string render_findings_json(const Report& report, const std::string& tool_version, const TextOptions& text) {
  return to_findings_json(report, tool_version, text).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace gilwatch::report
