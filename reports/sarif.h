// sarif: the findings as SARIF 2.1.0, so code-scanning services (GitHub's among them)
// annotate the source lines where the locks were taken. One run, one rule per finding
// kind, one result per finding; each involved thread's stack becomes a thread flow.
#pragma once

#include <string>

#include "model.h"

namespace gilwatch::report {

struct SarifOptions {
  // Files under this directory are named relative to it (uriBaseId SRCROOT), as code
  // scanning expects; others keep absolute file:// URIs. Usually the working directory.
  std::string source_root;
  std::string findings_doc_url;  // docs/findings.md as a URL, for each rule's helpUri
};

std::string render_sarif(const Report& report, const std::string& tool_version, const SarifOptions& options);

}  // namespace gilwatch::report
