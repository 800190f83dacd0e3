#include "junit.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "describe.h"
#include "fixes.h"

namespace gilwatch::report {

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (u < 0x20 && c != '\t' && c != '\n' && c != '\r')
          out += "\xEF\xBF\xBD";  // U+FFFD: XML 1.0 cannot carry it, even escaped
        else
          out += c;
    }
  }
  return out;
}

namespace {

struct TestCase {
  std::string classname, name;
  double seconds = 0;
  std::vector<const Finding*> findings;
  std::vector<const Run*> broken_runs;  // error or interrupted: not a finding of the code
  int runs = 0;
};

TestCase named_case(std::string classname, std::string name) {
  TestCase c;
  c.classname = std::move(classname);
  c.name = std::move(name);
  return c;
}

std::string failure_text(const Report& report, const TestCase& c) {
  std::string text;
  for (const Finding* f : c.findings) {
    text += "[" + f->kind + "] " + f->summary + "\n";
    std::string fix = case_fix(*f);
    if (fix.empty()) fix = kind_fix(f->kind);
    if (!fix.empty()) text += "  fix: " + fix + "\n";
    if (std::string runs = runs_fact(report, *f); !runs.empty()) text += "  " + runs + "\n";
    if (std::string command = rerun_command(report, *f); !command.empty()) text += "  to run it again: " + command + "\n";
    for (const Thread& t : f->threads) {
      text += fmt::format("  thread {} '{}': {}\n", t.tid, t.name, t.role);
      std::size_t shown = 0;
      for (const NativeFrame& frame : t.native_frames) {
        if (++shown > 8) break;
        text += "    " + (frame.function.empty() ? std::string("??") : frame.function);
        if (!frame.file.empty()) text += fmt::format(" {}:{}", frame.file, frame.line);
        text += "\n";
      }
    }
  }
  return text;
}

std::string case_xml(const Report& report, const TestCase& c) {
  std::string out = fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\">\n", xml_escape(c.classname),
                                xml_escape(c.name), c.seconds);
  if (!c.findings.empty()) {
    std::string kinds, message;
    for (const Finding* f : c.findings) {
      if (kinds.find(f->kind) == std::string::npos) kinds += (kinds.empty() ? "" : ",") + f->kind;
      message += (message.empty() ? "" : "; ") + f->summary;
    }
    if (message.size() > 600) message = message.substr(0, 597) + "...";
    out += fmt::format("      <failure type=\"{}\" message=\"{}\">{}</failure>\n", xml_escape(kinds),
                       xml_escape(fmt::format("{} finding{}: {}", c.findings.size(), c.findings.size() == 1 ? "" : "s",
                                              message)),
                       xml_escape(failure_text(report, c)));
  }
  for (const Run* r : c.broken_runs)
    out += fmt::format("      <error type=\"{}\" message=\"{}\">{}</error>\n", xml_escape(r->outcome),
                       xml_escape(r->run.label() + ": " + r->reason),
                       xml_escape(fmt::format("run {} (seed {}) ended as {}: {}", r->run.label(), r->run.seed,
                                              r->outcome, r->reason)));
  return out + "    </testcase>\n";
}

std::vector<TestCase> stress_cases(const Report& report) {
  std::vector<TestCase> cases;
  auto case_of = [&](const std::string& scenario, const std::string& variant) -> TestCase& {
    std::string name = variant.empty() ? scenario : scenario + "." + variant;
    for (TestCase& c : cases)
      if (c.name == name) return c;
    cases.push_back(named_case("gilwatch.stress." + scenario, name));
    return cases.back();
  };
  for (const Run& r : report.runs) {
    TestCase& c = case_of(r.run.scenario, r.run.variant);
    ++c.runs;
    c.seconds += double(r.duration_ms) / 1000.0;
    if (r.outcome == "error" || r.outcome == "interrupted") c.broken_runs.push_back(&r);
  }
  for (const Finding& f : report.findings) {
    std::vector<std::string> named;
    for (const RunRef& ref : f.runs) {
      std::string name = ref.variant.empty() ? ref.scenario : ref.scenario + "." + ref.variant;
      if (std::find(named.begin(), named.end(), name) != named.end()) continue;
      named.push_back(name);
      case_of(ref.scenario, ref.variant).findings.push_back(&f);
    }
  }
  return cases;
}

std::vector<TestCase> run_cases(const Report& report) {
  std::vector<TestCase> cases;
  std::string command;
  for (const std::string& w : report.command) command += (command.empty() ? "" : " ") + shell_quote(w);
  // `gilwatch report` of a run's directory: the command of the first process that no
  // other process started.
  for (const Process& p : report.processes) {
    if (!command.empty()) break;
    bool child = std::any_of(report.processes.begin(), report.processes.end(),
                             [&](const Process& other) { return other.pid == p.ppid; });
    if (child) continue;
    for (const std::string& w : p.argv) command += (command.empty() ? "" : " ") + shell_quote(w);
  }
  // Findings inside tests become those tests' cases; the rest belong to the command.
  std::map<std::string, std::size_t> by_test;
  TestCase outside = named_case("gilwatch.run", command.empty() ? "gilwatch run" : command);
  for (const Finding& f : report.findings) {
    if (f.contexts.empty()) {
      outside.findings.push_back(&f);
      continue;
    }
    for (const std::string& test : f.contexts) {
      auto [it, added] = by_test.emplace(test, cases.size());
      if (added) {
        // "tests/test_x.py::TestY::test_z": the file part as classname, as pytest does.
        auto split = test.rfind("::");
        cases.push_back(named_case(split == std::string::npos ? "gilwatch.run" : test.substr(0, split),
                                   split == std::string::npos ? test : test.substr(split + 2)));
      }
      cases[it->second].findings.push_back(&f);
    }
  }
  if (!outside.findings.empty() || cases.empty()) cases.insert(cases.begin(), outside);
  return cases;
}

}  // namespace

std::string render_junit(const Report& report) {
  bool stress = !report.runs.empty();
  std::vector<TestCase> cases = stress ? stress_cases(report) : run_cases(report);
  std::size_t failures = 0, errors = report.errors.empty() ? 0 : 1;
  double seconds = 0;
  for (const TestCase& c : cases) {
    failures += c.findings.empty() ? 0 : 1;
    errors += c.broken_runs.empty() ? 0 : 1;
    seconds += c.seconds;
  }
  std::string suite_name = stress ? "gilwatch stress" : "gilwatch run";
  if (stress && report.stress && !report.stress->suite.empty()) suite_name += " " + base_name(report.stress->suite);
  std::size_t tests = cases.size() + (report.errors.empty() ? 0 : 1);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"gilwatch\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3f}\">\n",
                     tests, failures, errors, seconds);
  out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3f}\" "
                     "timestamp=\"{}\">\n",
                     xml_escape(suite_name), tests, failures, errors, seconds, xml_escape(report.date));
  for (const TestCase& c : cases) out += case_xml(report, c);
  if (!report.errors.empty()) {
    // Results that could not be read: what they held is missing, which CI must see.
    std::string text;
    for (const InputError& e : report.errors) text += e.file + ": " + e.message + "\n";
    out += fmt::format("    <testcase classname=\"gilwatch\" name=\"results files\" time=\"0\">\n"
                       "      <error type=\"unreadable-results\" message=\"{}\">{}</error>\n    </testcase>\n",
                       xml_escape(fmt::format("{} results file{} could not be read", report.errors.size(),
                                              report.errors.size() == 1 ? "" : "s")),
                       xml_escape(text));
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace gilwatch::report
