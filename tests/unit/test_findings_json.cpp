// Unit tests of findings.json (reports/findings_json): its keys and order, bytes that
// are not UTF-8.
#include "report_side_fixtures.h"

TEST_CASE("findings.json carries the documented keys, in order", "[findings_json]") {
  report::Report r = report_with_hostile_names();
  auto j = report::to_findings_json(r, "0.1.0");
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"format", "version", "tool", "command", "exit_status", "date", "processes",
                                         "untested_pythons", "free_threaded_pythons", "untracked_low_stack",
                                         "capacity_warnings", "findings", "suppressed",
                                         "baselined", "errors"});
  CHECK(j["untested_pythons"] == json::array());
  CHECK(j["untracked_low_stack"] == 0);
  CHECK(j["free_threaded_pythons"] == 0);
  CHECK(j["processes"][0]["free_threaded"] == false);
  CHECK(j["processes"][0]["checks_off"] == json::array());
  CHECK(j["format"] == "gilwatch-findings");
  CHECK(j["version"] == 1);
  CHECK(j["tool"]["version"] == "0.1.0");
  const auto& f = j["findings"][0];
  for (const char* key : {"kind", "summary", "fingerprint", "severity", "count", "pids", "locks", "threads", "edges"})
    CHECK(f.contains(key));
  CHECK_FALSE(f.contains("suppression"));  // only under "suppressed"
  CHECK(f["threads"][0]["native_frames"][0] ==
        nlohmann::ordered_json::parse(
            R"({"pc":"0x1","module":"/lib/<b>.so","offset":"0x1","function":"f<T>&","file":"a\"b.c","line":3})"));
  CHECK(f["threads"][0]["python_frames"][0]["function"] == "<lambda>");
  CHECK(f["locks"][1]["name"] == "GIL");
  CHECK(f["locks"][0]["address"] == "0x10");
  CHECK(j["processes"][0]["exit_status"] == 0);
  CHECK(j["processes"][0]["python"].is_null());
  CHECK(j["errors"][0]["file"] == "/out/raw/<bad>.json");

  report::Report from_report;
  from_report.inputs = {"a", "b"};
  auto k = report::to_findings_json(from_report, "0.1.0");
  CHECK(k["inputs"] == json({"a", "b"}));
  CHECK_FALSE(k.contains("command"));
  CHECK(k["exit_status"].is_null());
  CHECK(k["findings"].is_array());
}

TEST_CASE("findings.json survives bytes that are not UTF-8", "[findings_json]") {
  report::Report r;
  r.command = {"prog\xff\xfe"};
  std::string text = report::render_findings_json(r, "0.1.0");
  CHECK(json::parse(text)["command"][0] == "prog\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("each finding's text is its block of the text report, folded unless every frame is asked for",
          "[findings_json][text_report]") {
  report::Report r;
  report::Finding f;
  f.kind = "gil-held-blocking";
  f.summary = "blocking call usleep while holding the GIL";
  f.detail = "usleep";
  f.pids = {9};
  f.threads = {pytest_thread()};
  r.findings = {f};
  std::string text = report::to_findings_json(r, "0.1.0")["findings"][0]["text"];
  CHECK(text + "\n\n" == report::finding_text(r, f));
  CHECK(contains(report::render_text(r), text));
  CHECK(text.rfind("==9==WARNING: gilwatch: gil-held-blocking\n  blocking call usleep while holding the GIL\n", 0) == 0);
  CHECK(contains(text, "\n  fix: "));
  CHECK(contains(text, " in registry_store registry.c:40 (_registry.cpython-310-x86_64-linux-gnu.so+"));
  CHECK(contains(text, "\n    \u2026 23 interpreter, test-runner and thread start frames"));
  CHECK_FALSE(contains(text, "\nusleep\n"));  // the raw detail is not a line of its own
  CHECK_FALSE(contains(text, "  usleep\n"));
  // --full-stacks: every frame, none folded.
  std::string full = report::to_findings_json(r, "0.1.0", {true})["findings"][0]["text"];
  CHECK_FALSE(contains(full, "\u2026"));
  CHECK(contains(full, "\n    #28 0x"));
  CHECK(contains(full, "\n  fix: "));
}
