// The HTML stack listing: the rows of stack_view.h as a table; a folded run is a
// <details> row holding the frames it stands for, so it expands on a click with or
// without JavaScript.
#include <fmt/format.h>

#include "describe.h"
#include "html_parts.h"
#include "stack_view.h"

namespace gilwatch::report {

std::string html_parts::location_text(const NativeFrame& f) {
  if (f.file.empty()) return "";
  return f.file + (f.line > 0 ? fmt::format(":{}", f.line) : "");
}

std::string html_parts::module_html(const NativeFrame& f) {
  if (f.module.empty()) return "";
  return "<span title=\"" + esc(f.module) + "\">" + esc(base_name(f.module)) + "</span>+" + hex(f.offset);
}

namespace {

using namespace html_parts;

std::string rows_html(const Thread& t, const std::vector<StackRow>& rows) {
  std::string out;
  for (const StackRow& row : rows) {
    if (row.kind == StackRow::Kind::folded) {
      out += "<tr class=\"fold\"><td colspan=\"5\"><details class=\"fold\"><summary>\u2026 " + esc(folded_label(row)) +
             "</summary>\n<table class=\"frames\">\n" + rows_html(t, row.folded) + "</table></details></td></tr>\n";
    } else if (row.kind == StackRow::Kind::python) {
      const PythonFrame& p = t.python_frames[row.index];
      out += fmt::format("<tr class=\"py\"><td>py{}</td><td colspan=\"2\">{} <span class=\"muted\">(Python)</span></td>"
                         "<td colspan=\"2\">{}:{}</td></tr>\n",
                         row.index, esc(p.function), esc(p.file), p.line);
    } else {
      const NativeFrame& f = t.native_frames[row.index];
      out += fmt::format("<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"muted\">{}</td></tr>\n",
                         row.index, hex(f.pc), esc(f.function.empty() ? "??" : f.function), esc(location_text(f)),
                         module_html(f));
    }
  }
  return out;
}

}  // namespace

std::string html_parts::stack_html(const Thread& t, bool full) {
  StackView view = stack_view(t, full);
  std::string out;
  if (t.native_frames.empty())
    out += "<p class=\"muted\">No native frames were captured.</p>\n";
  else
    out += "<table class=\"frames\">\n" + rows_html(t, view.rows) + "</table>\n";
  if (!view.python_rows.empty()) {
    out += "<p>Python frames (innermost first)";
    if (!t.native_frames.empty() && !view.unmatched_reason.empty())
      out += "; not placed among the native frames: " + esc(view.unmatched_reason);
    out += ":</p>\n<table class=\"frames\">\n" + rows_html(t, view.python_rows) + "</table>\n";
  }
  return out;
}

}  // namespace gilwatch::report
