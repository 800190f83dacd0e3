// The report's renderers on hand-built models: pictures (svg), the HTML sections that use
// them, SARIF and JUnit. The browser test (tests/integration/test_report_browser.py)
// checks the same pages rendered for real.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "describe.h"
#include "html_report.h"
#include "junit.h"
#include "sarif.h"
#include "svg.h"
#include "text_report.h"

using namespace gilwatch;
using report::Finding;
using report::Report;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

report::NativeFrame frame(const std::string& function, const std::string& file, int line) {
  return {0x1000, "/ext/mod.so", 0x10, function, file, line};
}

// The registry bug's shape: a worker thread in call_back and the registering thread in
// registry_store, around a mutex and the GIL.
Finding registry_finding(const std::string& kind, const std::string& summary) {
  Finding f;
  f.kind = kind;
  f.summary = summary;
  f.pids = {10};
  f.locks = {{0, "", "mutex", 0x5000, {frame("registry_store", "/src/registry.c", 40)}}, {1, "GIL", "gil", 0, {}}};
  report::Thread worker, registering;
  worker.tid = 11;
  worker.name = "worker";
  worker.native_frames = {frame("call_back", "/src/registry.c", 55)};
  registering.tid = 12;
  registering.name = "python3";
  registering.native_frames = {frame("registry_store", "/src/registry.c", 41)};
  f.threads = {worker, registering};
  f.signature = kind + "|registry_store|call_back";
  return f;
}

// The two threads deadlocked, with the wait-for graph in structured form.
Finding deadlock() {
  Finding f = registry_finding("deadlock", "deadlock: 2 threads wait for each other");
  f.threads[0].role = "waits for the GIL held by thread 12";
  f.threads[0].waits_for = 1;
  f.threads[0].holds = {0};
  f.threads[1].role = "waits for mutex 0x5000 held by thread 11";
  f.threads[1].waits_for = 0;
  f.threads[1].holds = {1};
  return f;
}

Finding inversion() {
  Finding f = registry_finding("lock-order-inversion",
                               "lock-order inversion (potential deadlock): mutex 0x5000 -> the GIL -> mutex 0x5000");
  f.edges = {{0, 1, "read", "write", 0}, {1, 0, "write", "write", 1}};
  return f;
}

report::Run stress_run(const std::string& scenario, int index, const std::string& outcome) {
  report::Run r;
  r.run = {scenario, "", index, 1000u + unsigned(index)};
  r.kind = "teardown";
  r.outcome = outcome;
  r.reason = outcome == "ok" ? "" : "1 finding";
  r.duration_ms = 250;
  return r;
}

// A stress report: tool-churn leaks a thread in run #1 of 2, tool-fixed is clean.
Report stress_report() {
  Report r;
  r.date = "2026-01-01T00:00:00Z";
  r.inputs = {"out"};
  r.stress = report::StressInvocation{"/work/my suite.toml", "42", "/work", "", true};
  for (int i = 0; i < 2; ++i) r.runs.push_back(stress_run("tool-churn", i, i == 1 ? "findings" : "ok"));
  r.runs.push_back(stress_run("tool-fixed", 0, "ok"));
  report::Run broken = stress_run("tool-fixed", 1, "error");
  broken.reason = "the driver could not import churn";
  r.runs.push_back(broken);
  r.runs[1].measured.baseline_threads = 1;
  r.runs[1].measured.baseline_fds = 4;
  r.runs[1].measured.cycles = {{1, 2, 6, 1.0}, {2, 3, 8, 1.0}, {3, 4, 10, 1.0}};
  Finding leak;
  leak.kind = "thread-leak";
  leak.severity = "warning";
  leak.summary = "3 native threads remain after 3 teardown cycles of churn:make";
  leak.pids = {20};
  report::Thread t;
  t.tid = 21;
  t.name = "churn-worker";
  t.role = "still running after teardown";
  leak.threads = {t};
  leak.runs = {r.runs[1].run};
  leak.signature = "thread-leak|churn";
  r.findings = {leak};
  return r;
}

}  // namespace

