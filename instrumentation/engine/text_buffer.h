// text_buffer: a fixed-size line builder (no stdio, no malloc) for text made inside the
// process under test: finding summaries and the lines printed on stderr. It only builds;
// where the text goes is the caller's business (preload/output/stderr_text.h writes it to fd 2).
// Text beyond the buffer is dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "number_format.h"

namespace gilwatch {

struct TextBuffer {
  char buf[4096];
  std::size_t len = 0;
  void add(const char* s) { add(s, std::strlen(s)); }
  void add(const char* s, std::size_t n) {
    if (len + n > sizeof(buf)) n = sizeof(buf) - len;
    std::memcpy(buf + len, s, n);
    len += n;
  }
  void add_dec(uint64_t v) {
    char digits[20];
    add(digits, format_decimal(v, digits));
  }
  void add_hex(uintptr_t v) {
    char digits[16];
    add("0x");
    add(digits, format_hex(v, digits));
  }
};

}  // namespace gilwatch
