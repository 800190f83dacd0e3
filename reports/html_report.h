// html_report: one self-contained page (inline CSS, no scripts, no network requests),
// readable from file://. Everything that came from the process under test is escaped.
#pragma once

#include <string>

#include "model.h"

namespace gilwatch::report {

std::string render_html(const Report& report, const std::string& tool_version);

// Escapes &, <, >, " and ' so text is safe both in element content and in attribute values.
std::string html_escape(const std::string& text);

}  // namespace gilwatch::report
