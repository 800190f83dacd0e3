// Unit tests of what to change (reports/fixes): the kind's fix in step with
// docs/findings.md, the case's fix from its evidence, the one reading order, and how each
// renderer shows them; the documentation URL the reports link to (harness/results/outputs).
#include <regex>
#include <sstream>

#include "fixes.h"
#include "gilwatch/result_format.h"
#include "junit.h"
#include "outputs.h"
#include "report_side_fixtures.h"
#include "sarif.h"

namespace {

report::NativeFrame frame(const std::string& function, const std::string& module, uint64_t pc = 0x1000) {
  report::NativeFrame f;
  f.pc = pc;
  f.function = function;
  f.module = module;
  f.offset = pc & 0xfff;
  return f;
}

report::Lock gil() {
  report::Lock l;
  l.id = 0;
  l.kind = "gil";
  l.name = "GIL";
  return l;
}

report::Lock rwlock(int id, uint64_t address) {
  report::Lock l;
  l.id = id;
  l.kind = "rwlock";
  l.address = address;
  return l;
}

// The seeds' registry: the Python thread holds the GIL and takes the rwlock for writing
// in registry_store; the native thread holds it for reading and asks for the GIL in
// call_task_with_gil. `program_frames`: false leaves only libc's and the interpreter's.
report::Finding registry_inversion(bool program_frames = true) {
  report::Finding f;
  f.kind = "lock-order-inversion";
  f.summary = "lock-order inversion (potential deadlock): the GIL -> rwlock 0x10 -> the GIL";
  f.pids = {7};
  f.locks = {gil(), rwlock(1, 0x10)};
  report::Thread python, native;
  python.tid = 8;
  python.name = "python3";
  python.native_frames = {frame("pthread_rwlock_wrlock", "/lib/x86_64-linux-gnu/libc.so.6"),
                          frame("registry_store", "/m/_registry.so"), frame("_PyEval_EvalFrameDefault", "/usr/bin/python3.11")};
  native.tid = 9;
  native.name = "worker";
  native.native_frames = {frame("PyGILState_Ensure", "/usr/bin/python3.11"),
                          frame("call_task_with_gil", "/m/_registry.so"), frame("start_thread", "/lib/libc.so.6")};
  if (!program_frames) {
    python.native_frames.erase(python.native_frames.begin() + 1);
    native.native_frames.erase(native.native_frames.begin() + 1);
  }
  f.threads = {python, native};
  f.edges = {{0, 1, "", "write", 0}, {1, 0, "read", "", 1}};
  return f;
}

report::Finding simple(const std::string& kind, const std::string& detail, const std::string& function) {
  report::Finding f;
  f.kind = kind;
  f.summary = kind + " summary";
  f.severity = report::kind_info(kind).severity;
  f.detail = detail;
  f.pids = {7};
  report::Thread t;
  t.tid = 8;
  t.name = "t";
  t.role = "role of " + kind;
  t.native_frames = {frame("pthread_join", "/lib/libc.so.6")};
  if (!function.empty()) t.native_frames.push_back(frame(function, "/m/ext.so"));
  f.threads = {t};
  return f;
}

std::string squeeze(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == ' ') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// Lines a person cannot read: "mutex,mutex", "join,gil", or a line that is only a name.
std::vector<std::string> internal_lines(const std::string& text, const std::vector<std::string>& bare_names) {
  std::vector<std::string> found;
  std::istringstream in(text);
  std::regex listed(R"(^\s*[a-z-]+(,[a-z-]+)+\s*$)");
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, listed)) found.push_back(line);
    std::string trimmed = squeeze(line);
    if (!trimmed.empty() && trimmed.front() == ' ') trimmed.erase(0, 1);
    if (!trimmed.empty() && trimmed.back() == ' ') trimmed.pop_back();
    for (const std::string& name : bare_names)
      if (trimmed == name) found.push_back(line);
  }
  return found;
}

}  // namespace

