// python_layout: the private interpreter words the preload reads, and where they are.
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
#include <cstdint>

namespace gilwatch {

// Bytes of _PyRuntime that finalizing_tstate_offset may read.
inline constexpr std::size_t kRuntimeHeaderBytes = 40;

// The byte offset of `_finalizing` in _PyRuntime for Python `major`.`minor`, whose first
// kRuntimeHeaderBytes bytes are `runtime`; 0 when unknown.
std::size_t finalizing_tstate_offset(int major, int minor, const unsigned char* runtime);

// Where the interpreter entered a Python frame. From 3.11 one call of the eval loop
// (_PyEval_EvalFrameDefault) runs a Python function and every Python function it calls;
// a new C-level call of the loop starts only where C code calls Python (a C function, a
// slot, a generator resumed from C). Which frames began such a call is recorded in the
// frame's private part only:
//   3.11        _PyInterpreterFrame.is_entry (a bool)
//   3.12 - 3.15 the frame's `previous` is the loop's own entry frame on the C stack,
//               whose `owner` is FRAME_OWNED_BY_CSTACK (3.12, 3.13: 3) or, from 3.14,
//               FRAME_OWNED_BY_INTERPRETER (3; CPython itself tests owner >= 3)
// A frame object (PyFrameObject, public through PyEval_GetFrame) points at its
// _PyInterpreterFrame (`f_frame`), which points back at it (`frame_obj`): the back
// pointer is checked before anything else is believed, so a build whose layout differs
// (a debug build's larger object header, a free-threaded build) reads as unknown.
// Offsets: offsetof() compiled against each version's internal headers (pyenv 3.11.7,
// 3.12.1, 3.13.0, Debian 3.11.2, Debian forky's 3.14.8 and 3.15.0), checked again by
// tests/integration/test_frame_layout.py wherever those headers are installed.
struct FrameEntryLayout {
  enum class Marker { kUnknown, kEntryFlag, kPreviousOwner };
  Marker marker = Marker::kUnknown;
  std::size_t frame_object_to_frame = 0;  // PyFrameObject.f_frame
  std::size_t frame_to_frame_object = 0;  // _PyInterpreterFrame.frame_obj
  std::size_t entry_flag = 0;             // kEntryFlag: _PyInterpreterFrame.is_entry
  std::size_t previous = 0;               // kPreviousOwner: _PyInterpreterFrame.previous
  std::size_t owner = 0;                  // kPreviousOwner: _PyInterpreterFrame.owner
  unsigned char c_stack_owner = 0;        // kPreviousOwner: owners >= this mark the loop's entry
};

// The layout for a release build (not free-threaded) of Python `major`.`minor`; kUnknown
// before 3.11 (every Python call is its own C call there) and after the newest version
// checked.
FrameEntryLayout frame_entry_layout(int major, int minor, bool free_threaded);

enum class FrameEntry { kUnknown, kInline, kFromC };

// Whether the live frame object at `frame_object` was entered from C, reading the
// interpreter's memory as `layout` says. The object must be a frame of the calling thread
// that is executing (as PyEval_GetFrame and PyFrame_GetBack return them, under the GIL).
FrameEntry frame_entry(const FrameEntryLayout& layout, const void* frame_object);

// 3.12+: the eval loop's own entry frame for the call that runs `frame_object` — a local
// of that C call, so its address is on the C stack, inside the native frame that runs the
// loop (which a stripped interpreter does not name). Null when unknown (3.11, whose loop
// keeps no such frame; a layout that does not check out; a chain longer than
// kMaxFrameChain).
inline constexpr int kMaxFrameChain = 100000;
const void* frame_loop_entry(const FrameEntryLayout& layout, const void* frame_object);

// Which native frame holds the stack address `local`: the first, innermost first, whose
// canonical frame address is above it (`cfa` as capture_native_stack records them);
// `count` when none does.
uint32_t native_frame_holding(const uintptr_t* cfa, uint32_t count, uintptr_t local);

}  // namespace gilwatch
