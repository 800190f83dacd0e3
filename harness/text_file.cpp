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

}  // namespace gilwatch::harness
