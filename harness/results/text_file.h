// text_file: reading a whole file into a string, with the reason when it cannot be read;
// walking the lines of the project's line-oriented files (suppressions, baselines).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace gilwatch::harness {

// Reads the whole file at `path` into `text`. On failure returns false with `error` set
// to the system's reason ("No such file or directory").
bool read_text_file(const std::string& path, std::string* text, std::string* error);

// Calls `visit(line_number, line)` (1-based; the line without surrounding blanks or
// '\r') for each line of `text` that is neither blank nor a '#' comment, until `visit`
// returns false. Returns false when a visit did.
bool for_each_meaningful_line(std::string_view text,
                              const std::function<bool(int line_number, std::string_view line)>& visit);

}  // namespace gilwatch::harness
