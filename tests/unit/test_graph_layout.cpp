// The pictures' layout (reports/graph_layout.h) on the shapes the reports draw: lock-order
// cycles of 2, 3, 20 and 30 locks, and wait-for graphs of deadlocks through a join, the
// GIL, a condition variable and a futex word, with locks off the cycle. Every edge of the
// cycle is drawn with its label, every label lies inside the view box and none overlaps
// another label or a node. The browser test (tests/integration/test_report_pictures.py)
// checks the same in Chromium.
#include <catch2/catch.hpp>

#include <regex>

#include "graph_layout.h"
#include "html_report.h"
#include "svg.h"

using namespace gilwatch;
using namespace gilwatch::report::svg;

namespace {

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// A lock_ring-like cycle: lock i -> lock i+1, each edge by its own thread and site.
void ring(int locks, std::vector<GraphNode>& nodes, std::vector<GraphEdge>& edges) {
  for (int i = 0; i < locks; ++i) {
    nodes.push_back({"mutex 0x55d0c0a0" + std::to_string(4000 + 64 * i), "first taken in take_pair", NodeShape::kLock});
    edges.push_back({i, (i + 1) % locks,
                     "thread " + std::to_string(412340 + i) + " 'ring-" + std::to_string(i) +
                         "': take_pair (lock_ring.c:31)",
                     false});
  }
}

void check_layout(const Layout& layout, const std::vector<GraphEdge>& edges) {
  INFO("problems: " << [&] {
    std::string all;
    for (const std::string& p : problems(layout)) all += p + "; ";
    return all;
  }());
  CHECK(problems(layout).empty());
  REQUIRE(layout.edges.size() == edges.size());
  for (std::size_t i = 0; i < edges.size(); ++i) {
    CHECK(layout.edges[i].from == edges[i].from);
    CHECK(layout.edges[i].to == edges[i].to);
    CHECK(layout.edges[i].label == cut_text(edges[i].label, kEdgeChars));
    if (edges[i].label.empty()) continue;
    const Rect& box = layout.edges[i].label_box;
    CHECK(box.inside(layout.view));
    // Wide enough for the text in 11px monospace (0.6em a glyph).
    std::size_t glyphs = 0;
    for (unsigned char c : layout.edges[i].label) glyphs += (c & 0xC0) != 0x80;
    CHECK(box.x1 - box.x0 >= 6.6 * double(glyphs));
    CHECK(glyphs <= kEdgeChars);
  }
  for (const PlacedNode& node : layout.nodes) CHECK(node.box().inside(layout.view));
}

// Every arrow and every label of the rendered picture, once.
void check_svg(const std::string& svg, const std::vector<GraphEdge>& edges) {
  CHECK(count(svg, "<path class=\"gw-edge") == edges.size());
  CHECK(count(svg, "<g class=\"gw-edge-label\"") == edges.size());
  for (std::size_t i = 0; i < edges.size(); ++i) {
    CHECK(count(svg, "<path class=\"gw-edge\" data-edge=\"" + std::to_string(i) + "\"") +
              count(svg, "<path class=\"gw-edge gw-dashed\" data-edge=\"" + std::to_string(i) + "\"") ==
          1);
    CHECK(count(svg, ">" + report::html_escape(cut_text(edges[i].label, kEdgeChars)) + "</text>") >= 1);
  }
  // The view box is the layout's, and the picture is drawn at that size.
  std::smatch m;
  REQUIRE(std::regex_search(svg, m, std::regex("viewBox=\"([-0-9.]+) ([-0-9.]+) ([0-9.]+) ([0-9.]+)\"")));
  CHECK(std::stod(m[3]) > 0);
  CHECK(std::stod(m[4]) > 0);
}

}  // namespace