TEST_CASE("every finding kind has one fix, and docs/findings.md says it word for word", "[fixes]") {
  std::ifstream in(std::string(GILWATCH_SOURCE_DIR) + "/docs/findings.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE_FALSE(doc.empty());
  std::vector<std::string> kinds = report::known_kinds();
  for (const auto& k : result_format::kFindingKinds)
    if (std::find(kinds.begin(), kinds.end(), k.name) == kinds.end()) kinds.push_back(k.name);
  for (const std::string& kind : kinds) {
    INFO(kind);
    std::string fix = report::kind_fix(kind);
    CHECK(fix.size() > 40);
    CHECK(std::count(report::kinds_by_severity().begin(), report::kinds_by_severity().end(), kind) == 1);
    std::size_t start = doc.find("\n## " + kind + "\n");
    REQUIRE(start != std::string::npos);
    std::size_t end = doc.find("\n## ", start + 4);
    CHECK(contains(squeeze(doc.substr(start, end - start)), squeeze("**In the report:** " + fix)));
  }
  CHECK(report::kinds_by_severity().size() == kinds.size());
  CHECK(report::kind_fix("some-new-kind").empty());
}

TEST_CASE("the fix of a case names the functions its evidence shows", "[fixes]") {
  CHECK(report::case_fix(registry_inversion()) ==
        "Release the GIL around taking rwlock 0x10 (write) in registry_store, or do not call back into Python (take "
        "the GIL) while holding rwlock 0x10 (read) in call_task_with_gil.");
  // Nothing of the program's own on the stacks: no case fix, only the kind's.
  CHECK(report::case_fix(registry_inversion(false)).empty());
  CHECK(report::program_function(registry_inversion(false).threads[0].native_frames).empty());

  CHECK(report::case_fix(simple("capi-without-gil", "PyErr_Format", "parse_records")) ==
        "Take the GIL before PyErr_Format is called in parse_records.");
  CHECK(report::case_fix(simple("gil-held-blocking", "pthread_cond_wait", "wait_for_result")) ==
        "Release the GIL around the pthread_cond_wait call in wait_for_result.");
  CHECK(report::case_fix(simple("finalization-attach", "risk", "worker_main")) ==
        "Join the thread that runs worker_main before the interpreter finalizes.");
  CHECK(report::case_fix(simple("capi-without-gil", "PyErr_Format", "")).empty());
  CHECK(report::case_fix(simple("hang", "hang report", "spin")).empty());

  // A deadlock: each thread's wait, where it waits.
  report::Finding d;
  d.kind = "deadlock";
  d.locks = {gil(), rwlock(1, 0x10)};
  report::Thread a, b;
  a.tid = 1;
  a.waits_for = 1;
  a.holds = {0};
  a.native_frames = {frame("pthread_rwlock_wrlock", "/lib/libc.so.6"), frame("registry_store", "/m/r.so")};
  b.tid = 2;
  b.waits_for = 0;
  b.holds = {1};
  b.native_frames = {frame("PyGILState_Ensure", "/usr/bin/python3.11"), frame("call_task_with_gil", "/m/r.so")};
  d.threads = {a, b};
  CHECK(report::case_fix(d) ==
        "Release the GIL before waiting for rwlock 0x10 in registry_store, or do not ask for the GIL while holding "
        "rwlock 0x10 in call_task_with_gil.");

  // A join with the GIL held, against a thread that asks for the GIL: the joiner changes.
  report::Finding join;
  join.kind = "deadlock";
  join.locks = {gil()};
  report::Thread joiner, worker;
  joiner.role = "joins thread 2 while holding the GIL";
  joiner.holds = {0};
  joiner.native_frames = {frame("pool_dealloc_join_worker", "/m/t.so"), frame("_PyEval_EvalFrameDefault", "/usr/bin/python3.11")};
  worker.waits_for = 0;
  worker.native_frames = {frame("PyGILState_Ensure", "/usr/bin/python3.11"), frame("worker_round_with_gil", "/m/t.so")};
  join.threads = {joiner, worker};
  CHECK(report::case_fix(join) == "Release the GIL around the join in pool_dealloc_join_worker.");
  join.threads[0].native_frames.resize(1, frame("??", "/usr/bin/python3.11"));
  join.threads[0].native_frames[0] = frame("??", "/usr/bin/python3.11");
  CHECK(report::case_fix(join).empty());  // no function of the program's: nothing to name
}

TEST_CASE("findings are read most severe first, in one order", "[fixes]") {
  std::vector<report::Finding> findings;
  for (const char* kind : {"fd-leak", "lock-order-inversion", "zz-new", "deadlock", "capi-without-gil", "hang",
                           "crash", "deadlock", "gil-held-blocking"})
    findings.push_back(simple(kind, "", ""));
  report::sort_for_reading(&findings);
  std::vector<std::string> order;
  for (const auto& f : findings) order.push_back(f.kind);
  CHECK(order == std::vector<std::string>{"deadlock", "deadlock", "crash", "hang", "lock-order-inversion",
                                          "capi-without-gil", "gil-held-blocking", "fd-leak", "zz-new"});
  auto counts = report::kind_counts(findings);
  REQUIRE(counts.size() == 8);
  CHECK(counts[0] == std::pair<std::string, std::size_t>{"deadlock", 2});
  CHECK(counts[7].first == "zz-new");
}

TEST_CASE("the text report: a line per kind on top, most severe first, the fix under each, no internal line",
          "[fixes][text_report]") {
  report::Report r;
  r.findings = {simple("gil-held-blocking", "pthread_join", "close_pool"), registry_inversion(),
                simple("deadlock", "join,gil", ""), simple("capi-without-gil", "PyErr_Format", "parse_records"),
                simple("crash", "crash report: SIGSEGV", "")};
  std::string text = report::render_text(r);
  CHECK(text.rfind("==gilwatch== findings by kind, most severe first:\n"
                   "  deadlock               1 - Deadlock\n"
                   "  crash                  1 - Crash\n"
                   "  lock-order-inversion   1 - Lock-order inversion (potential deadlock)\n"
                   "  capi-without-gil       1 - Python C API call without the GIL\n"
                   "  gil-held-blocking      1 - Blocking while holding the GIL\n\n",
                   0) == 0);
  std::size_t deadlock = text.find("WARNING: gilwatch: deadlock"), crash = text.find("WARNING: gilwatch: crash"),
              inversion = text.find("WARNING: gilwatch: lock-order-inversion"),
              capi = text.find("WARNING: gilwatch: capi-without-gil"),
              blocking = text.find("WARNING: gilwatch: gil-held-blocking");
  CHECK(deadlock < crash);
  CHECK(crash < inversion);
  CHECK(inversion < capi);
  CHECK(capi < blocking);
  CHECK(contains(text, "  fix: Release the GIL around taking rwlock 0x10 (write) in registry_store, or do not call "
                       "back into Python (take the GIL) while holding rwlock 0x10 (read) in call_task_with_gil.\n"
                       "       " + report::kind_fix("lock-order-inversion") + "\n"));
  CHECK(contains(text, "  fix: Take the GIL before PyErr_Format is called in parse_records.\n"));
  CHECK(contains(text, "  fix: " + report::kind_fix("deadlock") + "\n"));  // no evidence: the kind's
  CHECK(internal_lines(text, {"PyErr_Format", "pthread_join", "crash report: SIGSEGV", "hang report"}).empty());
  CHECK_FALSE(contains(text, "join,gil"));
  CHECK_FALSE(contains(text, "crash report: SIGSEGV"));
  CHECK(report::summary_line(r, "o.html") ==
        "gilwatch: 5 findings (deadlock, crash, lock-order-inversion, capi-without-gil, gil-held-blocking) -> o.html");

  // With a baseline: what is new of each kind, and what it knew.
  r.baseline_file = "known.txt";
  r.baselined = {simple("deadlock", "", ""), simple("thread-leak", "", "")};
  text = report::render_text(r);
  CHECK(contains(text, "  deadlock               1 new since baseline, 1 known - Deadlock\n"));
  CHECK(contains(text, "  thread-leak            0 new since baseline, 1 known - Threads left after teardown\n"));
  // Its twin: no findings, no per-kind lines.
  r.findings.clear();
  r.baselined.clear();
  CHECK_FALSE(contains(report::render_text(r), "findings by kind"));
}

TEST_CASE("the HTML report: a summary table on top, collapsible groups by kind, the fix in each", "[fixes][html]") {
  report::Report r;
  r.findings = {simple("thread-leak", "worker", "pool_main"), registry_inversion(), simple("deadlock", "join,gil", "")};
  r.baseline_file = "known.txt";
  r.baselined = {simple("deadlock", "", "")};
  report::HtmlOptions options;
  options.findings_doc_url = "https://example.org/docs/findings.md";
  std::string html = report::render_html(r, "1", options);
  std::size_t summary = html.find("<h2 id=\"by-kind\">Summary</h2>"), findings = html.find("id=\"findings\"");
  CHECK(summary < html.find("class=\"what-ran\""));
  CHECK(summary < findings);
  CHECK(contains(html, "<th>new since baseline</th><th>known</th>"));
  CHECK(contains(html, "<tr data-kind=\"deadlock\"><td><a href=\"#kind-deadlock\"><code>deadlock</code></a></td>"
                       "<td>Deadlock</td><td>error</td><td>2</td><td>2</td><td class=\"new\">1</td><td>1</td></tr>"));
  // Groups in reading order, each a details element, open when the findings are few.
  std::size_t d = html.find("<details class=\"kind-group\" id=\"kind-deadlock\" data-kind=\"deadlock\" open>"),
              i = html.find("<details class=\"kind-group\" id=\"kind-lock-order-inversion\""),
              t = html.find("<details class=\"kind-group\" id=\"kind-thread-leak\"");
  CHECK(d < i);
  CHECK(i < t);
  CHECK(t != std::string::npos);
  CHECK(html.find("id=\"finding-1\" data-kind=\"deadlock\"") < html.find("id=\"finding-2\" data-kind=\"lock-order"));
  CHECK(contains(html, "<div class=\"fix\"><p><strong>Fix:</strong> Release the GIL around taking rwlock 0x10 "
                       "(write) in registry_store, or do not call back into Python"));
  CHECK(contains(html, "<p class=\"muted\">" + report::html_escape(report::kind_fix("lock-order-inversion")) + "</p>"));
  CHECK(contains(html, "href=\"https://example.org/docs/findings.md#deadlock\""));
  CHECK_FALSE(contains(html, "join,gil"));
  CHECK_FALSE(contains(html, "file://"));

  // A big report: only the most severe group starts open.
  report::Report big;
  for (int n = 0; n < 13; ++n) big.findings.push_back(simple(n % 2 ? "fd-leak" : "hang", "", ""));
  html = report::render_html(big, "1", options);
  CHECK(contains(html, "id=\"kind-hang\" data-kind=\"hang\" open>"));
  CHECK(contains(html, "id=\"kind-fd-leak\" data-kind=\"fd-leak\"><summary>"));
  CHECK_FALSE(contains(html, "<th>new since baseline</th>"));  // no baseline given
}

TEST_CASE("SARIF and JUnit carry the fix, and SARIF's rules link to the https documentation", "[fixes][sarif][junit]") {
  report::Report r;
  r.findings = {registry_inversion(), simple("capi-without-gil", "PyErr_Format", "parse_records")};
  report::SarifOptions options;
  options.findings_doc_url = "https://example.org/findings.md";
  json sarif = json::parse(report::render_sarif(r, "1", options));
  const json& run = sarif["runs"][0];
  for (const json& rule : run["tool"]["driver"]["rules"]) {
    CHECK(rule["helpUri"] == "https://example.org/findings.md#" + rule["id"].get<std::string>());
    CHECK(contains(rule["help"]["text"].get<std::string>(), "Fix: " + report::kind_fix(rule["id"].get<std::string>())));
  }
  CHECK(contains(run["results"][0]["message"]["text"].get<std::string>(),
                 "Fix: Release the GIL around taking rwlock 0x10 (write) in registry_store"));
  CHECK(contains(run["results"][1]["message"]["text"].get<std::string>(),
                 "Fix: Take the GIL before PyErr_Format is called in parse_records."));
  std::string xml = report::render_junit(r);
  CHECK(contains(xml, "  fix: Take the GIL before PyErr_Format is called in parse_records.\n"));
}

TEST_CASE("the documentation URL: --docs-url, else GILWATCH_DOCS_URL, else the public default, only http(s)",
          "[fixes][cli]") {
  std::string url, error;
  CHECK(docs_url("", nullptr, &url, &error));
  CHECK(url == kDefaultDocsUrl);
  CHECK(url.rfind("https://", 0) == 0);
  CHECK(contains(url, std::string("/v") + kVersion + "/docs/findings.md"));
  CHECK(docs_url("", "http://docs.local/f.md", &url, &error));
  CHECK(url == "http://docs.local/f.md");
  CHECK(docs_url("https://a.example/f.md", "http://docs.local/f.md", &url, &error));
  CHECK(url == "https://a.example/f.md");
  // The twins: a file path or another scheme is an error that names where it came from.
  CHECK_FALSE(docs_url("file:///venv/docs/findings.md", nullptr, &url, &error));
  CHECK(error.rfind("--docs-url: 'file:///venv/docs/findings.md' is not an http:// or https:// URL", 0) == 0);
  CHECK_FALSE(docs_url("", "/usr/share/doc/findings.md", &url, &error));
  CHECK(error.rfind("GILWATCH_DOCS_URL: ", 0) == 0);
  CHECK_FALSE(docs_url("https://", nullptr, &url, &error));
}
