// svg: the report's pictures, as inline SVG text (no scripts, no external resources):
// a small directed graph for lock-order cycles and wait-for graphs, and line charts for
// leaks per teardown cycle and throughput per thread count.
//
// Every label is escaped here; callers pass plain (untrusted) text.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gilwatch::report::svg {

enum class NodeShape { kLock, kGil, kThread };

struct GraphNode {
  std::string label;     // first line, e.g. "mutex 0x7f00..."
  std::string sublabel;  // second line, e.g. "first taken in f", may be empty
  NodeShape shape = NodeShape::kLock;
};

struct GraphEdge {
  int from = 0, to = 0;  // indices into the nodes
  std::string label;     // "thread 12 'worker': registry_store (registry.c:40)"
  bool dashed = false;   // "held by" edges of a wait-for graph
};

// The shared definitions (the arrowhead) the graphs refer to: once per page, before them.
std::string definitions();

// A cycle and what hangs off it (laid out by graph_layout.h: a circle, or a column when
// long), every edge with an arrowhead and its label on a white plate, none dropped.
// Paths and labels carry data-edge (the edge's index among the valid ones), nodes
// data-node. `title` is the accessible name.
std::string graph(const std::vector<GraphNode>& nodes, const std::vector<GraphEdge>& edges,
                  const std::string& title);

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending
  std::string css_class;                          // "s1", "s2", "ideal": line style
};

struct Chart {
  std::string title;    // accessible name and caption
  std::string x_label, y_label;
  std::vector<Series> series;
  std::optional<double> target_y;  // a horizontal dashed line
  std::string target_label;
};

std::string line_chart(const Chart& chart);

// "1", "2.5", "12k", "3.4M": short numbers for axes.
std::string short_number(double value);

}  // namespace gilwatch::report::svg
