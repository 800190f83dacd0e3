// findings_json: the machine-readable findings, schema v1 (docs/findings-format.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "model.h"
#include "text_report.h"

namespace gilwatch::report {

inline constexpr const char* kFindingsFormatName = "gilwatch-findings";
inline constexpr int kFindingsFormatVersion = 1;

// The document as a JSON value; keys keep the documented order. `text` chooses how each
// finding's `text` (its block of the text report) shows stacks: folded, or every frame.
nlohmann::ordered_json to_findings_json(const Report& report, const std::string& tool_version,
                                        const TextOptions& text = {});

// The document as text, indented. Bytes that are not valid UTF-8 (a path from the
// process under test, say) become U+FFFD instead of failing the whole report.
std::string render_findings_json(const Report& report, const std::string& tool_version,
                                 const TextOptions& text = {});

}  // namespace gilwatch::report
