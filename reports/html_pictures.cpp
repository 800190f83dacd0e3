// html_pictures: the pictures of the HTML report, drawn with svg.h — a lock-order cycle
// (locks, an edge per ordering), a deadlock (threads, locks and condition variables:
// "waits for", "joins", "waits on", "held by"), and the charts of what a run measured. It draws the finding it is given; which
// locks and threads a finding has is the engine's and the merge's business.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>

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

namespace {

// What a thread waits for that is not a lock of the finding, from the words of its role
// (the results name a join's thread and a condition variable only there): "joins thread
// 4251 ..." and "waits on condition variable 0x7f00...".
std::optional<uint64_t> joined_thread(const std::string& role) {
  static const std::string kJoins = "joins thread ";
  if (role.compare(0, kJoins.size(), kJoins) != 0) return std::nullopt;
  uint64_t tid = 0;
  std::size_t i = kJoins.size();
  if (i >= role.size() || !std::isdigit(static_cast<unsigned char>(role[i]))) return std::nullopt;
  for (; i < role.size() && std::isdigit(static_cast<unsigned char>(role[i])); ++i) tid = tid * 10 + (role[i] - '0');
  return tid;
}

std::string condition_waited_on(const std::string& role) {
  static const std::string kCondition = "waits on condition variable ";
  if (role.compare(0, kCondition.size(), kCondition) != 0) return "";
  std::size_t end = role.find(' ', kCondition.size());
  return "condition variable " + role.substr(kCondition.size(), end - kCondition.size());
}

}  // namespace

// A deadlock: threads and what they wait for — a lock ("waits for"), a thread they join
// ("joins"), a condition variable ("waits on") — and the locks they hold ("held by",
// dashed). In a probable deadlock nothing names who would wake the waited object: a
// dashed "to be woken by" arrow goes from it to each other blocked thread.
std::string wait_for_picture(const Finding& f) {
  bool structured = false;
  for (const Thread& t : f.threads)
    structured = structured || t.waits_for.has_value() || joined_thread(t.role) || !condition_waited_on(t.role).empty();
  if (!structured) return "";
  std::vector<svg::GraphNode> nodes;
  std::vector<svg::GraphEdge> edges;
  for (const Thread& t : f.threads) nodes.push_back({thread_text(t), site_text(t.native_frames), svg::NodeShape::kThread});
  auto thread_index = [&](uint64_t tid) {
    for (std::size_t i = 0; i < f.threads.size(); ++i)
      if (f.threads[i].tid == tid) return int(i);
    for (std::size_t i = f.threads.size(); i < nodes.size(); ++i)
      if (nodes[i].label == "thread " + std::to_string(tid)) return int(i);
    nodes.push_back({"thread " + std::to_string(tid), "", svg::NodeShape::kThread});
    return int(nodes.size() - 1);
  };
  std::vector<int> lock_ids, lock_nodes;
  auto lock_index = [&](int id) {
    for (std::size_t i = 0; i < lock_ids.size(); ++i)
      if (lock_ids[i] == id) return lock_nodes[i];
    const Lock* lock = find_lock(f, id);
    if (!lock) return -1;
    lock_ids.push_back(id);
    nodes.push_back(lock_node(*lock));
    lock_nodes.push_back(int(nodes.size() - 1));
    return lock_nodes.back();
  };
  std::vector<int> ownerless;  // waited-for nodes no thread of the finding holds
  for (std::size_t i = 0; i < f.threads.size(); ++i) {
    const Thread& t = f.threads[i];
    int waited = -1;
    std::string words = "waits for";
    if (t.waits_for) {
      waited = lock_index(*t.waits_for);
    } else if (auto tid = joined_thread(t.role)) {
      waited = thread_index(*tid), words = "joins";
    } else if (std::string condition = condition_waited_on(t.role); !condition.empty()) {
      nodes.push_back({condition, "", svg::NodeShape::kLock});
      waited = int(nodes.size() - 1), words = "waits on";
    }
    if (waited >= 0) edges.push_back({int(i), waited, words, false});
    bool held = t.waits_for && std::any_of(f.threads.begin(), f.threads.end(), [&](const Thread& other) {
      return std::find(other.holds.begin(), other.holds.end(), *t.waits_for) != other.holds.end();
    });
    if (waited >= 0 && words != "joins" && !held) ownerless.push_back(waited);
  }
  for (std::size_t i = 0; i < f.threads.size(); ++i)
    for (int id : f.threads[i].holds)
      if (int l = lock_index(id); l >= 0) edges.push_back({l, int(i), "held by", true});
  if (f.probable)
    for (int object : ownerless)
      for (std::size_t i = 0; i < f.threads.size(); ++i) {
        bool waits_on_it = false, blocked = false;
        for (const svg::GraphEdge& e : edges) {
          waits_on_it = waits_on_it || (e.from == int(i) && e.to == object);
          blocked = blocked || (e.from == int(i) && !e.dashed);
        }
        if (blocked && !waits_on_it) edges.push_back({object, int(i), "to be woken by", true});
      }
  return svg::graph(nodes, edges, "wait-for graph: " + f.summary);
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