TEST_CASE("a graph picture has a node per lock and an arrow per edge, labels escaped and clipped", "[svg]") {
  std::vector<report::svg::GraphNode> nodes = {{"mutex 0x5000", "first taken in f<T>", report::svg::NodeShape::kLock},
                                               {"the GIL", "", report::svg::NodeShape::kGil}};
  std::string long_label = "thread 1 '<b>': " + std::string(100, 'x');
  std::string svg = report::svg::graph(nodes, {{0, 1, long_label, false}, {1, 0, "thread 2", true}}, "cycle <1>");
  CHECK(count(svg, "<path class=\"gw-edge") == 2);
  CHECK(count(svg, "marker-end=\"url(#gw-arrow)\"") == 2);
  CHECK(count(svg, "gw-dashed") == 1);
  CHECK(has(svg, "class=\"gw-node gw-gil\""));
  CHECK(has(svg, "first taken in f&lt;T&gt;"));
  CHECK(has(svg, "<title>cycle &lt;1&gt;</title>"));
  CHECK_FALSE(has(svg, "<b>"));
  // The label on the picture is cut; its title keeps all of it.
  CHECK(has(svg, "<title>" + report::html_escape(long_label) + "</title>"));
  CHECK_FALSE(has(svg, ">" + report::html_escape(long_label) + "</text>"));
  CHECK(report::svg::graph({}, {}, "nothing").empty());
}

TEST_CASE("a line chart plots every point, the target line and a legend", "[svg]") {
  report::svg::Chart chart{"throughput", "threads", "calls/s",
                           {{"measured", {{1, 100}, {2, 90}, {4, 80}}, "s1"}, {"linear", {{1, 100}, {2, 200}}, "ideal"}},
                           140.0, "target 1.4x at 2 threads"};
  std::string svg = report::svg::line_chart(chart);
  CHECK(count(svg, "<circle") == 5);
  CHECK(count(svg, "<polyline") == 2);
  CHECK(has(svg, "class=\"gw-target\""));
  CHECK(has(svg, "target 1.4x at 2 threads"));
  CHECK(has(svg, "data-series=\"measured\""));
  CHECK(report::svg::line_chart({"empty", "x", "y", {}, std::nullopt, ""}).empty());
  CHECK(report::svg::short_number(12500) == "12.5k");
  CHECK(report::svg::short_number(3) == "3");
  CHECK(report::svg::short_number(2.5) == "2.5");
}

TEST_CASE("the HTML report draws the cycle of an inversion and the wait-for graph of a deadlock", "[html]") {
  Report r;
  r.command = {"python3", "t.py"};
  r.findings = {inversion(), deadlock()};
  std::string html = report::render_html(r, "1");
  CHECK(count(html, "<svg class=\"gw-graph\"") == 2);
  CHECK(has(html, "wait-for graph: deadlock"));
  CHECK(has(html, ">waits for</text>"));
  CHECK(has(html, ">held by</text>"));
  CHECK(has(html, "thread 11 &#39;worker&#39;: call_back (registry.c:55)"));
  // Each thread says what it holds.
  CHECK(has(html, "<p class=\"held\">Holds: mutex 0x5000 (first taken in registry_store)</p>"));
  CHECK(has(html, "<pre class=\"command\">gilwatch run -- python3 t.py</pre>"));
  CHECK(has(html, "href=\"#finding-2\""));  // contents and counts link to findings
  // Without the structured wait-for data there is no picture to draw.
  r.findings[1].threads[0].waits_for.reset();
  r.findings[1].threads[1].waits_for.reset();
  CHECK(count(report::render_html(r, "1"), "<svg class=\"gw-graph\"") == 1);
}

TEST_CASE("Python frames are interleaved where each interpreter loop frame runs one of them", "[html]") {
  Report r;
  Finding f = deadlock();
  f.threads[0].native_frames = {frame("wait", "/src/a.c", 1), frame("_PyEval_EvalFrameDefault", "", 0),
                                frame("call", "", 0), frame("_PyEval_EvalFrameDefault", "", 0)};
  f.threads[0].python_frames = {{"inner", "/app/x.py", 3}, {"outer", "/app/x.py", 9}};
  r.findings = {f};
  // By default each loop frame gives way to its Python frame; --full-stacks shows both.
  std::string html = report::render_html(r, "1");
  std::size_t inner = html.find(">inner <span");
  std::size_t call = html.find(">call<");
  std::size_t outer = html.find(">outer <span");
  REQUIRE(inner != std::string::npos);
  CHECK_FALSE(has(html, "_PyEval_EvalFrameDefault"));
  CHECK(inner < call);
  CHECK(call < outer);
  CHECK_FALSE(has(html, "Python frames (innermost first)"));
  report::HtmlOptions full;
  full.full_stacks = true;
  std::string unfolded = report::render_html(r, "1", full);
  std::size_t first_loop = unfolded.find("_PyEval_EvalFrameDefault");
  CHECK(first_loop < unfolded.find(">inner <span"));
  CHECK(unfolded.find(">inner <span") < unfolded.find(">call<"));
  // Three Python frames for two loop frames (3.11+ nests calls): listed on their own.
  r.findings[0].threads[0].python_frames.push_back({"main", "/app/x.py", 20});
  CHECK(has(report::render_html(r, "1"), "Python frames (innermost first)"));
}

