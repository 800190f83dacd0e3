// text_file: reading a whole file into a string, with the reason when it cannot be read.
#pragma once

#include <string>

namespace gilwatch::harness {

// Reads the whole file at `path` into `text`. On failure returns false with `error` set
// to the system's reason ("No such file or directory").
bool read_text_file(const std::string& path, std::string* text, std::string* error);

}  // namespace gilwatch::harness
