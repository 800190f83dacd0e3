// html_pictures: the pictures of the HTML report, drawn with svg.h — a lock-order cycle
// (locks, an edge per ordering), a deadlock (threads and locks, "waits for" and "held
// by"), and the charts of what a run measured. It draws the finding it is given; which
// locks and threads a finding has is the engine's and the merge's business.
#include <fmt/format.h>

#include "describe.h"
#include "html_parts.h"
#include "svg.h"

namespace gilwatch::report::html_parts {

namespace {

// "f (file.c:12)": the innermost frame with a known function, past a language runtime's
// own frames (a Rust lock's slow path, PyO3's attach) when the program has one there.
std::string site_text(const std::vector<NativeFrame>& frames) {
  auto named = [](const NativeFrame& f) { return !f.function.empty() && f.function != "??"; };
  auto from = frames.begin() + long(first_program_frame(frames));
  auto frame = std::find_if(from, frames.end(), named);
  if (frame == frames.end()) frame = std::find_if(frames.begin(), frames.end(), named);
  if (frame != frames.end()) return frame_label(*frame);
  return frames.empty() ? "" : hex(frames.front().pc);
}

std::string thread_text(const Thread& t) {
  return "thread " + std::to_string(t.tid) + (t.name.empty() ? "" : " '" + t.name + "'");
}

svg::GraphNode lock_node(const Lock& lock) {
  svg::GraphNode node;
  if (lock.kind == "gil") {
    node.label = lock.address ? "the GIL of interpreter " + hex(lock.address) : "the GIL";
    node.shape = svg::NodeShape::kGil;
    return node;
  }
  node.label = describe_lock(lock);
  if (!lock.first_site.empty() && !lock.first_site.front().function.empty() &&
      lock.first_site.front().function != "??")
    node.sublabel = "first taken in " + lock.first_site.front().function;
  return node;
}

}  // namespace

// A lock-order cycle: the locks, an edge per ordering with the thread and the site
// that made it.
std::string cycle_picture(const Finding& f) {
  std::vector<svg::GraphNode> nodes;
  std::vector<int> ids;
  auto index_of = [&](int id) {
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (ids[i] == id) return int(i);
    const Lock* lock = find_lock(f, id);
    if (!lock) return -1;
    ids.push_back(id);
    nodes.push_back(lock_node(*lock));
    return int(ids.size() - 1);
  };
  std::vector<svg::GraphEdge> edges;
  for (const Edge& e : f.edges) {
    int from = index_of(e.from), to = index_of(e.to);
    if (from < 0 || to < 0) return "";
    std::string label;
    if (e.thread_index >= 0 && std::size_t(e.thread_index) < f.threads.size()) {
      const Thread& t = f.threads[e.thread_index];
      label = thread_text(t);
      std::string site = site_text(t.native_frames);
      if (!site.empty()) label += ": " + site;
    }
    edges.push_back({from, to, label, false});
  }
  return svg::graph(nodes, edges, "lock-order cycle: " + cycle_text(f));
}

// A deadlock: threads and locks, "waits for" and "held by" edges.
std::string wait_for_picture(const Finding& f) {
  bool structured = false;
  for (const Thread& t : f.threads) structured = structured || t.waits_for.has_value();
  if (!structured) return "";
  std::vector<svg::GraphNode> nodes;
  std::vector<svg::GraphEdge> edges;
  std::vector<int> lock_ids;
  auto lock_index = [&](int id) {
    for (std::size_t i = 0; i < lock_ids.size(); ++i)
      if (lock_ids[i] == id) return int(f.threads.size() + i);
    const Lock* lock = find_lock(f, id);
    if (!lock) return -1;
    lock_ids.push_back(id);
    return int(f.threads.size() + lock_ids.size() - 1);
  };
  for (const Thread& t : f.threads) nodes.push_back({thread_text(t), site_text(t.native_frames), svg::NodeShape::kThread});
  // Interleave locks between the threads that wait for them, so the cycle reads around.
  for (std::size_t i = 0; i < f.threads.size(); ++i)
    if (f.threads[i].waits_for) lock_index(*f.threads[i].waits_for);
  for (const Thread& t : f.threads)
    for (int id : t.holds) lock_index(id);
  for (int id : lock_ids) nodes.push_back(lock_node(*find_lock(f, id)));
  for (std::size_t i = 0; i < f.threads.size(); ++i) {
    const Thread& t = f.threads[i];
    if (t.waits_for) edges.push_back({int(i), lock_index(*t.waits_for), "waits for", false});
    for (int id : t.holds) edges.push_back({lock_index(id), int(i), "held by", true});
  }
  // Order nodes around the circle as thread, the lock it waits for, the next thread...
  std::vector<int> order;
  std::vector<bool> placed(nodes.size(), false);
  for (std::size_t i = 0; i < f.threads.size(); ++i) {
    if (!placed[i]) order.push_back(int(i)), placed[i] = true;
    if (f.threads[i].waits_for) {
      int l = lock_index(*f.threads[i].waits_for);
      if (l >= 0 && !placed[l]) order.push_back(l), placed[l] = true;
    }
  }
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (!placed[i]) order.push_back(int(i));
  std::vector<int> position(nodes.size());
  std::vector<svg::GraphNode> ordered;
  for (std::size_t k = 0; k < order.size(); ++k) position[order[k]] = int(k), ordered.push_back(nodes[order[k]]);
  for (svg::GraphEdge& e : edges) e.from = position[e.from], e.to = position[e.to];
  return svg::graph(ordered, edges, "wait-for graph: " + f.summary);
}

// The charts of what one run measured: threads and fds per teardown cycle, or
// throughput per thread count against the target.
std::string measurement_charts(const Run& run) {
  const Measurements& m = run.measured;
  std::string out;
  if (!m.cycles.empty()) {
    svg::Series threads{"native threads", {}, "s1"}, fds{"open fds", {}, "s2"};
    if (m.baseline_threads) threads.points.push_back({0, double(*m.baseline_threads)});
    if (m.baseline_fds) fds.points.push_back({0, double(*m.baseline_fds)});
    for (const TeardownCycle& c : m.cycles) {
      threads.points.push_back({double(c.cycle), double(c.threads)});
      fds.points.push_back({double(c.cycle), double(c.fds)});
    }
    out += "<figure class=\"leak-chart\">" +
           svg::line_chart({"native threads", "teardown cycle (0: before)", "threads", {threads}, std::nullopt, ""}) +
           "<figcaption>" + esc(run.run.label()) + ": native threads after each teardown cycle</figcaption></figure>\n";
    out += "<figure class=\"leak-chart\">" +
           svg::line_chart({"open fds", "teardown cycle (0: before)", "fds", {fds}, std::nullopt, ""}) +
           "<figcaption>" + esc(run.run.label()) + ": open fds after each teardown cycle</figcaption></figure>\n";
  }
  if (!m.throughput.empty()) {
    svg::Series measured{"measured", {}, "s1"}, ideal{"linear", {}, "ideal"};
    double one = 0;
    for (auto [n, v] : m.throughput)
      if (n == 1) one = v;
    for (auto [n, v] : m.throughput) {
      measured.points.push_back({double(n), v});
      if (one > 0) ideal.points.push_back({double(n), one * n});
    }
    std::optional<double> target;
    std::string target_label;
    if (one > 0 && m.min_speedup > 0) {
      target = one * m.min_speedup;
      target_label = fmt::format("target {:.2g}x at {} threads", m.min_speedup, m.at_threads);
    }
    out += "<figure class=\"speedup-chart\">" +
           svg::line_chart({"throughput", "threads", "calls/s", {ideal, measured}, target, target_label}) +
           "<figcaption>" + esc(run.run.label()) + ": calls per second by thread count</figcaption></figure>\n";
  }
  return out.empty() ? "" : "<div class=\"charts\">\n" + out + "</div>\n";
}

}  // namespace gilwatch::report::html_parts
