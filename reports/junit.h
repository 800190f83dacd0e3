// junit: the report as JUnit XML, so CI systems show gilwatch's results as test results.
// Stress: one test case per scenario and variant (a run group), failing when any of its
// runs found something or did not end well. `gilwatch run`: one test case per test the
// findings happened in (the pytest plugin names them), one for findings outside any test,
// and a passing case for the command when there were none.
#pragma once

#include <string>

#include "model.h"

namespace gilwatch::report {

std::string render_junit(const Report& report);

// Escapes text for XML 1.0 content and attributes; characters XML cannot carry
// (control characters other than tab and newlines) become U+FFFD.
std::string xml_escape(const std::string& text);

}  // namespace gilwatch::report
