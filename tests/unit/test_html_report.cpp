// Unit tests of the HTML report (reports/html_report): escaping, the verdict, cycles,
// stacks and locks.
#include "report_side_fixtures.h"

TEST_CASE("everything from the process under test is escaped in the HTML report", "[html]") {
  std::string html = report::render_html(report_with_hostile_names(), "test");
  // Only the page's own script (the table sorter, at the end) and its own pictures.
  CHECK(count_of(html, "<script") == 1);
  CHECK(html.find("<script") > html.rfind("</section>"));
  CHECK(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK_FALSE(contains(html, "alert(1)</script>"));
  CHECK_FALSE(contains(html, "<img"));
  CHECK_FALSE(contains(html, "<svg onload"));
  CHECK_FALSE(contains(html, "<i>name"));
  CHECK_FALSE(contains(html, "<b>"));
  CHECK_FALSE(contains(html, "<x>"));
  CHECK_FALSE(contains(html, "<oops>"));
  CHECK(contains(html, "f&lt;T&gt;&amp;"));
  CHECK(contains(html, "a&quot;b.c:3"));
  CHECK(contains(html, "&lt;lambda&gt;"));
  CHECK(contains(html, "x&#39;.py"));
  CHECK(contains(html, "&lt;bad&gt;.json"));
  CHECK_FALSE(contains(html, "http://"));  // nothing to fetch
  CHECK_FALSE(contains(html, "https://"));
}

TEST_CASE("the HTML report shows the verdict, the cycle with the GIL marked, stacks and locks", "[html]") {
  report::Report r = report_with_hostile_names();
  r.errors.clear();
  std::string html = report::render_html(r, "9.9.9");
  CHECK(contains(html, "<p class=\"verdict bad\" id=\"verdict\">1 finding.</p>"));
  CHECK(contains(html, "Lock-order inversion (potential deadlock)"));
  CHECK(contains(html, "mutex 0x10 &#39;&lt;i&gt;name&lt;/i&gt;&#39; (first taken in ctor&lt;T&gt;) &rarr; "
                       "<span class=\"gil\">the GIL</span> &rarr; mutex 0x10 &#39;&lt;i&gt;name&lt;/i&gt;&#39;</p>"));
  CHECK(contains(html, "Python frames (innermost first)"));
  CHECK(contains(html, "<th>first taken at</th>"));
  CHECK(contains(html, "9.9.9"));
  r.findings.clear();
  CHECK(contains(report::render_html(r, "x"), "<p class=\"verdict good\" id=\"verdict\">No findings.</p>"));
  r.errors = {{"f", "m"}};
  CHECK(contains(report::render_html(r, "x"), "verdict warn"));
}

TEST_CASE("html_escape covers element content and both attribute quotes", "[html]") {
  CHECK(report::html_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(report::html_escape(std::string("nul\0x", 5)) == "nul&#xFFFD;x");
  CHECK(report::html_escape("plain ü") == "plain ü");
}
