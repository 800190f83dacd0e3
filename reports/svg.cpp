#include "svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "html_report.h"

namespace gilwatch::report::svg {

namespace {

std::string esc(const std::string& text) { return html_escape(text); }

// Labels longer than `limit` characters are cut (the whole text stays in a <title>).
std::string clipped(const std::string& text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t cut = limit - 1;
  // Do not split a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "\u2026";
}

struct Point {
  double x = 0, y = 0;
};
Point operator+(Point a, Point b) { return {a.x + b.x, a.y + b.y}; }
Point operator-(Point a, Point b) { return {a.x - b.x, a.y - b.y}; }
Point operator*(Point a, double k) { return {a.x * k, a.y * k}; }

constexpr double kCharWidth = 7.0;  // 12px monospace, roughly
constexpr std::size_t kNodeChars = 34;
constexpr std::size_t kEdgeChars = 60;

struct Box {
  Point center;
  double half_width = 0, half_height = 0;
};

// Where the ray from the box's center towards `toward` leaves the box.
Point box_exit(const Box& box, Point toward) {
  Point d = toward - box.center;
  double ax = std::fabs(d.x), ay = std::fabs(d.y);
  if (ax < 1e-9 && ay < 1e-9) return box.center;
  double t = std::min(ax > 1e-9 ? box.half_width / ax : 1e18, ay > 1e-9 ? box.half_height / ay : 1e18);
  return box.center + d * t;
}

struct Bounds {
  double x0 = 1e18, y0 = 1e18, x1 = -1e18, y1 = -1e18;
  void add(double x, double y) {
    x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
  }
};

const char* node_class(NodeShape shape) {
  switch (shape) {
    case NodeShape::kGil: return "gw-node gw-gil";
    case NodeShape::kThread: return "gw-node gw-thread";
    case NodeShape::kLock: break;
  }
  return "gw-node gw-lock";
}

}  // namespace

std::string short_number(double value) {
  double a = std::fabs(value);
  if (a >= 1e9) return fmt::format("{:.3g}G", value / 1e9);
  if (a >= 1e6) return fmt::format("{:.3g}M", value / 1e6);
  if (a >= 1e4) return fmt::format("{:.3g}k", value / 1e3);
  if (a == std::floor(a)) return fmt::format("{}", static_cast<long long>(value));
  return fmt::format("{:.3g}", value);
}

std::string definitions() {
  return "<svg class=\"gw-defs\" width=\"0\" height=\"0\" aria-hidden=\"true\">"
         "<defs><marker id=\"gw-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" "
         "markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" class=\"gw-arrowhead\"/>"
         "</marker></defs></svg>\n";
}

std::string graph(const std::vector<GraphNode>& nodes, const std::vector<GraphEdge>& edges, const std::string& title) {
  const std::size_t n = nodes.size();
  if (n == 0) return "";
  std::vector<Box> boxes(n);
  double widest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t chars = std::max(clipped(nodes[i].label, kNodeChars).size(), clipped(nodes[i].sublabel, kNodeChars).size());
    boxes[i].half_width = std::clamp(double(chars) * kCharWidth + 24, 96.0, 270.0) / 2;
    boxes[i].half_height = nodes[i].sublabel.empty() ? 14 : 22;
    widest = std::max(widest, boxes[i].half_width);
  }
  // Two nodes side by side; more on a circle, starting at the top, clockwise.
  if (n == 1) {
    boxes[0].center = {0, 0};
  } else if (n == 2) {
    double d = widest + 90;
    boxes[0].center = {-d, 0};
    boxes[1].center = {d, 0};
  } else {
    double radius = std::max(130.0, (widest * 2 + 40) * double(n) / (2 * M_PI));
    radius = std::min(radius, 420.0);
    for (std::size_t i = 0; i < n; ++i) {
      double angle = -M_PI / 2 + 2 * M_PI * double(i) / double(n);
      boxes[i].center = {radius * std::cos(angle), radius * 0.72 * std::sin(angle)};
    }
  }

