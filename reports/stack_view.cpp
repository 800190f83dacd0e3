#include "stack_view.h"

#include <fmt/format.h>

#include "describe.h"

namespace gilwatch::report {

namespace {

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// libpython3.11.so.1.0, or an interpreter executable: python, python3, python3.11, python3.13t.
bool is_interpreter_module(const std::string& module) {
  std::string name = base_name(module);
  if (starts_with(name, "libpython")) return true;
  if (!starts_with(name, "python")) return false;
  for (std::size_t i = 6; i < name.size(); ++i)
    if (std::string("0123456789.dmt").find(name[i]) == std::string::npos) return false;
  return true;
}

bool is_interpreter_function(const std::string& f) {
  static constexpr const char* kPrefixes[] = {
      "_PyEval_",      "PyEval_",    "_PyObject_",     "PyObject_Call", "PyObject_Vectorcall", "_PyFunction_",
      "_PyVectorcall", "cfunction_", "method_vectorcall", "slot_tp_",   "Py_RunMain",          "Py_BytesMain",
      "pymain_",       "_PyRun_",    "PyRun_",         "run_mod",       "run_eval_code_obj",   "thread_run",
      "pythread_wrapper",
  };
  for (const char* prefix : kPrefixes)
    if (starts_with(f, prefix)) return true;
  return false;
}

bool is_thread_start_function(const std::string& f) {
  static constexpr const char* kNames[] = {"start_thread", "clone", "clone3", "__clone", "__clone3", "__clone_internal",
                                           "_start"};
  for (const char* name : kNames)
    if (f == name) return true;
  return starts_with(f, "__libc_start");
}

bool is_runtime_glue(const NativeFrame& frame) {
  if (is_runtime_frame(frame)) return true;
  static constexpr const char* kPrefixes[] = {
      "pyo3::",  "<pyo3::",  "tokio::", "<tokio::", "std::rt::", "std::panic::", "core::ops::function::",
      "std::sys_common::", "__rust_begin_short_backtrace", "__rust_try", "<core::future::", "<core::pin::",
  };
  for (const char* prefix : kPrefixes)
    if (starts_with(frame.function, prefix)) return true;
  return false;
}

bool is_recursion(const NativeFrame& inner, const NativeFrame& frame) {
  return !frame.function.empty() && frame.function != "??" && frame.function == inner.function &&
         frame.module == inner.module;
}

bool stack_is_complete(const std::vector<NativeFrame>& frames) {
  return !frames.empty() && native_fold_class(frames.back()) == FoldClass::thread_start;
}

const char* class_name(FoldClass c) {
  switch (c) {
    case FoldClass::interpreter: return "interpreter";
    case FoldClass::test_runner: return "test-runner";
    case FoldClass::thread_start: return "thread start";
    case FoldClass::runtime: return "runtime";
    case FoldClass::recursion: return "recursive";
    case FoldClass::none: break;
  }
  return "";
}

// 3.11+: each eval-loop frame, innermost first, runs the Python frames up to and including
// the next one a C call began (python_layout.h). The Python list may be cut at its outer
// end (then its last run has no beginning), the native stack at its capture depth (then
// the outer runs lie beyond it: they go after the last native frame, `native_count`).
std::vector<std::size_t> match_by_entries(const std::vector<std::size_t>& loops, const std::vector<PythonFrame>& python,
                                          std::size_t native_count, bool native_complete, std::string& why) {
  std::size_t runs = 0;
  for (const PythonFrame& frame : python)
    if (*frame.entered_from_c) ++runs;
  bool python_cut = !*python.back().entered_from_c;
  if (python_cut) ++runs;
  bool matches = loops.size() == runs || (python_cut && loops.size() > runs) || (!native_complete && loops.size() < runs);
  if (!matches) {
    why = fmt::format("{} interpreter loop frame{} for {} call{} into Python", loops.size(), loops.size() == 1 ? "" : "s",
                      runs, runs == 1 ? "" : "s");
    return {};
  }
  std::vector<std::size_t> owner;
  std::size_t run = 0;
  for (const PythonFrame& frame : python) {
    owner.push_back(run < loops.size() ? loops[run] : native_count);
    if (*frame.entered_from_c) ++run;
  }
  return owner;
}

// 3.12+: each Python frame names the native frame (by its pc) whose loop call runs it, as
// found on the C stack when it was captured: no function name needed. Innermost first, a
// frame's loop frame is at or outside the one before; an inlined call shares its caller's
// pc, so the last frame of such a run is the loop's own. A loop frame beyond a stack cut
// by the capture depth puts the rest after the last native frame.
std::vector<std::size_t> match_by_loop_pcs(const std::vector<NativeFrame>& native, const std::vector<PythonFrame>& python,
                                           bool native_complete) {
  std::vector<std::size_t> owner;
  std::size_t from = 0;
  for (const PythonFrame& frame : python) {
    std::size_t at = from;
    while (at < native.size() && native[at].pc != frame.loop_pc) ++at;
    if (at == native.size()) {
      if (native_complete) return {};
    } else {
      while (at + 1 < native.size() && native[at + 1].pc == frame.loop_pc) ++at;
    }
    owner.push_back(at);
    from = at;
  }
  return owner;
}

}  // namespace

FoldClass native_fold_class(const NativeFrame& frame) {
  if (is_thread_start_function(frame.function)) return FoldClass::thread_start;
  if (is_runtime_glue(frame)) return FoldClass::runtime;
  if (!frame.module.empty() ? is_interpreter_module(frame.module) : is_interpreter_function(frame.function))
    return FoldClass::interpreter;
  return FoldClass::none;
}

FoldClass python_fold_class(const PythonFrame& frame) {
  const std::string& file = frame.file;
  if (file.find("/_pytest/") != std::string::npos || file.find("/pluggy/") != std::string::npos ||
      ends_with(file, "/pytest/__main__.py") || ends_with(file, "/pytest.py") || ends_with(file, "/bin/pytest"))
    return FoldClass::test_runner;
  // 3.11+ names methods by their qualified name: "Thread._bootstrap_inner".
  std::string method = frame.function.substr(frame.function.rfind('.') + 1);
  if (ends_with(file, "/threading.py") && (method == "_bootstrap" || method == "_bootstrap_inner" || method == "run"))
    return FoldClass::thread_start;
  if (starts_with(file, "<frozen ") || ends_with(file, "/runpy.py")) return FoldClass::interpreter;
  return FoldClass::none;
}

bool is_eval_frame(const NativeFrame& frame) {
  return starts_with(frame.function, "_PyEval_EvalFrameDefault") || frame.function == "PyEval_EvalFrameEx";
}

std::vector<std::size_t> match_python_frames(const Thread& thread, std::string* reason) {
  const auto& native = thread.native_frames;
  std::size_t python = thread.python_frames.size();
  std::vector<std::size_t> loops;
  for (std::size_t i = 0; i < native.size(); ++i)
    if (is_eval_frame(native[i])) loops.push_back(i);
  std::string why;
  std::vector<std::size_t> owner;
  bool marked = python > 0, located = python > 0;
  for (const PythonFrame& frame : thread.python_frames) {
    marked = marked && frame.entered_from_c.has_value();
    located = located && frame.loop_pc != 0;
  }
  if (located) owner = match_by_loop_pcs(native, thread.python_frames, stack_is_complete(native));
  if (python == 0 || !owner.empty()) {
    // nothing to place, or placed by the loop frames' addresses
  } else if (marked && !loops.empty()) {
    owner = match_by_entries(loops, thread.python_frames, native.size(), stack_is_complete(native), why);
  } else if (loops.size() == python) {
    owner = loops;
  } else if (loops.size() == 1 && stack_is_complete(native)) {
    owner.assign(python, loops.front());
  } else if (loops.empty()) {
    why = "no interpreter loop among the native frames";
  } else {
    why = fmt::format("{} interpreter loop frame{} for {} Python frames", loops.size(), loops.size() == 1 ? "" : "s",
                      python);
  }
  if (reason) *reason = why;
  return owner;
}

StackView stack_view(const Thread& thread, bool full) {
  StackView view;
  std::vector<std::size_t> owner = match_python_frames(thread, &view.unmatched_reason);
  view.interleaved = !owner.empty();
  struct Item {
    StackRow row;
    FoldClass cls;
  };
  std::vector<Item> items;
  std::size_t next_python = 0;
  for (std::size_t i = 0; i < thread.native_frames.size(); ++i) {
    const NativeFrame& f = thread.native_frames[i];
    bool runs_python = view.interleaved && next_python < owner.size() && owner[next_python] == i;
    FoldClass cls = i == 0 ? FoldClass::none : native_fold_class(f);
    if (cls == FoldClass::none && i > 0 && is_recursion(thread.native_frames[i - 1], f)) cls = FoldClass::recursion;
    if (full || !runs_python) items.push_back({{StackRow::Kind::native, i, {}, {}}, cls});
    while (view.interleaved && next_python < owner.size() && owner[next_python] == i) {
      items.push_back({{StackRow::Kind::python, next_python, {}, {}},
                       python_fold_class(thread.python_frames[next_python])});
      ++next_python;
    }
  }
  // Python frames beyond a native stack cut at the capture depth: outermost of all.
  for (; view.interleaved && next_python < owner.size(); ++next_python)
    items.push_back({{StackRow::Kind::python, next_python, {}, {}}, python_fold_class(thread.python_frames[next_python])});
  auto fold = [full](const std::vector<Item>& in) {
    std::vector<StackRow> out;
    for (std::size_t i = 0; i < in.size();) {
      std::size_t end = i;
      while (!full && end < in.size() && in[end].cls != FoldClass::none) ++end;
      if (end - i >= 2) {
        StackRow folded{StackRow::Kind::folded, 0, {}, {}};
        for (std::size_t k = i; k < end; ++k) {
          folded.folded.push_back(in[k].row);
          bool known = false;
          for (FoldClass c : folded.classes) known = known || c == in[k].cls;
          if (!known) folded.classes.push_back(in[k].cls);
        }
        out.push_back(std::move(folded));
        i = end;
      } else {
        out.push_back(in[i].row);
        ++i;
      }
    }
    return out;
  };
  view.rows = fold(items);
  if (!view.interleaved) {
    std::vector<Item> python;
    for (std::size_t i = 0; i < thread.python_frames.size(); ++i)
      python.push_back({{StackRow::Kind::python, i, {}, {}}, python_fold_class(thread.python_frames[i])});
    view.python_rows = fold(python);
  }
  return view;
}

std::string folded_label(const StackRow& row) {
  std::string names;
  for (std::size_t i = 0; i < row.classes.size(); ++i) {
    if (i > 0) names += i + 1 == row.classes.size() ? " and " : ", ";
    names += class_name(row.classes[i]);
  }
  return fmt::format("{} {} frame{}", row.folded.size(), names, row.folded.size() == 1 ? "" : "s");
}

}  // namespace gilwatch::report
