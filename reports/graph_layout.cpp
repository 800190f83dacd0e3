#include "graph_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>

namespace gilwatch::report::svg {

bool Rect::overlaps(const Rect& o, double gap) const {
  return x0 < o.x1 + gap && o.x0 < x1 + gap && y0 < o.y1 + gap && o.y0 < y1 + gap;
}
bool Rect::inside(const Rect& o) const { return x0 >= o.x0 && y0 >= o.y0 && x1 <= o.x1 && y1 <= o.y1; }

Rect PlacedNode::box() const {
  return {center.x - half_width, center.y - half_height, center.x + half_width, center.y + half_height};
}

std::string cut_text(const std::string& text, std::size_t limit) {
  std::size_t chars = 0, keep = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars == limit - 1) keep = i;  // where the cut text would end
    ++chars;
  }
  if (chars <= limit) return text;
  return text.substr(0, keep) + "\u2026";
}

namespace {

std::size_t glyphs(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

double text_width(const std::string& text, bool small) { return double(glyphs(text)) * (small ? 6.6 : 7.2); }

namespace {

Point operator+(Point a, Point b) { return {a.x + b.x, a.y + b.y}; }
Point operator-(Point a, Point b) { return {a.x - b.x, a.y - b.y}; }
Point operator*(Point a, double k) { return {a.x * k, a.y * k}; }
// Not std::hypot: glibc 2.35 gave hypot a new symbol version, which alone would raise the
// glibc the wheel needs (docs/install.md); these lengths cannot overflow.
double length(Point p) { return std::sqrt(p.x * p.x + p.y * p.y); }
Point unit(Point p) {
  double l = length(p);
  return l < 1e-9 ? Point{0, 1} : p * (1 / l);
}

constexpr double kLabelHeight = 17, kLabelPad = 6;

double label_width(const std::string& text) { return text_width(text, true) + 2 * kLabelPad; }

// Where the ray from the box's center towards `toward` leaves the box.
Point box_exit(const PlacedNode& box, Point toward) {
  Point d = toward - box.center;
  double ax = std::fabs(d.x), ay = std::fabs(d.y);
  if (ax < 1e-9 && ay < 1e-9) return box.center;
  double t = std::min(ax > 1e-9 ? box.half_width / ax : 1e18, ay > 1e-9 ? box.half_height / ay : 1e18);
  return box.center + d * t;
}

// A label box touching `anchor` and lying on the side `away` points to (0,0: centered).
Rect label_rect(Point anchor, const std::string& text, Point away) {
  double w = label_width(text), h = kLabelHeight;
  double sx = std::clamp(away.x * 2, -1.0, 1.0), sy = std::clamp(away.y * 2, -1.0, 1.0);
  Point c = anchor + Point{sx * w / 2, sy * h / 2};
  return {c.x - w / 2, c.y - h / 2, c.x + w / 2, c.y + h / 2};
}

Point bezier(const PlacedEdge& e, double t) {
  double u = 1 - t;
  return e.start * (u * u * u) + e.c1 * (3 * u * u * t) + e.c2 * (3 * u * t * t) + e.end * (t * t * t);
}

// A quadratic curve through the control point q, as a cubic, from border to border.
void curve_through(PlacedEdge& e, const PlacedNode& a, const PlacedNode& b, Point q) {
  e.start = box_exit(a, q);
  e.end = box_exit(b, q);
  e.c1 = e.start + (q - e.start) * (2.0 / 3);
  e.c2 = e.end + (q - e.end) * (2.0 / 3);
}

// The nodes of a cycle reachable from the first node (then from the others), in order.
std::vector<int> find_cycle(std::size_t n, const std::vector<GraphEdge>& edges) {
  std::vector<std::vector<int>> out(n);
  for (const GraphEdge& e : edges) out[e.from].push_back(e.to);
  std::vector<int> state(n, 0), path, cycle;
  std::function<bool(int)> visit = [&](int v) {
    state[v] = 1;
    path.push_back(v);
    for (int w : out[v]) {
      if (state[w] == 1) {
        cycle.assign(std::find(path.begin(), path.end(), w), path.end());
        return true;
      }
      if (state[w] == 0 && visit(w)) return true;
    }
    state[v] = 2;
    path.pop_back();
    return false;
  };
  for (std::size_t v = 0; v < n; ++v)
    if (state[v] == 0 && visit(int(v))) return cycle;
  return {};
}

// Without a cycle: the nodes in the order the arrows lead through them (depth first,
// from the nodes nothing points at), so that most arrows go from one node to the next.
std::vector<int> chain_order(std::size_t n, const std::vector<GraphEdge>& edges) {
  std::vector<std::vector<int>> out(n);
  std::vector<int> incoming(n, 0), order;
  for (const GraphEdge& e : edges) out[e.from].push_back(e.to), incoming[e.to] += e.from != e.to;
  std::vector<bool> seen(n, false);
  std::function<void(int)> visit = [&](int v) {
    seen[v] = true;
    order.push_back(v);
    for (int w : out[v])
      if (!seen[w]) visit(w);
  };
  for (std::size_t v = 0; v < n; ++v)
    if (!seen[v] && incoming[v] == 0) visit(int(v));
  for (std::size_t v = 0; v < n; ++v)
    if (!seen[v]) visit(int(v));
  return order;
}

struct Plan {
  const std::vector<GraphEdge>& edges;
  std::vector<int> ring;      // the cycle, or every node in order when there is none
  bool closed = false;        // the ring is a cycle (its last node leads to its first)
  std::vector<int> position;  // on the ring, or -1
  std::vector<int> parallel;  // per edge: how many earlier edges join the same two nodes the same way
};

Layout start_layout(const std::vector<GraphNode>& nodes, const Plan& plan) {
  Layout layout;
  for (const GraphNode& node : nodes) {
    PlacedNode p;
    p.label = cut_text(node.label, kNodeChars);
    p.sublabel = cut_text(node.sublabel, kNodeChars);
    double w = std::max(text_width(p.label, false), text_width(p.sublabel, true)) + 24;
    p.half_width = std::max(w, 96.0) / 2;
    p.half_height = p.sublabel.empty() ? 14 : 22;
    layout.nodes.push_back(p);
  }
  for (const GraphEdge& e : plan.edges) {
    PlacedEdge p;
    p.from = e.from, p.to = e.to;
    p.label = cut_text(e.label, kEdgeChars);
    p.full_label = e.label;
    p.dashed = e.dashed;
    layout.edges.push_back(p);
  }
  layout.cycle = plan.ring;
  return layout;
}

void place_label(PlacedEdge& e, Point anchor, Point away) {
  if (!e.label.empty()) e.label_box = label_rect(anchor, e.label, away);
}

void self_loop(Layout& layout, PlacedEdge& e, int k) {
  const PlacedNode& a = layout.nodes[e.from];
  double top = a.center.y - a.half_height, lift = 56 + 22.0 * k;
  e.start = {a.center.x - a.half_width / 2, top};
  e.end = {a.center.x + a.half_width / 2, top};
  e.c1 = {e.start.x, top - lift};
  e.c2 = {e.end.x, top - lift};
  place_label(e, bezier(e, 0.5) - Point{0, 3}, {0, -1});
}

void finish(Layout& layout) {
  const double margin = 16;
  Rect b{1e18, 1e18, -1e18, -1e18};
  auto add = [&](Point p) {
    b.x0 = std::min(b.x0, p.x), b.y0 = std::min(b.y0, p.y), b.x1 = std::max(b.x1, p.x), b.y1 = std::max(b.y1, p.y);
  };
  for (const PlacedNode& n : layout.nodes) add({n.box().x0, n.box().y0}), add({n.box().x1, n.box().y1});
  for (const PlacedEdge& e : layout.edges) {
    for (Point p : {e.start, e.c1, e.c2, e.end}) add(p);  // the curve lies in their hull
    if (!e.label.empty()) add({e.label_box.x0, e.label_box.y0}), add({e.label_box.x1, e.label_box.y1});
  }
  layout.view = {b.x0 - margin, b.y0 - margin, b.x1 + margin, b.y1 + margin};
}

// Nodes off the ring: outside it, next to the ring node they are joined to.
int ring_neighbour(const Plan& plan, int v) {
  for (const GraphEdge& e : plan.edges) {
    if (e.from == v && plan.position[e.to] >= 0) return e.to;
    if (e.to == v && plan.position[e.from] >= 0) return e.from;
  }
  return -1;
}

double longest_label_between(const Layout& layout, int a, int b) {
  double w = 0;
  for (const PlacedEdge& e : layout.edges)
    if (!e.label.empty() && ((e.from == a && e.to == b) || (e.from == b && e.to == a)))
      w = std::max(w, label_width(e.label));
  return w;
}

// Edges with at least one end off the ring: a gentle curve, the label on its middle.
void off_ring_edges(Layout& layout, const Plan& plan) {
  for (std::size_t i = 0; i < layout.edges.size(); ++i) {
    PlacedEdge& e = layout.edges[i];
    if (e.from == e.to || (plan.position[e.from] >= 0 && plan.position[e.to] >= 0)) continue;
    const PlacedNode &a = layout.nodes[e.from], &b = layout.nodes[e.to];
    Point d = b.center - a.center;
    Point normal = unit({-d.y, d.x});
    curve_through(e, a, b, (a.center + b.center) * 0.5 + normal * (28.0 * plan.parallel[i] + (e.from > e.to ? 14 : 0)));
    place_label(e, bezier(e, 0.5), {0, 0});
  }
}

Layout circle(const std::vector<GraphNode>& nodes, const Plan& plan, double radius) {
  Layout layout = start_layout(nodes, plan);
  const std::size_t n = plan.ring.size();
  for (std::size_t i = 0; i < n; ++i) {
    PlacedNode& node = layout.nodes[plan.ring[i]];
    if (n == 1) node.center = {0, 0};
    else if (n == 2) node.center = {i == 0 ? -radius : radius, 0};
    else {
      double angle = -M_PI / 2 + 2 * M_PI * double(i) / double(n);
      node.center = {radius * std::cos(angle), radius * std::sin(angle)};
    }
  }
  // Off the ring: outwards from the neighbour, fanned out when several share one.
  std::vector<int> hung(nodes.size(), 0);
  double below = radius + 80;
  for (std::size_t v = 0; v < nodes.size(); ++v) {
    if (plan.position[v] >= 0) continue;
    PlacedNode& node = layout.nodes[v];
    int at = ring_neighbour(plan, int(v));
    if (at < 0) {
      node.center = {0, below + node.half_height};
      below += 2 * node.half_height + 24;
      continue;
    }
    const PlacedNode& anchor = layout.nodes[at];
    Point u = n == 1 ? Point{0, 1} : unit(anchor.center);
    double turn = (hung[at] % 2 ? 1 : -1) * 0.45 * double((hung[at] + 1) / 2);
    ++hung[at];
    u = {u.x * std::cos(turn) - u.y * std::sin(turn), u.x * std::sin(turn) + u.y * std::cos(turn)};
    double gap = std::fabs(u.x) * (longest_label_between(layout, int(v), at) + 40) + std::fabs(u.y) * 60 + 30;
    double reach = std::fabs(u.x) * (anchor.half_width + node.half_width) +
                   std::fabs(u.y) * (anchor.half_height + node.half_height) + gap;
    node.center = anchor.center + u * reach;
  }
  for (std::size_t i = 0; i < layout.edges.size(); ++i) {
    PlacedEdge& e = layout.edges[i];
    int k = plan.parallel[i];
    if (e.from == e.to) {
      self_loop(layout, e, k);
      continue;
    }
    if (plan.position[e.from] < 0 || plan.position[e.to] < 0) continue;
    const PlacedNode &a = layout.nodes[e.from], &b = layout.nodes[e.to];
    Point d = b.center - a.center, mid = (a.center + b.center) * 0.5;
    Point normal = unit({-d.y, d.x});
    bool forward = plan.ring[(plan.position[e.from] + 1) % n] == e.to;
    Point out = normal;
    if (n > 2 && (normal.x * mid.x + normal.y * mid.y) < 0) out = normal * -1;
    if (!forward) out = out * -1;  // chords and reversed arrows bend inwards
    double bend = (forward ? 0.2 : 0.12) * length(d) + 26.0 * k;
    curve_through(e, a, b, mid + out * (2 * bend));
    Point apex = bezier(e, 0.5);
    if (forward) place_label(e, apex + out * 4, out);
    else place_label(e, apex, {0, 0});
  }
  off_ring_edges(layout, plan);
  finish(layout);
  return layout;
}

Layout column(const std::vector<GraphNode>& nodes, const Plan& plan) {
  Layout layout = start_layout(nodes, plan);
  layout.column = true;
  const std::size_t n = plan.ring.size();
  const double gap = kLabelHeight + 26;
  double y = 0, widest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    PlacedNode& node = layout.nodes[plan.ring[i]];
    if (i) y += node.half_height;
    node.center = {0, y};
    y += node.half_height + gap;
    widest = std::max(widest, node.half_width);
  }
  // Arrows down the column with their labels on the right; every other ring arrow up the
  // left side, one lane each.
  double right_labels = 0, lane = widest + 46;
  std::vector<double> beside(n, 0);  // per gap below a node: the labels already right of it
  for (std::size_t i = 0; i < layout.edges.size(); ++i) {
    PlacedEdge& e = layout.edges[i];
    if (e.from == e.to) {
      self_loop(layout, e, plan.parallel[i]);
      continue;
    }
    if (plan.position[e.from] < 0 || plan.position[e.to] < 0) continue;
    const PlacedNode &a = layout.nodes[e.from], &b = layout.nodes[e.to];
    if (plan.position[e.to] == plan.position[e.from] + 1) {
      double x = 10.0 * plan.parallel[i];
      e.start = {x, a.center.y + a.half_height};
      e.end = {x, b.center.y - b.half_height};
      e.c1 = e.start + Point{0, gap / 3};
      e.c2 = e.end - Point{0, gap / 3};
      double& used = beside[plan.position[e.from]];
      place_label(e, {x + 8 + used, (e.start.y + e.end.y) / 2}, {1, 0});
      if (!e.label.empty()) used += label_width(e.label) + 6, right_labels = std::max(right_labels, x + 8 + used);
      continue;
    }
    e.start = {-a.half_width, a.center.y};
    e.end = {-b.half_width, b.center.y};
    e.c1 = {-lane, a.center.y};
    e.c2 = {-lane, b.center.y};
    place_label(e, bezier(e, 0.5) - Point{6, 0}, {-1, 0});
    lane += 34;
  }
  // Off the ring: a column to the right of the labels, beside the node they are joined to.
  double off_x = std::max(widest, right_labels) + 40;
  for (std::size_t v = 0; v < nodes.size(); ++v)
    if (plan.position[v] < 0) {
      int at = ring_neighbour(plan, int(v));
      if (at >= 0) off_x = std::max(off_x, widest + longest_label_between(layout, int(v), at) + 60);
    }
  double next_free = -1e18;
  for (std::size_t v = 0; v < nodes.size(); ++v) {
    if (plan.position[v] >= 0) continue;
    PlacedNode& node = layout.nodes[v];
    int at = ring_neighbour(plan, int(v));
    double want = at >= 0 ? layout.nodes[at].center.y : y;
    want = std::max(want, next_free + node.half_height);
    node.center = {off_x + node.half_width, want};
    next_free = want + node.half_height + 14;
  }
  off_ring_edges(layout, plan);
  finish(layout);
  return layout;
}

}  // namespace

Layout layout_graph(const std::vector<GraphNode>& nodes, const std::vector<GraphEdge>& all_edges) {
  const std::size_t n = nodes.size();
  std::vector<GraphEdge> edges;
  for (const GraphEdge& e : all_edges)
    if (e.from >= 0 && e.to >= 0 && std::size_t(e.from) < n && std::size_t(e.to) < n) edges.push_back(e);
  Plan plan{edges, find_cycle(n, edges), false, std::vector<int>(n, -1), {}};
  plan.closed = !plan.ring.empty();
  if (!plan.closed) plan.ring = chain_order(n, edges);
  for (std::size_t i = 0; i < plan.ring.size(); ++i) plan.position[plan.ring[i]] = int(i);
  for (std::size_t i = 0; i < edges.size(); ++i) {
    int k = 0;
    for (std::size_t j = 0; j < i; ++j) k += edges[j].from == edges[i].from && edges[j].to == edges[i].to;
    plan.parallel.push_back(k);
  }
  if (n == 0) return {};
  // The circle, growing, while it is small enough to read; else the column.
  if (plan.closed && plan.ring.size() <= kMaxCircle) {
    double widest = 0;
    for (const GraphNode& node : nodes)
      widest = std::max(widest, text_width(cut_text(node.label, kNodeChars), false) + 24);
    double ring = double(plan.ring.size());
    double radius = plan.ring.size() == 2 ? widest / 2 + 70 : std::max(150.0, (widest + 60) / (2 * std::sin(M_PI / ring)));
    for (double grow : {1.0, 1.25, 1.55, 1.9}) {
      Layout candidate = circle(nodes, plan, radius * grow);
      if (problems(candidate).empty() && candidate.view.x1 - candidate.view.x0 <= 1500) return candidate;
    }
  }
  Layout tall = column(nodes, plan);
  if (problems(tall).empty() || !plan.closed || plan.ring.size() > kMaxCircle) return tall;
  Layout wide = circle(nodes, plan, 400);
  return problems(wide).size() < problems(tall).size() ? wide : tall;
}

std::vector<std::string> problems(const Layout& layout) {
  std::vector<std::string> out;
  const auto& nodes = layout.nodes;
  const auto& edges = layout.edges;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i].box().inside(layout.view)) out.push_back(fmt::format("node {} is outside the view", i));
    for (std::size_t j = i + 1; j < nodes.size(); ++j)
      if (nodes[i].box().overlaps(nodes[j].box(), 4)) out.push_back(fmt::format("node {} overlaps node {}", i, j));
  }
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (edges[i].label.empty()) continue;
    const Rect& box = edges[i].label_box;
    if (!box.inside(layout.view)) out.push_back(fmt::format("label {} is outside the view", i));
    for (std::size_t j = i + 1; j < edges.size(); ++j)
      if (!edges[j].label.empty() && box.overlaps(edges[j].label_box, 2))
        out.push_back(fmt::format("label {} overlaps label {}", i, j));
    for (std::size_t v = 0; v < nodes.size(); ++v)
      if (box.overlaps(nodes[v].box(), 2)) out.push_back(fmt::format("label {} overlaps node {}", i, v));
  }
  return out;
}

}  // namespace gilwatch::report::svg