TEST_CASE("a stress report charts leaks per cycle and says how to re-run the run that saw them", "[html]") {
  Report r = stress_report();
  std::string html = report::render_html(r, "1");
  CHECK(has(html, "<figure class=\"leak-chart\">"));
  CHECK(has(html, "tool-churn #1: native threads after each teardown cycle"));
  CHECK(count(html, "<circle") >= 8);  // threads and fds, baseline plus 3 cycles, in the finding and in Measurements
  CHECK(has(html, "cd /work &amp;&amp; gilwatch stress &#39;/work/my suite.toml&#39; --seed 42 --rerun "
                  "&#39;tool-churn #1&#39; --perturb"));
  CHECK(has(html, "seen in 1 of 2 runs of tool-churn; first in tool-churn #1 (seed 1001)"));
  CHECK(has(html, "<th>base seed</th><td>42 (perturbed)</td>"));
  CHECK(has(html, "<p class=\"verdict warn\" id=\"verdict\">1 finding (a warning).</p>"));
  // Runs beyond the limit are counted, not listed.
  report::HtmlOptions options;
  options.max_run_rows = 1;
  std::string limited = report::render_html(r, "1", options);
  CHECK(has(limited, "1 more not listed"));
  options.findings_doc_url = "file:///d/findings.md";
  CHECK(has(report::render_html(r, "1", options), "href=\"file:///d/findings.md#thread-leak\""));
}

TEST_CASE("shell_quote leaves plain words alone and quotes the rest", "[describe]") {
  CHECK(report::shell_quote("a/b-c.py") == "a/b-c.py");
  CHECK(report::shell_quote("a b") == "'a b'");
  CHECK(report::shell_quote("it's") == "'it'\\''s'");
  CHECK(report::shell_quote("") == "''");
}

