#pragma once

#include <string>

#include "model.h"

namespace gilwatch::report {

// The sanitizer-style text that `gilwatch run` prints on stderr: each finding with its
// cycle, every edge's thread, native frames (function file:line) and Python frames.
std::string render_text(const Report& report, std::size_t max_frames = 16);

// "kind in plain words" and what it means, shared by the text and HTML renderers.
const char* kind_title(const std::string& kind);
const char* kind_explanation(const std::string& kind);

}  // namespace gilwatch::report
