// Suppressions (the KIND:PATTERN file and which findings it matches), the baseline file,
// fingerprints that survive address-space randomization, rebuilds and line drift, and
// how `run`, `stress` and `report` set findings aside (triage) and show them.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "baseline.h"
#include "describe.h"
#include "findings_json.h"
#include "html_report.h"
#include "merge.h"
#include "sarif.h"
#include "suppressions.h"
#include "text_report.h"
#include "triage.h"

using namespace gilwatch;
using harness::SuppressionRule;
using report::Finding;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

report::NativeFrame frame(uint64_t pc, const std::string& module, const std::string& function, const std::string& file,
                          int line) {
  return {pc, module, pc - 0x7f0000000000, function, file, line};
}

// abba: two threads take mutex_a and mutex_b in opposite orders, in libabba.so's
// take_a_then_b and take_b_then_a; `shift` moves every address (ASLR), `lines` every
// line number (a rebuild after unrelated lines were added above).
Finding abba(uint64_t shift = 0, int lines = 0) {
  Finding f;
  f.kind = "lock-order-inversion";
  f.pids = {4242};
  f.locks = {{0, "mutex_a", "mutex", 0x7f0000005000 + shift, {}}, {1, "mutex_b", "mutex", 0x7f0000006000 + shift, {}}};
  report::Thread first, second;
  first.tid = 11;
  first.native_frames = {frame(0x7f0000001100 + shift, "/opt/app/lib/libabba.so", "take_a_then_b", "/src/abba.c", 13 + lines),
                         frame(0x7f0000001200 + shift, "/opt/app/lib/libabba.so", "first_thread", "/src/abba.c", 26 + lines)};
  first.python_frames = {{"run_first", "/src/tests/drive.py", 7 + lines}};
  second.tid = 12;
  second.native_frames = {frame(0x7f0000001300 + shift, "/opt/app/lib/libabba.so", "take_b_then_a", "/src/abba.c", 20 + lines)};
  f.threads = {first, second};
  f.edges = {{0, 1, "write", "write", 0}, {1, 0, "write", "write", 1}};
  f.summary = "lock-order inversion (potential deadlock): mutex mutex_a -> mutex mutex_b -> mutex mutex_a";
  f.signature = harness::finding_signature(f);
  return f;
}

std::vector<SuppressionRule> rules_of(const std::string& text) {
  std::vector<SuppressionRule> rules;
  std::string error;
  REQUIRE(harness::parse_suppressions(text, "supp.txt", &rules, &error));
  CHECK(error.empty());
  return rules;
}

std::string parse_error(const std::string& text) {
  std::vector<SuppressionRule> rules;
  std::string error;
  CHECK_FALSE(harness::parse_suppressions(text, "supp.txt", &rules, &error));
  return error;
}

}  // namespace

TEST_CASE("glob patterns match the whole name, with * and ?", "[suppressions]") {
  using harness::glob_match;
  CHECK(glob_match("take_a_then_b", "take_a_then_b"));
  CHECK_FALSE(glob_match("take_a", "take_a_then_b"));  // the whole name, not a prefix
  CHECK(glob_match("take_*", "take_a_then_b"));
  CHECK(glob_match("*then*", "take_a_then_b"));
  CHECK(glob_match("take_?_then_b", "take_a_then_b"));
  CHECK_FALSE(glob_match("take_?_then_b", "take_ab_then_b"));
  CHECK(glob_match("*", ""));
  CHECK(glob_match("*/third_party/*", "/src/third_party/zlib/inflate.c"));
  CHECK(glob_match("a*b*c", "aXXbYYbZc"));
  CHECK_FALSE(glob_match("a*b*c", "aXXbYYbZ"));
}

TEST_CASE("a suppressions file: KIND:PATTERN lines, comments and blank lines", "[suppressions]") {
  auto rules = rules_of("# known bugs in a vendored library\n"
                        "\n"
                        "lock-order-inversion:libvendor*.so\n"
                        "  gil-held-blocking : *::block_on  \r\n"
                        "*:third_party/*\n");
  REQUIRE(rules.size() == 3);
  CHECK(rules[0].kind == "lock-order-inversion");
  CHECK(rules[0].pattern == "libvendor*.so");
  CHECK(rules[0].line == 3);
  CHECK(rules[0].file == "supp.txt");
  CHECK(rules[1].text() == "gil-held-blocking:*::block_on");
  CHECK(rules[1].line == 4);
  CHECK(rules[2].kind == "*");
  CHECK(rules_of("").empty());
  CHECK(rules_of("# only a comment\n\n").empty());
}

