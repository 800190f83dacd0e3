// Unit tests of the text report (reports/text_report), and what it says once in its
// summary line that findings.json and the HTML header say too.
#include "report_side_fixtures.h"

TEST_CASE("the text report is sanitizer-style and cannot drive the terminal", "[text_report]") {
  report::Report r = report_with_hostile_names();
  r.findings[0].threads[0].name = "evil\x1b[2J";
  r.findings[0].count = 2;
  r.findings[0].pids = {7, 9};
  std::string text = report::render_text(r);
  CHECK(contains(text, "==7==WARNING: gilwatch: lock-order-inversion\n"));
  CHECK(contains(text, "  seen in 2 processes (pids 7, 9)\n"));
  CHECK(contains(text, "  thread 8 (evil\\x1b[2J) took the GIL while holding"));
  CHECK(contains(text, "    #0 0x1 in f<T>& a\"b.c:3 (<b>.so+0x1)\n"));
  CHECK(contains(text, "      x'.py:1 in <lambda>\n"));
  CHECK_FALSE(contains(text, "\x1b"));
  CHECK(report::summary_line(r, "out/report.html") ==
        "gilwatch: 1 finding (lock-order-inversion), 1 unreadable results file -> out/report.html");
  r.findings.clear();
  r.errors.clear();
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings -> o.html");
}

TEST_CASE("an untested interpreter is said once in the summary line, findings.json and the report's header",
          "[text_report][findings_json][html]") {
  report::Report r;
  r.processes = {{7, 1, {"python3.8"}, "/usr/bin/python3.8", "exited", 0, "3.8.18", "a.json", "3.8"},
                 {8, 7, {"python3.8"}, "/usr/bin/python3.8", "exited", 0, "3.8.18", "b.json", "3.8"},
                 {9, 7, {"python3.11"}, "/usr/bin/python3.11", "exited", 0, "3.11.2", "c.json", ""}};
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings; Python 3.8: untested -> o.html");
  auto j = report::to_findings_json(r, "0.1.0");
  CHECK(j["untested_pythons"] == json({"Python 3.8: untested"}));
  std::string html = report::render_html(r, "0.1.0");
  CHECK(count_of(html, "<th>Python 3.8</th>") == 1);
  CHECK(contains(html, "untested: not among the versions gilwatch is tested with"));
  // All tested: not a word.
  r.processes.erase(r.processes.begin(), r.processes.begin() + 2);
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings -> o.html");
  CHECK(report::to_findings_json(r, "0.1.0")["untested_pythons"] == json::array());
  CHECK_FALSE(contains(report::render_html(r, "0.1.0"), "untested"));
}

TEST_CASE("acquisitions not tracked for low stack are summed over processes into the summary line, "
          "findings.json and the report's header", "[text_report][findings_json][html]") {
  report::Report r;
  r.processes = {{7, 1, {"prog"}, "/bin/prog", "exited", 0, "", "a.json", "", 3},
                 {8, 7, {"prog"}, "/bin/prog", "exited", 0, "", "b.json", "", 4}};
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings; 7 acquisitions not tracked: low stack -> o.html");
  CHECK(report::to_findings_json(r, "0.1.0")["untracked_low_stack"] == 7);
  std::string html = report::render_html(r, "0.1.0");
  CHECK(count_of(html, "<th>not tracked</th>") == 1);
  CHECK(contains(html, "7 lock acquisitions: low stack"));
  // None: not a word.
  r.processes[0].untracked_low_stack = r.processes[1].untracked_low_stack = 0;
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings -> o.html");
  CHECK(report::to_findings_json(r, "0.1.0")["untracked_low_stack"] == 0);
  CHECK_FALSE(contains(report::render_html(r, "0.1.0"), "not tracked"));
}

TEST_CASE("a free-threaded interpreter is said once in the summary line and the report's header, and counted "
          "in findings.json", "[text_report][findings_json][html]") {
  report::Report r;
  r.processes = {{7, 1, {"python3.13t"}, "/usr/bin/python3.13t", "exited", 0, "3.13.0 (main)", "a.json", ""},
                 {8, 7, {"python3.13t"}, "/usr/bin/python3.13t", "exited", 0, "3.13.0 (main)", "b.json", ""},
                 {9, 7, {"python3.11"}, "/usr/bin/python3.11", "exited", 0, "3.11.2", "c.json", ""}};
  r.processes[0].free_threaded = r.processes[1].free_threaded = true;
  r.processes[0].checks_off = {"gil-held-blocking"};
  CHECK(report::summary_line(r, "o.html") ==
        "gilwatch: no findings; Python 3.13t: free-threaded, GIL checks off -> o.html");
  auto j = report::to_findings_json(r, "0.1.0");
  CHECK(j["free_threaded_pythons"] == 2);
  CHECK(j["processes"][0]["free_threaded"] == true);
  CHECK(j["processes"][0]["checks_off"] == json({"gil-held-blocking"}));
  CHECK(j["processes"][2]["free_threaded"] == false);
  std::string html = report::render_html(r, "0.1.0");
  CHECK(count_of(html, "<th>Python 3.13t</th>") == 1);
  CHECK(contains(html, "free-threaded: no GIL"));
  // GIL builds only: not a word.
  r.processes.erase(r.processes.begin(), r.processes.begin() + 2);
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings -> o.html");
  CHECK(report::to_findings_json(r, "0.1.0")["free_threaded_pythons"] == 0);
  CHECK_FALSE(contains(report::render_html(r, "0.1.0"), "free-threaded"));
}

TEST_CASE("capacity warnings are merged by capacity over processes into the summary line, findings.json and the "
          "report's header", "[text_report][findings_json][html]") {
  report::Report r;
  r.processes = {{7, 1, {"prog"}, "/bin/prog", "exited", 0, "", "a.json", "", 0},
                 {8, 7, {"prog"}, "/bin/prog", "exited", 0, "", "b.json", "", 0}};
  r.processes[0].capacity_warnings = {{"held_locks_per_thread", 512, 3, "lock acquisitions not tracked"},
                                      {"cycle_locks", 64, 1, "cycles reported cut"}};
  r.processes[1].capacity_warnings = {{"held_locks_per_thread", 512, 5, "lock acquisitions not tracked"}};
  CHECK(report::summary_line(r, "o.html") ==
        "gilwatch: no findings; capacity held_locks_per_thread (512) overflowed: 8 lock acquisitions not tracked; "
        "capacity cycle_locks (64) overflowed: 1 cycles reported cut -> o.html");
  auto j = report::to_findings_json(r, "0.1.0");
  REQUIRE(j["capacity_warnings"].size() == 2);
  CHECK(j["capacity_warnings"][0]["capacity"] == "held_locks_per_thread");
  CHECK(j["capacity_warnings"][0]["limit"] == 512);
  CHECK(j["capacity_warnings"][0]["lost"] == 8);
  CHECK(j["capacity_warnings"][1]["lost_what"] == "cycles reported cut");
  std::string html = report::render_html(r, "0.1.0");
  CHECK(count_of(html, "<th>capacity</th>") == 2);
  CHECK(contains(html, "capacity held_locks_per_thread (512) overflowed: 8 lock acquisitions not tracked"));
  // None: not a word.
  r.processes[0].capacity_warnings.clear();
  r.processes[1].capacity_warnings.clear();
  CHECK(report::summary_line(r, "o.html") == "gilwatch: no findings -> o.html");
  CHECK(report::to_findings_json(r, "0.1.0")["capacity_warnings"] == nlohmann::ordered_json::array());
  CHECK_FALSE(contains(report::render_html(r, "0.1.0"), "overflowed"));
}
