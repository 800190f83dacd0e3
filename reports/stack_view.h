// stack_view: how a thread's stack is shown — the text report and the HTML page render the
// same rows. Python frames go into the native stack where the interpreter ran them (as
// `py-spy dump --native` does): each eval-loop frame stands for its run of Python frames.
// By default, consecutive frames of the interpreter, the test runner (pytest, pluggy), a
// thread's start and a Rust runtime (std, tokio, PyO3) fold into one row ("… 14
// interpreter frames"), so the extension's own frames are what one sees; `full` keeps
// every frame. Plain data, no markup: each renderer formats the rows.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "model.h"

namespace gilwatch::report {

// Why a frame folds. A run of frames of several classes is named after all of them.
enum class FoldClass { none, interpreter, test_runner, thread_start, runtime, recursion };

// Frames of CPython itself (libpython, the python executable, the eval loop and call
// machinery); of a thread's start (clone, start_thread, __libc_start_main); of a language
// runtime (is_runtime_frame, plus PyO3's and tokio's glue). none for everything else.
FoldClass native_fold_class(const NativeFrame& frame);
// pytest's and pluggy's own Python frames, and the interpreter's frozen bootstrap.
FoldClass python_fold_class(const PythonFrame& frame);

// Whether a native frame is the interpreter's eval loop, which runs Python frames.
bool is_eval_frame(const NativeFrame& frame);

struct StackRow {
  enum class Kind { native, python, folded };
  Kind kind = Kind::native;
  std::size_t index = 0;         // native: into Thread::native_frames; python: into python_frames
  std::vector<StackRow> folded;  // folded: the rows it stands for, innermost first
  std::vector<FoldClass> classes;  // folded: the classes of those rows, in order of appearance
};

struct StackView {
  std::vector<StackRow> rows;  // innermost first
  // Python frames matched to eval-loop frames and placed among the native rows; false
  // when they could not be matched (then `python_rows` lists them apart).
  bool interleaved = false;
  std::vector<StackRow> python_rows;  // innermost first; folded too unless `full`
  std::string unmatched_reason;       // why not interleaved, when there are Python frames
};

// Which eval-loop frame (index into native_frames) runs each Python frame, innermost
// first; native_frames.size() for a frame beyond a native stack cut by the capture depth;
// empty when they cannot be matched reliably. 3.11+ runs nested Python calls in one loop
// frame: from 3.12 each frame's `loop_pc` names its loop frame (found on the C stack at
// capture, so an unnamed frame of a stripped interpreter serves); otherwise the frames
// marked `entered_from_c` say where each named loop frame's run begins.
// Unmarked (3.10 and older, an interpreter whose layout is unknown): one eval frame per
// Python frame (each Python call a C call), or one eval frame running them all.
std::vector<std::size_t> match_python_frames(const Thread& thread, std::string* reason = nullptr);

// In the default view an eval-loop frame that runs Python frames gives way to them; with
// `full` it stays, followed by them. A native frame of the same function (and module) as
// the frame inside it is a recursion and folds too, so the code that started the
// recursion comes into view. The innermost native frame never folds (it says what the
// thread was doing), nor does a run of one frame.
StackView stack_view(const Thread& thread, bool full);

// "14 interpreter frames", "3 thread start frames", "40 interpreter and test-runner frames",
// "48 recursive frames".
std::string folded_label(const StackRow& row);

}  // namespace gilwatch::report
