#include "svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "graph_layout.h"
#include "html_report.h"

namespace gilwatch::report::svg {

namespace {

std::string esc(const std::string& text) { return html_escape(text); }

// Text drawn exactly as wide as the layout measured it, whatever font the browser picked
// (a proportional fallback is stretched or squeezed a little rather than spill out).
std::string fitted(const std::string& text, bool small) {
  return fmt::format(" textLength=\"{:.1f}\" lengthAdjust=\"spacingAndGlyphs\"", text_width(text, small));
}

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
  // The pictures' text in a monospace font where there is one: the page's generic
  // `ui-monospace` can resolve to a proportional font (Chromium on Linux).
  return "<svg class=\"gw-defs\" width=\"0\" height=\"0\" aria-hidden=\"true\">"
         "<style>.gw-graph text{font-family:\"DejaVu Sans Mono\",\"Liberation Mono\",Menlo,Consolas,"
         "SFMono-Regular,monospace}</style><defs><marker id=\"gw-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" "
         "markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" class=\"gw-arrowhead\"/>"
         "</marker></defs></svg>\n";
}

std::string graph(const std::vector<GraphNode>& nodes, const std::vector<GraphEdge>& edges, const std::string& title) {
  if (nodes.empty()) return "";
  Layout layout = layout_graph(nodes, edges);
  std::string body, labels;
  for (std::size_t i = 0; i < layout.edges.size(); ++i) {
    const PlacedEdge& e = layout.edges[i];
    body += fmt::format(
        "<path class=\"gw-edge{}\" data-edge=\"{}\" d=\"M{:.1f},{:.1f} C{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}\" "
        "marker-end=\"url(#gw-arrow)\"/>\n",
        e.dashed ? " gw-dashed" : "", i, e.start.x, e.start.y, e.c1.x, e.c1.y, e.c2.x, e.c2.y, e.end.x, e.end.y);
    if (e.label.empty()) continue;
    const Rect& box = e.label_box;
    labels += fmt::format(
        "<g class=\"gw-edge-label\" data-edge=\"{}\"><title>{}</title><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
        "height=\"{:.1f}\" rx=\"3\"/><text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\"{}>{}</text></g>\n",
        i, esc(e.full_label), box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0, (box.x0 + box.x1) / 2, box.y0 + 12.5,
        fitted(e.label, true), esc(e.label));
  }
  std::string node_svg;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const PlacedNode& box = layout.nodes[i];
    const GraphNode& node = nodes[i];
    std::string full = node.label + (node.sublabel.empty() ? "" : "\n" + node.sublabel);
    node_svg += fmt::format("<g class=\"{}\" data-node=\"{}\"><title>{}</title><rect x=\"{:.1f}\" y=\"{:.1f}\" "
                            "width=\"{:.1f}\" height=\"{:.1f}\" rx=\"{}\"/>",
                            node_class(node.shape), i, esc(full), box.center.x - box.half_width,
                            box.center.y - box.half_height, 2 * box.half_width, 2 * box.half_height,
                            node.shape == NodeShape::kThread ? 14 : 4);
    if (box.sublabel.empty()) {
      node_svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\"{}>{}</text>", box.center.x,
                              box.center.y + 4, fitted(box.label, false), esc(box.label));
    } else {
      node_svg += fmt::format(
          "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\"{}>{}</text>"
          "<text class=\"gw-sub\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\"{}>{}</text>",
          box.center.x, box.center.y - 3, fitted(box.label, false), esc(box.label), box.center.x, box.center.y + 13,
          fitted(box.sublabel, true), esc(box.sublabel));
    }
    node_svg += "</g>\n";
  }
  const Rect& v = layout.view;
  std::string out = fmt::format(
      "<svg class=\"gw-graph\" role=\"img\" viewBox=\"{:.1f} {:.1f} {:.1f} {:.1f}\" "
      "width=\"{:.0f}\" height=\"{:.0f}\"><title>{}</title>\n",
      v.x0, v.y0, v.x1 - v.x0, v.y1 - v.y0, v.x1 - v.x0, v.y1 - v.y0, esc(title));
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