TEST_CASE("a lock-order cycle of 2, 3, 20 or 30 locks: every edge drawn, labels inside and apart", "[svg][layout]") {
  int locks = GENERATE(2, 3, 4, 6, 7, 20, 30);
  INFO(locks << " locks");
  std::vector<GraphNode> nodes;
  std::vector<GraphEdge> edges;
  ring(locks, nodes, edges);
  Layout layout = layout_graph(nodes, edges);
  check_layout(layout, edges);
  CHECK(layout.cycle.size() == std::size_t(locks));
  CHECK(layout.column == (std::size_t(locks) > kMaxCircle));
  check_svg(graph(nodes, edges, "cycle"), edges);
}

TEST_CASE("a two-lock inversion puts one arrow above and one below, their labels apart", "[svg][layout]") {
  std::vector<GraphNode> nodes = {{"mutex 0x5000", "first taken in registry_store", NodeShape::kLock},
                                  {"the GIL", "", NodeShape::kGil}};
  std::vector<GraphEdge> edges = {{0, 1, "thread 4250 'worker': call_back (registry.c:184)", false},
                                  {1, 0, "thread 4249 'MainThread': registry_store (registry.c:40)", false}};
  Layout layout = layout_graph(nodes, edges);
  check_layout(layout, edges);
  CHECK_FALSE(layout.column);
  double first = (layout.edges[0].label_box.y0 + layout.edges[0].label_box.y1) / 2;
  double second = (layout.edges[1].label_box.y0 + layout.edges[1].label_box.y1) / 2;
  CHECK(first * second < 0);  // on both sides of the line through the nodes
}

TEST_CASE("the teardown deadlock: the join, the GIL wait and the GIL's holder form the drawn cycle", "[svg][layout]") {
  // Thread 0 joins thread 1 holding the GIL; thread 1 waits for the GIL; a lock held off the cycle.
  std::vector<GraphNode> nodes = {
      {"thread 4249 'MainThread'", "pool_dealloc_join_worker (teardown.c:88)", NodeShape::kThread},
      {"thread 4250 'pool-worker'", "worker_round_with_gil (teardown.c:52)", NodeShape::kThread},
      {"the GIL", "", NodeShape::kGil},
      {"mutex 0x5600", "first taken in pool_state", NodeShape::kLock}};
  std::vector<GraphEdge> edges = {{0, 1, "joins", false},
                                  {1, 2, "waits for", false},
                                  {2, 0, "held by", true},
                                  {3, 1, "held by", true}};
  Layout layout = layout_graph(nodes, edges);
  check_layout(layout, edges);
  CHECK(layout.cycle == std::vector<int>{0, 1, 2});
  check_svg(graph(nodes, edges, "wait-for"), edges);
}

TEST_CASE("a probable deadlock through a condition variable and an ABBA wait-for graph lay out cleanly",
          "[svg][layout]") {
  SECTION("condition variable") {
    std::vector<GraphNode> nodes = {{"thread 1 'MainThread'", "runtime_block_on_wait (blockon.c:70)", NodeShape::kThread},
                                    {"thread 2 'worker'", "run_task_with_gil (blockon.c:40)", NodeShape::kThread},
                                    {"the GIL", "", NodeShape::kGil},
                                    {"condition variable 0x7f0012345678", "", NodeShape::kLock}};
    std::vector<GraphEdge> edges = {
        {0, 3, "waits on", false}, {1, 2, "waits for", false}, {2, 0, "held by", true}, {3, 1, "to be woken by", true}};
    Layout layout = layout_graph(nodes, edges);
    check_layout(layout, edges);
    CHECK(layout.cycle.size() == 4);
  }
  SECTION("two threads, two mutexes, each also holding a third") {
    std::vector<GraphNode> nodes = {{"thread 11", "take_b_then_a (abba_hang.c:30)", NodeShape::kThread},
                                    {"thread 12", "take_a_then_b (abba_hang.c:20)", NodeShape::kThread},
                                    {"mutex 0xa", "first taken in take_a_then_b", NodeShape::kLock},
                                    {"mutex 0xb", "first taken in take_b_then_a", NodeShape::kLock},
                                    {"mutex 0xc", "first taken in setup", NodeShape::kLock},
                                    {"mutex 0xd", "first taken in setup", NodeShape::kLock}};
    std::vector<GraphEdge> edges = {{0, 2, "waits for", false}, {1, 3, "waits for", false}, {2, 1, "held by", true},
                                    {3, 0, "held by", true},    {4, 0, "held by", true},    {5, 1, "held by", true}};
    Layout layout = layout_graph(nodes, edges);
    check_layout(layout, edges);
    CHECK(layout.cycle.size() == 4);
  }
}