  Bounds bounds;
  std::string body;
  std::string labels;
  for (const GraphEdge& e : edges) {
    if (e.from < 0 || e.to < 0 || std::size_t(e.from) >= n || std::size_t(e.to) >= n) continue;
    const Box& a = boxes[e.from];
    const Box& b = boxes[e.to];
    Point start, control, end;
    if (e.from == e.to) {
      // A loop over the node's top edge.
      start = {a.center.x - a.half_width / 2, a.center.y - a.half_height};
      end = {a.center.x + a.half_width / 2, a.center.y - a.half_height};
      control = {a.center.x, a.center.y - a.half_height - 70};
    } else {
      Point d = b.center - a.center;
      // Not std::hypot: glibc 2.35 gave hypot a new symbol version, which alone would
      // raise the glibc the wheel needs (docs/install.md); these lengths cannot overflow.
      double length = std::sqrt(d.x * d.x + d.y * d.y);
      Point normal{-d.y / length, d.x / length};
      // A->B bends to one side and B->A, whose normal is the opposite, to the other.
      control = (a.center + b.center) * 0.5 + normal * (0.2 * length);
      start = box_exit(a, control);
      end = box_exit(b, control);
    }
    body += fmt::format(
        "<path class=\"gw-edge{}\" d=\"M{:.1f},{:.1f} Q{:.1f},{:.1f} {:.1f},{:.1f}\" marker-end=\"url(#gw-arrow)\"/>\n",
        e.dashed ? " gw-dashed" : "", start.x, start.y, control.x, control.y, end.x, end.y);
    Point mid = start * 0.25 + control * 0.5 + end * 0.25;
    bounds.add(start.x, start.y), bounds.add(end.x, end.y), bounds.add(mid.x, mid.y);
    if (!e.label.empty()) {
      std::string text = clipped(e.label, kEdgeChars);
      double half = double(text.size()) * 6.2 / 2 + 5;
      labels += fmt::format(
          "<g class=\"gw-edge-label\"><title>{}</title><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
          "height=\"17\" rx=\"3\"/><text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text></g>\n",
          esc(e.label), mid.x - half, mid.y - 9, 2 * half, mid.x, mid.y + 4, esc(text));
      bounds.add(mid.x - half, mid.y - 10), bounds.add(mid.x + half, mid.y + 10);
    }
  }
  std::string node_svg;
  for (std::size_t i = 0; i < n; ++i) {
    const Box& box = boxes[i];
    const GraphNode& node = nodes[i];
    bounds.add(box.center.x - box.half_width, box.center.y - box.half_height);
    bounds.add(box.center.x + box.half_width, box.center.y + box.half_height);
    std::string full = node.label + (node.sublabel.empty() ? "" : "\n" + node.sublabel);
    node_svg += fmt::format("<g class=\"{}\"><title>{}</title><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                            "height=\"{:.1f}\" rx=\"{}\"/>",
                            node_class(node.shape), esc(full), box.center.x - box.half_width,
                            box.center.y - box.half_height, 2 * box.half_width, 2 * box.half_height,
                            node.shape == NodeShape::kThread ? 14 : 4);
    if (node.sublabel.empty()) {
      node_svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>", box.center.x,
                              box.center.y + 4, esc(clipped(node.label, kNodeChars)));
    } else {
      node_svg += fmt::format(
          "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>"
          "<text class=\"gw-sub\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>",
          box.center.x, box.center.y - 3, esc(clipped(node.label, kNodeChars)), box.center.x, box.center.y + 13,
          esc(clipped(node.sublabel, kNodeChars)));
    }
    node_svg += "</g>\n";
  }
  const double margin = 16;
  double x0 = bounds.x0 - margin, y0 = bounds.y0 - margin;
  double width = bounds.x1 - bounds.x0 + 2 * margin, height = bounds.y1 - bounds.y0 + 2 * margin;
  std::string out = fmt::format(
      "<svg class=\"gw-graph\" role=\"img\" viewBox=\"{:.1f} {:.1f} {:.1f} {:.1f}\" "
      "width=\"{:.0f}\" height=\"{:.0f}\"><title>{}</title>\n",
      x0, y0, width, height, width, height, esc(title));
  return out + body + node_svg + labels + "</svg>\n";
}

namespace {

// A round step giving about `count` intervals over `range`.
double nice_step(double range, int count) {
  if (range <= 0) return 1;
  double raw = range / count;
  double magnitude = std::pow(10, std::floor(std::log10(raw)));
  double fraction = raw / magnitude;
  double nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * magnitude;
}

}  // namespace

