#pragma once

#include <string>

#include "model.h"

namespace gilwatch::report {

// One self-contained HTML page (inline CSS, no scripts, no network). Everything that
// came from the process under test is escaped.
std::string render_html(const Report& report, const std::string& tool_version);

std::string html_escape(const std::string& text);

}  // namespace gilwatch::report