TEST_CASE("a long label is cut with its whole text in the tooltip, and its plate fits what is drawn", "[svg][layout]") {
  std::vector<GraphNode> nodes = {{"mutex 0x1", "", NodeShape::kLock}, {"mutex 0x2", "", NodeShape::kLock}};
  std::string long_label = "thread 1 'w': " + std::string(200, 'x') + "\u00e9";
  std::vector<GraphEdge> edges = {{0, 1, long_label, false}, {1, 0, "thread 2: f (a.c:1)", false}};
  Layout layout = layout_graph(nodes, edges);
  check_layout(layout, edges);
  CHECK(cut_text(long_label, kEdgeChars).size() < long_label.size());
  std::string svg = graph(nodes, edges, "t");
  CHECK(count(svg, "<title>" + report::html_escape(long_label) + "</title>") == 1);
  // Short text, and text of multibyte characters, is never cut.
  CHECK(cut_text("\u00e9\u00e9\u00e9", 3) == "\u00e9\u00e9\u00e9");
  CHECK(cut_text("\u00e9\u00e9\u00e9\u00e9", 3) == "\u00e9\u00e9\u2026");
}

TEST_CASE("the layout check finds overlapping labels and boxes outside the view", "[svg][layout]") {
  // The negative twin of the tests above: the check itself sees a bad layout.
  Layout bad;
  bad.nodes.resize(1);
  bad.nodes[0].center = {0, 0}, bad.nodes[0].half_width = 50, bad.nodes[0].half_height = 14;
  bad.edges.resize(2);
  bad.edges[0].label = "a", bad.edges[0].label_box = {100, 0, 200, 17};
  bad.edges[1].label = "b", bad.edges[1].label_box = {150, 5, 250, 22};
  bad.view = {-60, -20, 220, 40};
  std::vector<std::string> found = problems(bad);
  CHECK(std::count(found.begin(), found.end(), "label 0 overlaps label 1") == 1);
  CHECK(std::count(found.begin(), found.end(), "label 1 is outside the view") == 1);
  bad.edges[0].label_box = {-10, -5, 30, 12};  // on the node
  found = problems(bad);
  CHECK(std::count(found.begin(), found.end(), "label 0 overlaps node 0") == 1);
  bad.view = {-60, -20, 300, 40};
  bad.edges[0].label_box = {60, -30, 90, -13};
  CHECK(problems(bad) == std::vector<std::string>{"label 0 is outside the view"});
}

namespace {

// The teardown fixture's deadlock as the results give it: the main thread joins the
// worker holding the GIL (a join target is named only in the role's words), the worker
// waits for the GIL.
report::Finding teardown_deadlock(bool joins) {
  report::Finding f;
  f.kind = "deadlock";
  f.summary = "deadlock: 2 threads wait for each other";
  f.detail = "join,gil";
  f.pids = {10};
  f.locks = {{0, "GIL", "gil", 0, {}}};
  report::Thread main, worker;
  main.tid = 4249, main.name = "python3";
  main.role = joins ? "joins thread 4250 while holding the GIL (blocked 512 ms)"
                    : "sleeps while holding the GIL (blocked 512 ms)";
  main.holds = {0};
  main.native_frames = {{0x1000, "/ext/teardown.so", 0x10, "pool_dealloc_join_worker", "/src/teardown.c", 88}};
  worker.tid = 4250, worker.name = "pool-worker";
  worker.role = "waits for the GIL held by thread 4249 (blocked 512 ms)";
  worker.waits_for = 0;
  worker.native_frames = {{0x2000, "/ext/teardown.so", 0x20, "worker_round_with_gil", "/src/teardown.c", 52}};
  f.threads = {main, worker};
  return f;
}

std::string picture_of(const report::Finding& f) {
  report::Report r;
  r.findings = {f};
  std::string html = report::render_html(r, "1");
  auto at = html.find("<svg class=\"gw-graph\"");
  if (at == std::string::npos) return "";
  return html.substr(at, html.find("</svg>", at) - at);
}

}  // namespace

