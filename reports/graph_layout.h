// graph_layout: where the nodes, arrows and labels of a report picture go (svg.h draws
// them). The pictures are small and have one shape: a cycle — the locks of a lock-order
// inversion, or the threads and locks of a deadlock's wait-for graph — with a few nodes
// hanging off it (a lock a thread holds that is not on the cycle). The layout is made for
// that shape instead of a general graph layout (Graphviz would need its plugins and their
// config file in the wheel, which must run with nothing installed):
//
// - the cycle is found by a depth-first search from the first node;
// - up to kMaxCircle nodes of it go on a circle, clockwise from the top, each arrow to the
//   next node bent outwards with its label outside it; other arrows bend inwards;
// - a longer cycle is a column read top to bottom, each label beside its arrow in the gap
//   between two nodes, and the closing arrow running up the left side;
// - nodes off the cycle go outside it, next to the node they are joined to;
// - without a cycle (a wait on a lock whose holder waits for a GIL no one holds), the
//   nodes make a column in the order the arrows lead through them.
//
// Text is measured as monospace (12px nodes, 11px labels) and drawn at exactly that width
// (`text_width`). Every candidate layout is checked (`problems`): no label may
// overlap another label or a node, no two nodes may overlap, and everything lies inside
// the view box. The first candidate without problems wins; labels are never dropped.
#pragma once

#include <string>
#include <vector>

#include "svg.h"

namespace gilwatch::report::svg {

struct Point {
  double x = 0, y = 0;
};

struct Rect {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool overlaps(const Rect& other, double gap = 0) const;
  bool inside(const Rect& other) const;
};

struct PlacedNode {
  Point center;
  double half_width = 0, half_height = 0;
  std::string label, sublabel;  // as drawn (cut to kNodeChars)
  Rect box() const;
};

struct PlacedEdge {
  int from = 0, to = 0;
  Point start, c1, c2, end;  // a cubic Bézier curve; `end` on the target's border
  std::string label;         // as drawn (cut to kEdgeChars); empty: no label
  std::string full_label;    // as given: the label's tooltip
  bool dashed = false;
  Rect label_box;            // empty when there is no label
};

struct Layout {
  std::vector<PlacedNode> nodes;
  std::vector<PlacedEdge> edges;  // one per valid input edge, in input order
  std::vector<int> cycle;         // the nodes of the cycle found, in order; without a
                                  // cycle, every node in the order the arrows lead
  Rect view;
  bool column = false;  // the cycle is drawn as a column (too long for a circle)
};

inline constexpr std::size_t kNodeChars = 48;
inline constexpr std::size_t kEdgeChars = 84;
inline constexpr std::size_t kMaxCircle = 6;

// The width text is given: 12px (node labels) or 11px (edge labels, sublabels) monospace,
// 0.6em a glyph. The picture draws it that wide (textLength), whatever font the browser
// picks, so a label always fits its plate.
double text_width(const std::string& text, bool small);

// Text of `limit` characters at most, cut with "…" (never inside a UTF-8 sequence).
std::string cut_text(const std::string& text, std::size_t limit);

Layout layout_graph(const std::vector<GraphNode>& nodes, const std::vector<GraphEdge>& edges);

// What is wrong with a layout, one line each ("label 3 overlaps label 4"): empty when
// nothing is.
std::vector<std::string> problems(const Layout& layout);

}  // namespace gilwatch::report::svg