TEST_CASE("a malformed suppressions line is an error naming the file and line", "[suppressions]") {
  SECTION("no colon") {
    std::string error = parse_error("# header\n\nlibfoo.so\n");
    CHECK(error.rfind("supp.txt:3: ", 0) == 0);
    CHECK(has(error, "KIND:PATTERN"));
    CHECK(has(error, "'libfoo.so'"));
  }
  SECTION("unknown kind") {
    std::string error = parse_error("deadlock:f\nrace:f\n");
    CHECK(error.rfind("supp.txt:2: ", 0) == 0);
    CHECK(has(error, "unknown finding kind 'race'"));
    CHECK(has(error, "lock-order-inversion"));  // lists the kinds it knows
  }
  SECTION("empty pattern") {
    std::string error = parse_error("deadlock:   \n");
    CHECK(error.rfind("supp.txt:1: ", 0) == 0);
    CHECK(has(error, "empty pattern"));
  }
  SECTION("empty kind") {
    CHECK(parse_error("\n:f\n").rfind("supp.txt:2: ", 0) == 0);
  }
}

TEST_CASE("a rule matches any frame of the finding's stacks: function, module, source, Python", "[suppressions]") {
  Finding f = abba();
  auto matched = [&](const std::string& rule) {
    auto m = harness::match_suppression(f, rules_of(rule));
    return m ? m->frame : std::string("(none)");
  };
  CHECK(matched("lock-order-inversion:take_b_then_a") == "take_b_then_a");  // the second thread's frame
  CHECK(matched("lock-order-inversion:first_thread") == "first_thread");    // not only the innermost
  CHECK(matched("lock-order-inversion:libabba.so") == "libabba.so");        // module file name
  CHECK(matched("*:/opt/app/lib/*") == "/opt/app/lib/libabba.so");          // module path
  CHECK(matched("*:abba.c") == "abba.c");                                   // source file name
  CHECK(matched("*:/src/*.c") == "/src/abba.c");                            // source path
  CHECK(matched("*:run_first") == "run_first");                             // Python function
  CHECK(matched("*:drive.py") == "drive.py");                               // Python file
  // Negative twins: another kind, a name no frame has, a part of a name.
  CHECK(matched("deadlock:take_b_then_a") == "(none)");
  CHECK(matched("lock-order-inversion:take_c_then_d") == "(none)");
  CHECK(matched("lock-order-inversion:take_b") == "(none)");
  CHECK(matched("*:libother.so") == "(none)");

  auto m = harness::match_suppression(f, rules_of("deadlock:*\n# x\nlock-order-inversion:take_*\n*:abba.c\n"));
  REQUIRE(m);
  CHECK(m->rule == "lock-order-inversion:take_*");  // the first rule that matches
  CHECK(m->file == "supp.txt");
  CHECK(m->line == 3);
}