TEST_CASE("the teardown deadlock's picture draws the join, closing the cycle", "[svg][html]") {
  std::string svg = picture_of(teardown_deadlock(true));
  CHECK(count(svg, "<path class=\"gw-edge") == 3);
  CHECK(count(svg, ">joins</text>") == 1);
  CHECK(count(svg, ">waits for</text>") == 1);
  CHECK(count(svg, ">held by</text>") == 1);
  CHECK(count(svg, "class=\"gw-node gw-thread\"") == 2);  // the joined thread is the worker, drawn once
  // Its twin: a thread that joins nothing gets no join arrow.
  std::string twin = picture_of(teardown_deadlock(false));
  CHECK(count(twin, ">joins</text>") == 0);
  CHECK(count(twin, "<path class=\"gw-edge") == 2);
}

TEST_CASE("a probable deadlock on a condition variable draws the wait on it and who would wake it", "[svg][html]") {
  report::Finding f = teardown_deadlock(true);
  f.probable = true;
  f.detail = "condition,gil";
  f.threads[0].role = "waits on condition variable 0x7f0012345678 while holding the GIL (blocked 512 ms)";
  std::string svg = picture_of(f);
  CHECK(count(svg, ">condition variable 0x7f0012345678</text>") == 1);
  CHECK(count(svg, ">waits on</text>") == 1);
  CHECK(count(svg, ">to be woken by</text>") == 1);
  CHECK(count(svg, "<path class=\"gw-edge") == 4);
  // Not probable: nothing is guessed.
  f.probable = false;
  CHECK(count(picture_of(f), ">to be woken by</text>") == 0);
}

TEST_CASE("a picture without a cycle (a wait on a lock whose owner is gone) is a column, every edge drawn",
          "[svg][layout]") {
  std::vector<GraphNode> nodes = {{"thread 7 'child'", "child_lock (fork.c:12)", NodeShape::kThread},
                                  {"mutex 0x7000", "first taken in parent_take", NodeShape::kLock},
                                  {"thread 6", "", NodeShape::kThread}};
  std::vector<GraphEdge> edges = {{0, 1, "waits for", false}, {2, 1, "held by (ended)", true}};
  Layout layout = layout_graph(nodes, edges);
  check_layout(layout, edges);
  CHECK(layout.column);
  check_svg(graph(nodes, edges, "no cycle"), edges);
}

TEST_CASE("a deadlock at exit (no cycle: the lock's holder waits for a GIL no one holds) reads down the arrows",
          "[svg][layout]") {
  // Threads first, then locks, as the report lists them.
  std::vector<GraphNode> nodes = {{"thread 1", "lock_worker_state (finalize.c:186)", NodeShape::kThread},
                                  {"thread 2", "", NodeShape::kThread},
                                  {"mutex 0x7f17a65a82a0", "", NodeShape::kLock},
                                  {"the GIL", "", NodeShape::kGil}};
  std::vector<GraphEdge> edges = {{0, 2, "waits for", false}, {1, 3, "waits for", false}, {2, 1, "held by", true}};
  Layout layout = layout_graph(nodes, edges);
  check_layout(layout, edges);
  CHECK(layout.column);
  CHECK(layout.cycle == std::vector<int>{0, 2, 1, 3});
  // Every arrow goes down the column to the next node.
  for (const PlacedEdge& e : layout.edges) CHECK(e.end.y > e.start.y);
}
