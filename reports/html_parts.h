// html_parts: what the HTML report's files share — escaping, the stack listing
// (html_stack.cpp), a duration cell — and what html_pictures.cpp and html_profile.cpp draw
// for html_report.cpp. Internal to reports/; the report's interface is html_report.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "model.h"

namespace gilwatch::report::html_parts {

// html_escape (html_report.h), the short name every piece of untrusted text goes through.
std::string esc(const std::string& text);
std::string plural(std::size_t n, const char* word, const char* words);
// A thread's stack as stack_view.h arranges it (html_stack.cpp): native frames with the
// Python frames interleaved; folded runs are <details> that expand on a click. `full`:
// nothing folded (--full-stacks).
std::string stack_html(const Thread& t, bool full = false);
// "file.c:12", or "" when the frame has no source file (html_stack.cpp).
std::string location_text(const NativeFrame& f);
// The frame's module (its full path on hover) and offset, or "" without a module.
std::string module_html(const NativeFrame& f);
// A sortable table cell: the duration in words, sorted by nanoseconds (html_profile.cpp).
std::string duration_cell(uint64_t ns);

// The pictures (html_pictures.cpp): a lock-order cycle, a deadlock's wait-for graph, the
// charts of one run's measurements.
std::string cycle_picture(const Finding& f);
std::string wait_for_picture(const Finding& f);
std::string measurement_charts(const Run& run);

// The profile sections (html_profile.cpp); empty when nothing was profiled.
std::string gil_profile_html(const Report& report);
std::string contention_html(const Report& report);

}  // namespace gilwatch::report::html_parts
