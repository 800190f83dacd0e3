#pragma once

#include <nlohmann/json.hpp>

#include "model.h"

namespace gilwatch::report {

// findings.json, schema v1 (docs/findings-format.md).
nlohmann::json to_findings_json(const Report& report, const std::string& tool_version);

}  // namespace gilwatch::report