TEST_CASE("fingerprints survive ASLR, rebuilds and line drift; another function changes them", "[fingerprint]") {
  Finding f = abba();
  std::string fp = report::fingerprint(f);
  CHECK(fp.size() == 16);
  CHECK(fp.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(report::fingerprint(abba(0x123456000)) == fp);     // every address moved
  CHECK(report::fingerprint(abba(0, 40)) == fp);           // every line moved
  CHECK(report::fingerprint(abba(0x9000, 3)) == fp);
  Finding other_pids = abba();
  other_pids.pids = {1, 2, 3};
  other_pids.threads[0].tid = 999;
  other_pids.signature = harness::finding_signature(other_pids);
  CHECK(report::fingerprint(other_pids) == fp);
  // A compiler clone of the same function is the same code.
  Finding cloned = abba();
  cloned.threads[1].native_frames[0].function = "take_b_then_a.isra.0";
  cloned.signature = harness::finding_signature(cloned);
  CHECK(report::fingerprint(cloned) == fp);
  Finding cloned_cpp = abba();
  cloned_cpp.threads[1].native_frames[0].function = "take_b_then_a [clone .constprop.0]";
  cloned_cpp.signature = harness::finding_signature(cloned_cpp);
  CHECK(report::fingerprint(cloned_cpp) == fp);
  // Negative twins: another function, another lock, another kind.
  Finding moved = abba();
  moved.threads[1].native_frames[0].function = "take_b_then_c";
  moved.signature = harness::finding_signature(moved);
  CHECK(report::fingerprint(moved) != fp);
  Finding renamed = abba();
  renamed.locks[1].name = "mutex_c";
  renamed.signature = harness::finding_signature(renamed);
  CHECK(report::fingerprint(renamed) != fp);
  Finding deadlock = abba();
  deadlock.kind = "deadlock";
  CHECK(report::fingerprint(deadlock) != fp);
  // A defined hash (FNV-1a), not std::hash: the same value whatever built gilwatch.
  Finding fixed;
  fixed.kind = "deadlock";
  fixed.signature = "";
  CHECK(report::fingerprint(fixed) == "52b2bcf0b8a7c8ce");
}

TEST_CASE("stable function names drop only what the compiler adds to clones", "[fingerprint]") {
  CHECK(harness::stable_function_name("f.isra.0") == "f");
  CHECK(harness::stable_function_name("f.constprop.0.cold") == "f");
  CHECK(harness::stable_function_name("f.part.1") == "f");
  CHECK(harness::stable_function_name("ns::f(int) [clone .isra.0]") == "ns::f(int)");
  CHECK(harness::stable_function_name("ns::f(int)") == "ns::f(int)");
  CHECK(harness::stable_function_name("f") == "f");
}

TEST_CASE("a baseline file: fingerprints first, comments, an error naming file and line", "[baseline]") {
  harness::Baseline baseline;
  std::string error;
  REQUIRE(harness::parse_baseline("# header\n\n0123456789abcdef lock-order-inversion a summary\nfedcba9876543210\n",
                                  "base.txt", &baseline, &error));
  CHECK(baseline.fingerprints == std::set<std::string>{"0123456789abcdef", "fedcba9876543210"});
  CHECK(baseline.file == "base.txt");
  harness::Baseline bad;
  CHECK_FALSE(harness::parse_baseline("# header\n0123456789abcdef x\nnot-a-fingerprint deadlock\n", "base.txt", &bad,
                                      &error));
  CHECK(error.rfind("base.txt:3: ", 0) == 0);
  CHECK(has(error, "'not-a-fingerprint'"));
  CHECK_FALSE(harness::parse_baseline("0123456789ABCDEF x\n", "base.txt", &bad, &error));  // lowercase only
  CHECK(error.rfind("base.txt:1: ", 0) == 0);
}

TEST_CASE("a written baseline reads back as the fingerprints of the findings and the known ones", "[baseline]") {
  report::Report r;
  r.findings = {abba()};
  Finding known = abba();
  known.threads[1].native_frames[0].function = "other";
  known.signature = harness::finding_signature(known);
  known.summary = "two\nlines";
  r.baselined = {known};
  Finding suppressed = abba();
  suppressed.kind = "deadlock";
  r.suppressed = {suppressed};
  std::string text = harness::render_baseline(r);
  CHECK(has(text, report::fingerprint(abba()) + " lock-order-inversion lock-order inversion"));
  CHECK(has(text, "two lines"));  // one line per finding
  harness::Baseline baseline;
  std::string error;
  REQUIRE(harness::parse_baseline(text, "b", &baseline, &error));
  CHECK(baseline.fingerprints == std::set<std::string>{report::fingerprint(abba()), report::fingerprint(known)});
}

TEST_CASE("triage sets suppressed and known findings aside, and every output shows them", "[suppressions][baseline]") {
  Finding inversion = abba();
  Finding blocking;
  blocking.kind = "gil-held-blocking";
  blocking.summary = "pthread_join with the GIL held";
  blocking.detail = "pthread_join";
  report::Thread t;
  t.native_frames = {frame(0x7f0000002000, "/opt/app/lib/libjoin.so", "join_all", "/src/join.c", 9)};
  blocking.threads = {t};
  blocking.signature = harness::finding_signature(blocking);
  Finding fresh = blocking;
  fresh.threads[0].native_frames[0].function = "join_one";
  fresh.signature = harness::finding_signature(fresh);

  report::Report r;
  r.command = {"./abba"};
  r.findings = {inversion, blocking, fresh};
  harness::Triage triage;
  triage.rules = rules_of("lock-order-inversion:libabba.so\n");
  triage.baseline = harness::Baseline{"base.txt", {report::fingerprint(blocking)}};
  harness::apply_triage(triage, &r);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].threads[0].native_frames[0].function == "join_one");
  REQUIRE(r.suppressed.size() == 1);
  CHECK(r.suppressed[0].suppressed_by->rule == "lock-order-inversion:libabba.so");
  REQUIRE(r.baselined.size() == 1);
  CHECK(r.baseline_file == "base.txt");

  std::string line = report::summary_line(r, "out/report.html");
  CHECK(line == "gilwatch: 1 new finding (gil-held-blocking), 1 known (baseline base.txt), 1 suppressed -> "
                "out/report.html");
  auto json = nlohmann::json::parse(report::render_findings_json(r, "1"));
  REQUIRE(json["findings"].size() == 1);
  CHECK(json["findings"][0]["fingerprint"] == report::fingerprint(fresh));
  REQUIRE(json["suppressed"].size() == 1);
  CHECK(json["suppressed"][0]["kind"] == "lock-order-inversion");
  CHECK(json["suppressed"][0]["suppression"]["rule"] == "lock-order-inversion:libabba.so");
  CHECK(json["suppressed"][0]["suppression"]["file"] == "supp.txt");
  CHECK(json["suppressed"][0]["suppression"]["line"] == 1);
  CHECK(json["suppressed"][0]["suppression"]["frame"] == "libabba.so");
  REQUIRE(json["baselined"].size() == 1);
  CHECK(json["baselined"][0]["fingerprint"] == report::fingerprint(blocking));
  CHECK(json["baseline"] == "base.txt");
  std::string html = report::render_html(r, "1", {});
  CHECK(has(html, "<details class=\"suppressed\">"));
  CHECK(has(html, "lock-order-inversion:libabba.so"));
  CHECK(has(html, "<details class=\"baselined\">"));
  std::string aside = report::set_aside_text(r);
  CHECK(has(aside, "suppressed by lock-order-inversion:libabba.so (supp.txt:1, matched libabba.so)"));
  CHECK(has(aside, "known (baseline base.txt, fingerprint " + report::fingerprint(blocking) + ")"));
  CHECK_FALSE(has(report::render_text(r), "take_a_then_b"));  // not among the reported
  auto sarif = nlohmann::json::parse(report::render_sarif(r, "1", {}));
  const auto& results = sarif["runs"][0]["results"];
  REQUIRE(results.size() == 3);
  CHECK(results[0]["baselineState"] == "new");
  CHECK(results[1]["baselineState"] == "unchanged");
  CHECK(results[2]["suppressions"][0]["kind"] == "external");
  CHECK(results[0]["partialFingerprints"]["gilwatchSignature/v2"] == report::fingerprint(fresh));
}

TEST_CASE("without suppressions or a baseline nothing is set aside and the summary is unchanged", "[suppressions]") {
  report::Report r;
  r.findings = {abba()};
  harness::apply_triage(harness::Triage{}, &r);
  CHECK(r.findings.size() == 1);
  CHECK(r.suppressed.empty());
  CHECK(r.baselined.empty());
  CHECK(report::summary_line(r, "x.html") == "gilwatch: 1 finding (lock-order-inversion) -> x.html");
  auto json = nlohmann::json::parse(report::render_findings_json(r, "1"));
  CHECK(json["suppressed"].empty());
  CHECK(json["baselined"].empty());
  CHECK_FALSE(json.contains("baseline"));
  r.findings.clear();
  r.baseline_file = "b.txt";
  CHECK(report::summary_line(r, "x.html") == "gilwatch: no new findings, 0 known (baseline b.txt) -> x.html");
}

TEST_CASE("the suppressions key of GILWATCH_OPTIONS", "[suppressions]") {
  CHECK(harness::suppressions_option("exitcode=3:suppressions=/tmp/s.txt:verbosity=1") == "/tmp/s.txt");
  CHECK(harness::suppressions_option("exitcode=3") == "");
  CHECK(harness::suppressions_option(nullptr) == "");
}
