// python_layout: the one private interpreter word the preload reads, and where it is.
//
// _PyRuntime records the thread state that runs finalization (`_finalizing`), so that a
// finalizer on that thread may release and take the GIL without being reported as
// attaching during finalization. Its place, per version:
//   3.8 - 3.10  offset 16 (after four or five leading ints)
//   3.11, 3.12  offset 24
//   3.13+       the runtime says itself, for debuggers: _PyRuntime begins with
//               _Py_DebugOffsets { char cookie[8] = "xdebugpy"; uint64_t version;
//               uint64_t free_threaded; struct { uint64_t size; uint64_t finalizing;
//               ... } runtime_state; ... }
// The first two rows are offsetof(_PyRuntimeState, _finalizing) compiled against each
// version's internal headers (pyenv 3.8.18-3.12.1, Debian 3.11.2). Anything else:
// unknown (0), and only the exit marker names the finalizing thread.
#pragma once

#include <cstddef>

namespace gilwatch {

// Bytes of _PyRuntime that finalizing_tstate_offset may read.
inline constexpr std::size_t kRuntimeHeaderBytes = 40;

// The byte offset of `_finalizing` in _PyRuntime for Python `major`.`minor`, whose first
// kRuntimeHeaderBytes bytes are `runtime`; 0 when unknown.
std::size_t finalizing_tstate_offset(int major, int minor, const unsigned char* runtime);

}  // namespace gilwatch
