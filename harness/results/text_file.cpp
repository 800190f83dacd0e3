#include "text_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace gilwatch::harness {

bool read_text_file(const std::string& path, std::string* text, std::string* error) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = errno ? std::strerror(errno) : "cannot open the file";
    return false;
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    *error = errno ? std::strerror(errno) : "cannot read the file";
    return false;
  }
  *text = content.str();
  return true;
}

bool for_each_meaningful_line(std::string_view text,
                              const std::function<bool(int line_number, std::string_view line)>& visit) {
  int line_number = 0;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++line_number;
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    line.remove_prefix(first);
    line.remove_suffix(line.size() - 1 - line.find_last_not_of(" \t\r"));
    if (!visit(line_number, line)) return false;
  }
  return true;
}

}  // namespace gilwatch::harness