TEST_CASE("SARIF: one rule per kind, one result per finding, locations under the source root", "[sarif]") {
  Report r;
  r.command = {"python3", "t.py"};
  r.findings = {inversion(), deadlock()};
  r.findings[0].threads[1].native_frames = {frame("lib_fn", "/usr/include/x.h", 3),
                                            frame("store it", "/src/dir with space/r.c", 7)};
  report::SarifOptions options;
  options.source_root = "/src";
  auto log = nlohmann::json::parse(report::render_sarif(r, "1.2.3", options));
  CHECK(log["version"] == "2.1.0");
  const auto& run = log["runs"][0];
  CHECK(run["tool"]["driver"]["name"] == "gilwatch");
  std::vector<std::string> rule_ids;
  for (const auto& rule : run["tool"]["driver"]["rules"]) rule_ids.push_back(rule["id"]);
  CHECK(rule_ids == report::known_kinds());
  REQUIRE(run["results"].size() == 2);
  // Results in reading order (fixes.h): the deadlock before the inversion.
  CHECK(run["results"][0]["ruleId"] == "deadlock");
  const auto& first = run["results"][1];
  CHECK(first["ruleId"] == "lock-order-inversion");
  CHECK(rule_ids[first["ruleIndex"].get<int>()] == "lock-order-inversion");
  CHECK(first["level"] == "error");
  CHECK(first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "registry.c");
  CHECK(first["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "SRCROOT");
  CHECK(first["locations"][0]["physicalLocation"]["region"]["startLine"] == 55);
  // The innermost frame under the source root wins over a header outside it, and a path
  // with a space is percent-encoded.
  CHECK(first["locations"][1]["physicalLocation"]["artifactLocation"]["uri"] == "dir%20with%20space/r.c");
  CHECK(first["relatedLocations"][0]["message"]["text"] == "mutex 0x5000 first taken here");
  CHECK(first["codeFlows"][0]["threadFlows"].size() == 2);
  CHECK(run["originalUriBaseIds"]["SRCROOT"]["uri"] == "file:///src/");
  // Outside the source root: absolute file URIs.
  options.source_root = "/elsewhere";
  auto other = nlohmann::json::parse(report::render_sarif(r, "1.2.3", options));
  CHECK(other["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] ==
        "file:///src/registry.c");
  // The fingerprint follows the finding, not its addresses.
  Report moved = r;
  moved.findings[0].locks[0].address = 0x9000;
  auto again = nlohmann::json::parse(report::render_sarif(moved, "1.2.3", options));
  CHECK(again["runs"][0]["results"][0]["partialFingerprints"] == other["runs"][0]["results"][0]["partialFingerprints"]);
}

TEST_CASE("SARIF: a finding without source frames points at the suite that found it", "[sarif]") {
  auto log = nlohmann::json::parse(report::render_sarif(stress_report(), "1", {"/work", ""}));
  const auto& result = log["runs"][0]["results"][0];
  CHECK(result["level"] == "warning");
  CHECK(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "my%20suite.toml");
  CHECK(result["properties"]["seenInRuns"] == 1);
  CHECK(result["properties"]["ofRuns"] == 2);
}

TEST_CASE("JUnit: a test case per scenario, failing with its findings, erroring on broken runs", "[junit]") {
  std::string xml = report::render_junit(stress_report());
  CHECK(has(xml, "<testsuites name=\"gilwatch\" tests=\"2\" failures=\"1\" errors=\"1\""));
  CHECK(has(xml, "<testsuite name=\"gilwatch stress my suite.toml\""));
  CHECK(has(xml, "<testcase classname=\"gilwatch.stress.tool-churn\" name=\"tool-churn\" time=\"0.500\">"));
  CHECK(has(xml, "<failure type=\"thread-leak\" message=\"1 finding: 3 native threads remain"));
  CHECK(has(xml, "to run it again: cd /work &amp;&amp; gilwatch stress"));
  CHECK(has(xml, "<error type=\"error\" message=\"tool-fixed #1: the driver could not import churn\">"));
  CHECK(count(xml, "<testcase ") == 2);
}

TEST_CASE("JUnit: findings of a pytest run become failures of the tests they happened in", "[junit]") {
  Report r;
  r.command = {"python3", "-m", "pytest"};
  Finding in_test = deadlock();
  in_test.contexts = {"tests/test_a.py::test_one", "tests/test_a.py::Suite::test_two"};
  Finding outside = inversion();
  r.findings = {in_test, outside};
  std::string xml = report::render_junit(r);
  CHECK(has(xml, "<testcase classname=\"tests/test_a.py\" name=\"test_one\""));
  CHECK(has(xml, "<testcase classname=\"tests/test_a.py::Suite\" name=\"test_two\""));
  CHECK(has(xml, "<testcase classname=\"gilwatch.run\" name=\"python3 -m pytest\""));
  CHECK(count(xml, "<failure ") == 3);
  r.findings.clear();
  std::string clean = report::render_junit(r);
  CHECK(count(clean, "<testcase ") == 1);
  CHECK(count(clean, "<failure") == 0);
  r.errors = {{"raw/gilwatch.1.json", "truncated"}};
  CHECK(has(report::render_junit(r), "<error type=\"unreadable-results\""));
}

TEST_CASE("xml_escape keeps XML well formed whatever the process under test named things", "[junit]") {
  CHECK(report::xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;");
  CHECK(report::xml_escape(std::string("x\x01y\tz\n", 6)) == "x\xEF\xBF\xBDy\tz\n");
}

TEST_CASE("the text on stderr says how to run a stress finding again", "[describe]") {
  std::string text = report::render_text(stress_report());
  CHECK(has(text, "  to run it again: cd /work && gilwatch stress '/work/my suite.toml' --seed 42 --rerun "
                  "'tool-churn #1' --perturb\n"));
  Report plain;
  plain.command = {"python3", "t.py"};
  plain.findings = {deadlock()};
  CHECK_FALSE(has(report::render_text(plain), "to run it again"));
}