std::string line_chart(const Chart& chart) {
  const double width = 400, height = 230, left = 58, right = 18, top = 34, bottom = 44;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  double x_min = 1e300, x_max = -1e300, y_max = 0;
  for (const Series& s : chart.series)
    for (auto [x, y] : s.points) {
      x_min = std::min(x_min, x), x_max = std::max(x_max, x);
      y_max = std::max(y_max, y);
    }
  if (x_min > x_max) return "";
  if (chart.target_y) y_max = std::max(y_max, *chart.target_y);
  if (x_max == x_min) x_max = x_min + 1;
  double y_step = nice_step(y_max > 0 ? y_max : 1, 4);
  double y_top = std::ceil((y_max > 0 ? y_max * 1.05 : 1) / y_step) * y_step;
  auto px = [&](double x) { return left + (x - x_min) / (x_max - x_min) * plot_w; };
  auto py = [&](double y) { return top + plot_h - y / y_top * plot_h; };

  std::string out = fmt::format(
      "<svg class=\"gw-chart\" role=\"img\" viewBox=\"0 0 {0} {1}\" "
      "width=\"{0}\" height=\"{1}\"><title>{2}</title>\n",
      width, height, esc(chart.title));
  out += fmt::format("<text class=\"gw-caption\" x=\"{}\" y=\"14\">{}</text>\n", left, esc(chart.title));
  // Axes and grid.
  for (double y = 0; y <= y_top + y_step / 2; y += y_step)
    out += fmt::format(
        "<line class=\"gw-grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>"
        "<text class=\"gw-tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
        left, py(y), left + plot_w, py(y), left - 5, py(y) + 4, short_number(y));
  double x_step = (x_max - x_min) <= 12 ? 1 : nice_step(x_max - x_min, 6);
  for (double x = std::ceil(x_min / x_step) * x_step; x <= x_max + x_step / 1000; x += x_step)
    out += fmt::format("<text class=\"gw-tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", px(x),
                       top + plot_h + 15, short_number(x));
  out += fmt::format("<line class=\"gw-axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2:.1f}\"/>"
                     "<line class=\"gw-axis\" x1=\"{0}\" y1=\"{2:.1f}\" x2=\"{3:.1f}\" y2=\"{2:.1f}\"/>\n",
                     left, top, top + plot_h, left + plot_w);
  out += fmt::format("<text class=\"gw-axis-label\" x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     left + plot_w / 2, height - 6, esc(chart.x_label));
  out += fmt::format(
      "<text class=\"gw-axis-label\" transform=\"translate(13,{:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
      top + plot_h / 2, esc(chart.y_label));
  if (chart.target_y) {
    out += fmt::format("<line class=\"gw-target\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>"
                       "<text class=\"gw-target-label\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
                       left, py(*chart.target_y), left + plot_w, py(*chart.target_y), left + plot_w - 2,
                       py(*chart.target_y) - 4, esc(chart.target_label));
  }
  double legend_x = left + plot_w;
  for (auto it = chart.series.rbegin(); it != chart.series.rend(); ++it) {
    const Series& s = *it;
    double w = double(s.name.size()) * 6.2 + 22;
    legend_x -= w;
    out += fmt::format("<g class=\"gw-legend {}\"><line x1=\"{:.1f}\" y1=\"26\" x2=\"{:.1f}\" y2=\"26\"/>"
                       "<text x=\"{:.1f}\" y=\"30\">{}</text></g>\n",
                       esc(s.css_class), legend_x, legend_x + 14, legend_x + 17, esc(s.name));
  }
  for (const Series& s : chart.series) {
    if (s.points.empty()) continue;
    std::string points;
    for (auto [x, y] : s.points) points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", px(x), py(y));
    out += fmt::format("<g class=\"gw-series {}\" data-series=\"{}\"><polyline points=\"{}\"/>\n", esc(s.css_class),
                       esc(s.name), points);
    for (auto [x, y] : s.points)
      out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\"><title>{}: {} at {}</title></circle>\n", px(x),
                         py(y), esc(s.name), short_number(y), short_number(x));
    out += "</g>\n";
  }
  return out + "</svg>\n";
}

}  // namespace gilwatch::report::svg
