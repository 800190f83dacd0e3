// stderr_text: the one way the library prints on the program's stderr. A line is built in
// a TextBuffer (engine/text_buffer.h) and flushed whole through write_program_stderr
// (runtime.h), which writes only while fd 2 is still the file the program started with
// and retries interrupted and short writes. No stdio, no malloc.
#pragma once

#include "runtime.h"
#include "text_buffer.h"

namespace gilwatch::preload {

struct StderrText : TextBuffer {
  void flush_to_stderr() {
    write_program_stderr(buf, len);
    len = 0;
  }
};

}  // namespace gilwatch::preload
