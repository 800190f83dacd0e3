// Unit tests of the contention profile on the report side: merged across processes,
// refused when malformed, ranked in the table and the stderr summary.
#include "report_side_fixtures.h"

TEST_CASE("profiles merge into one row per kind and first site across processes", "[profile]") {
  FakeSymbolizer symbolizer;
  report::Report report = merged({profiled_results(10, 1000000), profiled_results(20, 3000000)}, symbolizer);
  const report::Profiles& p = report.profiles;
  CHECK(p.processes == 2);
  CHECK(p.locks_not_listed == 2);
  REQUIRE(p.locks.size() == 2);
  const report::LockContention& hot = p.locks[0];
  CHECK(hot.site.at(0).function == "take_a_then_b");
  CHECK(hot.locks == 4);
  CHECK(hot.acquisitions == 200);
  CHECK(hot.contended == 20);
  CHECK(hot.wait_total_ns == 4000000);
  CHECK(hot.wait_max_ns == 1500000);
  CHECK(hot.wait_histogram.at(40) == 20);
  // The longest waiters of both processes, longest first, without gilwatch's own frame.
  REQUIRE(hot.waiters.size() == 2);
  CHECK(hot.waiters[0].pid == 20);
  CHECK(hot.waiters[0].wait_ns == 1500000);
  CHECK(hot.waiters[0].frames.at(0).function == "take_a_then_b");
  CHECK(p.locks[1].site.at(0).function == "take_b_then_a");
  CHECK(p.locks[1].locks == 2);  // "locks" absent: one lock per entry
  CHECK(p.locks[1].contended == 0);
  auto j = report::to_findings_json(report, "1");
  CHECK(j["profiles"]["locks"][0]["contended_share"] == 0.1);
  CHECK(j["profiles"]["locks"][0]["wait_p50_ns"].get<uint64_t>() <= 1500000);
  CHECK(j["profiles"]["locks"][1]["waiters"].empty());
  // A run without the profile option has no profiles key at all.
  report::Report plain = merged({abba_results(30)}, symbolizer);
  CHECK(plain.profiles.processes == 0);
  CHECK_FALSE(report::to_findings_json(plain, "1").contains("profiles"));
}

TEST_CASE("a profile with a bucket out of range is refused with its key named", "[profile]") {
  json document = profiled_results(10, 1000);
  document["profiles"]["locks"][0]["wait_histogram"] = {{160, 1}};
  std::string error = refusal(document.dump());
  CHECK(error.find("profiles.locks[0].wait_histogram[0][0]") != std::string::npos);
  CHECK(error.find("out of range") != std::string::npos);
}

TEST_CASE("the contention table and the stderr summary rank rows by total wait", "[profile]") {
  FakeSymbolizer symbolizer;
  report::Report report = merged({profiled_results(10, 1000000)}, symbolizer);
  std::string html = report::render_html(report, "1");
  REQUIRE(contains(html, "<table class=\"sortable contention\">"));
  CHECK(html.find("take_a_then_b (abba.c:12)") < html.find("take_b_then_a (abba.c:20)"));
  CHECK(contains(html, "<td data-v=\"0.100000\">10.0%</td>"));
  CHECK(contains(html, "The longest waits for the mutex first taken in <code>take_a_then_b (abba.c:12)</code>"));
  std::string text = report::render_text(report);
  CHECK(contains(text, "==gilwatch== lock contention (1 profiled process): the locks waited for longest\n"));
  CHECK(contains(text, "  mutex first taken in take_a_then_b (abba.c:12) (2 locks): 100 acquisitions, 10.0% "
                       "contended; waited 1 ms in all"));
}
