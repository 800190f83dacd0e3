// Unit tests of how a thread's stack is shown (reports/stack_view): Python frames matched
// to their eval-loop frames, interpreter, test-runner, thread start and runtime frames
// folded, and what the text report and the HTML page print of it.
#include "report_side_fixtures.h"
#include "stack_view.h"

namespace {

report::Report report_with_thread(const report::Thread& t) {
  report::Report r;
  report::Finding f;
  f.kind = "gil-held-blocking";
  f.summary = "blocked holding the GIL";
  f.pids = {9};
  f.threads = {t};
  r.findings = {f};
  return r;
}

std::size_t at(const std::string& text, const std::string& part, std::size_t from = 0) {
  std::size_t i = text.find(part, from);
  INFO(part);
  CHECK(i != std::string::npos);
  return i;
}

// Rows of a thread's stack in the text report: lines indented by exactly four spaces
// (the finding's own lines, such as the fix and its continuation, are indented by two,
// or by seven).
std::size_t stack_rows(const std::string& text) {
  std::size_t n = 0;
  for (std::size_t at = text.find("\n    "); at != std::string::npos; at = text.find("\n    ", at + 1))
    if (at + 5 < text.size() && text[at + 5] != ' ') ++n;
  return n;
}

}  // namespace

TEST_CASE("each Python frame is matched to its eval-loop frame when there is one per Python frame", "[stack_view]") {
  report::Thread t = pytest_thread();
  std::string reason;
  std::vector<std::size_t> owner = report::match_python_frames(t, &reason);
  REQUIRE(owner.size() == t.python_frames.size());
  CHECK(reason.empty());
  for (std::size_t i = 0; i < owner.size(); ++i) {
    CHECK(t.native_frames[owner[i]].function == "_PyEval_EvalFrameDefault");
    if (i > 0) CHECK(owner[i] > owner[i - 1]);  // innermost first on both sides
  }
  CHECK(owner.front() == 5);
}

TEST_CASE("Python frames that cannot be matched to eval-loop frames are not placed, and why is said",
          "[stack_view]") {
  report::Thread t = pytest_thread(false);  // two loop frames for nine Python frames
  std::string reason;
  CHECK(report::match_python_frames(t, &reason).empty());
  CHECK(reason == "2 interpreter loop frames for 9 Python frames");
  report::StackView view = report::stack_view(t, false);
  CHECK_FALSE(view.interleaved);
  CHECK_FALSE(view.python_rows.empty());
  // One loop frame on a stack that reaches the thread's start runs them all; cut short, not.
  report::Thread one = pytest_thread(false);
  one.native_frames.erase(one.native_frames.begin() + 5);  // the inner loop frame
  CHECK(report::match_python_frames(one).size() == 9);
  one.native_frames.resize(one.native_frames.size() - 3);  // cut before __libc_start_main
  CHECK(report::match_python_frames(one, &reason).empty());
  CHECK(reason == "1 interpreter loop frame for 9 Python frames");
}

namespace {

// pytest_thread(false) as 3.11+ records it: the test's frames run inline in one loop call
// (the innermost eval-loop frame), pytest's entry point begins the outer one; each frame
// marked by whether a new call of the loop began it.
report::Thread marked_pytest_thread() {
  report::Thread t = pytest_thread(false);
  for (std::size_t i = 0; i < t.python_frames.size(); ++i) t.python_frames[i].entered_from_c = i >= 7;
  return t;
}

std::vector<std::size_t> loop_frames(const report::Thread& t) {
  std::vector<std::size_t> loops;
  for (std::size_t i = 0; i < t.native_frames.size(); ++i)
    if (report::is_eval_frame(t.native_frames[i])) loops.push_back(i);
  return loops;
}

}  // namespace

TEST_CASE("3.11+: each eval-loop frame runs the Python frames up to the next one a C call began", "[stack_view]") {
  report::Thread t = marked_pytest_thread();
  std::vector<std::size_t> loops = loop_frames(t);
  REQUIRE(loops.size() == 2);
  std::string reason = "unset";
  std::vector<std::size_t> owner = report::match_python_frames(t, &reason);
  REQUIRE(owner.size() == 9);
  CHECK(reason.empty());
  for (std::size_t i = 0; i < 8; ++i) CHECK(owner[i] == loops[0]);
  CHECK(owner[8] == loops[1]);
  CHECK(report::stack_view(t, false).interleaved);

  SECTION("a Python list cut at its outer end: the last run has no beginning, the outer loop frame runs unrecorded ones") {
    t.python_frames.pop_back();
    t.python_frames.back().entered_from_c = false;
    owner = report::match_python_frames(t, &reason);
    REQUIRE(owner.size() == 8);
    for (std::size_t o : owner) CHECK(o == loops[0]);
  }
  SECTION("a native stack cut by the capture depth: the outer runs go after its last frame") {
    t.native_frames.resize(loops[0] + 2);
    owner = report::match_python_frames(t, &reason);
    REQUIRE(owner.size() == 9);
    CHECK(owner[0] == loops[0]);
    CHECK(owner[8] == t.native_frames.size());
    report::StackView view = report::stack_view(t, true);
    REQUIRE(view.interleaved);
    CHECK(view.rows.back().kind == report::StackRow::Kind::python);
    CHECK(view.rows.back().index == 8);
    CHECK(view.rows.size() == t.native_frames.size() + t.python_frames.size());
  }
  SECTION("more calls into Python than loop frames on a whole stack: not placed, and why") {
    t.python_frames[3].entered_from_c = true;
    CHECK(report::match_python_frames(t, &reason).empty());
    CHECK(reason == "2 interpreter loop frames for 3 calls into Python");
  }
  SECTION("fewer: not placed either") {
    t.python_frames[7].entered_from_c = false;
    CHECK(report::match_python_frames(t, &reason).empty());
    CHECK(reason == "2 interpreter loop frames for 1 call into Python");
  }
  SECTION("a frame whose mark is unknown: the unmarked rules decide (and cannot match these)") {
    t.python_frames[2].entered_from_c.reset();
    CHECK(report::match_python_frames(t, &reason).empty());
    CHECK(reason == "2 interpreter loop frames for 9 Python frames");
  }
}

TEST_CASE("3.12+: each Python frame goes to the native frame its loop call ran in, named or not", "[stack_view]") {
  report::Thread t = marked_pytest_thread();
  std::vector<std::size_t> loops = loop_frames(t);
  REQUIRE(loops.size() == 2);
  for (std::size_t i : loops) t.native_frames[i].function = "??";  // a stripped interpreter
  for (std::size_t i = 0; i < t.native_frames.size(); ++i) t.native_frames[i].pc = 0x1000 + 0x10 * i;
  for (std::size_t i = 0; i < t.python_frames.size(); ++i)
    t.python_frames[i].loop_pc = t.native_frames[loops[i < 8 ? 0 : 1]].pc;
  std::string reason;
  std::vector<std::size_t> owner = report::match_python_frames(t, &reason);
  REQUIRE(owner.size() == 9);
  for (std::size_t i = 0; i < 8; ++i) CHECK(owner[i] == loops[0]);
  CHECK(owner[8] == loops[1]);

  SECTION("an inlined call shares its caller's pc: the Python frames follow the loop's own frame") {
    report::NativeFrame inlined = t.native_frames[loops[0]];
    inlined.function = "_PyEval_EvalFrame";
    t.native_frames.insert(t.native_frames.begin() + loops[0], inlined);
    owner = report::match_python_frames(t, &reason);
    REQUIRE(owner.size() == 9);
    CHECK(owner[0] == loops[0] + 1);
  }
  SECTION("a loop frame beyond a native stack cut by the capture depth: the rest go after it") {
    t.native_frames.resize(loops[1] - 1);
    owner = report::match_python_frames(t, &reason);
    REQUIRE(owner.size() == 9);
    CHECK(owner[7] == loops[0]);
    CHECK(owner[8] == t.native_frames.size());
  }
  SECTION("a pc that is not on a whole stack: the other rules decide (unnamed loops: not placed)") {
    t.python_frames[8].loop_pc = 0x9999;
    CHECK(report::match_python_frames(t, &reason).empty());
    CHECK(reason == "no interpreter loop among the native frames");
  }
}

TEST_CASE("3.11+: the text report shows the test's Python frames inside the eval-loop frame that ran them",
          "[stack_view][text_report]") {
  std::string text = report::render_text(report_with_thread(marked_pytest_thread()));
  INFO(text);
  CHECK_FALSE(contains(text, "not placed among the native frames"));
  std::size_t extension = at(text, " in registry_call ");
  std::size_t test = at(text, "py /app/tests/test_registry.py:12 in test_store\n");
  CHECK(extension < test);
  CHECK(test < at(text, "… 23 test-runner, interpreter and thread start frames\n"));
  CHECK_FALSE(contains(text, "    Python (innermost first"));
  std::string full = report::render_text(report_with_thread(marked_pytest_thread()), {true});
  // The inner loop frame, then its eight Python frames, then the outer loop frame and pytest's entry.
  std::size_t inner_loop = at(full, "    #5 ");
  std::size_t multicall = at(full, "py /venv/lib/python3.10/site-packages/pluggy/_callers.py:103 in _multicall\n");
  std::size_t console_main = at(full, "in console_main\n");
  std::size_t outer_loop = at(full, " in _PyEval_EvalFrameDefault", console_main);
  std::size_t module = at(full, "py /venv/bin/pytest:8 in <module>\n");
  CHECK(inner_loop < multicall);
  CHECK(multicall < console_main);
  CHECK(console_main < outer_loop);
  CHECK(outer_loop < module);
}

TEST_CASE("frames are classed by what they belong to", "[stack_view]") {
  using report::FoldClass;
  CHECK(report::native_fold_class({0, "/usr/lib/libpython3.11.so.1.0", 0, "cfunction_call", "", 0}) ==
        FoldClass::interpreter);
  CHECK(report::native_fold_class({0, "/usr/bin/python3.11", 0, "PySys_WriteStderr", "", 0}) == FoldClass::interpreter);
  CHECK(report::native_fold_class({0, "/usr/bin/python3.13t", 0, "x", "", 0}) == FoldClass::interpreter);
  CHECK(report::native_fold_class({0, "/lib/libc.so.6", 0, "start_thread", "", 0}) == FoldClass::thread_start);
  CHECK(report::native_fold_class({0, "/app/r.so", 0, "pyo3::impl_::trampoline::trampoline", "", 0}) ==
        FoldClass::runtime);
  CHECK(report::python_fold_class({"_multicall", "/v/site-packages/pluggy/_callers.py", 1}) == FoldClass::test_runner);
  CHECK(report::python_fold_class({"_bootstrap_inner", "/usr/lib/python3.11/threading.py", 1}) ==
        FoldClass::thread_start);
  CHECK(report::python_fold_class({"Thread._bootstrap_inner", "/usr/lib/python3.11/threading.py", 1}) ==
        FoldClass::thread_start);
  // Negative twins: the extension's own frames, libc's lock calls, the test's own code.
  CHECK(report::native_fold_class({0, "/app/_python_ext.so", 0, "PyInit__python_ext", "", 0}) == FoldClass::none);
  CHECK(report::native_fold_class({0, "/app/python_helpers.so", 0, "helper", "", 0}) == FoldClass::none);
  CHECK(report::native_fold_class({0, "/lib/libc.so.6", 0, "pthread_mutex_lock", "", 0}) == FoldClass::none);
  CHECK(report::native_fold_class({0, "/app/r.so", 0, "rs_registry::store", "/src/registry/src/lib.rs", 3}) ==
        FoldClass::none);
  CHECK(report::python_fold_class({"test_store", "/app/tests/test_registry.py", 12}) == FoldClass::none);
  CHECK(report::python_fold_class({"run", "/app/worker.py", 12}) == FoldClass::none);
  CHECK(report::python_fold_class({"Thread.join", "/usr/lib/python3.11/threading.py", 1}) == FoldClass::none);
}

TEST_CASE("the text report folds the interpreter and pytest, with the extension's frames first in view",
          "[stack_view][text_report]") {
  std::string text = report::render_text(report_with_thread(pytest_thread()));
  std::size_t lock = at(text, "\n    #0 0x");
  std::size_t store = at(text, " in registry_store registry.c:40 (_registry.cpython-310-x86_64-linux-gnu.so+");
  std::size_t call = at(text, " in registry_call registry.c:61 ");
  std::size_t glue = at(text, "\n    \u2026 2 interpreter frames\n");
  std::size_t test = at(text, "\n    py /app/tests/test_registry.py:12 in test_store\n");
  std::size_t rest = at(text, "\n    \u2026 23 interpreter, test-runner and thread start frames\n");
  CHECK(lock < store);
  CHECK(store < call);
  CHECK(call < glue);
  CHECK(glue < test);
  CHECK(test < rest);
  CHECK_FALSE(contains(text, "_PyEval_EvalFrameDefault"));
  CHECK_FALSE(contains(text, "pluggy"));
  CHECK(stack_rows(text) == 6);  // six lines for 38 frames (29 native, 9 Python)
}

TEST_CASE("full stacks (--full-stacks) print every frame, the eval loops followed by their Python frames",
          "[stack_view][text_report]") {
  report::Thread t = pytest_thread();
  std::string text = report::render_text(report_with_thread(t), {true});
  CHECK_FALSE(contains(text, "\u2026"));
  CHECK(count_of(text, " in _PyEval_EvalFrameDefault (libpython3.10.so.1.0+") == 9);
  CHECK(contains(text, "py /venv/lib/python3.10/site-packages/pluggy/_callers.py:103 in _multicall\n"));
  std::size_t loop = at(text, "    #5 ");
  CHECK(loop < at(text, "py /app/tests/test_registry.py:12 in test_store"));
  CHECK(stack_rows(text) == t.native_frames.size() + t.python_frames.size());
  CHECK(contains(text, "    #28 0x"));
}

TEST_CASE("unmatched Python frames are listed apart, with the reason, pytest folded there too",
          "[stack_view][text_report]") {
  std::string text = report::render_text(report_with_thread(pytest_thread(false)));
  CHECK(contains(text, "    Python (innermost first; not placed among the native frames: 2 interpreter loop frames "
                       "for 9 Python frames):\n      /app/tests/test_registry.py:12 in test_store\n      \u2026 8 "
                       "test-runner frames\n"));
  CHECK_FALSE(contains(text, "    py "));
}

TEST_CASE("a Rust extension's frame stays between its runtime's folded frames", "[stack_view][text_report]") {
  std::string text = report::render_text(report_with_thread(rust_worker_thread()));
  std::size_t futex = at(text, "\n    \u2026 2 runtime frames\n");
  std::size_t own = at(text, " in rs_registry::store /src/registry/src/lib.rs:30 (rs_registry.so+");
  std::size_t rest = at(text, "\n    \u2026 8 runtime and thread start frames\n");
  CHECK(at(text, "    #0 ") < futex);
  CHECK(futex < own);
  CHECK(own < rest);
  CHECK_FALSE(contains(text, "tokio::"));
}

TEST_CASE("a short stack of the program's own frames prints as it was", "[stack_view][text_report]") {
  report::Thread t;
  t.tid = 1;
  t.name = "main";
  t.native_frames = {module_frame("pthread_mutex_lock", "/lib/libc.so.6"), module_frame("take_a_then_b", "/bin/abba"),
                     module_frame("start_thread", "/lib/libc.so.6")};
  std::string folded = report::render_text(report_with_thread(t));
  CHECK(folded == report::render_text(report_with_thread(t), {true}));  // a run of one never folds
  CHECK_FALSE(contains(folded, "\u2026"));
  CHECK(contains(folded, " in start_thread (libc.so.6+"));
}

TEST_CASE("a recursion folds below its innermost frame, bringing its caller into view", "[stack_view][text_report]") {
  report::Thread t;
  t.tid = 1;
  t.name = "deep";
  report::NativeFrame descend = module_frame("runtime_descend", "/bin/deep", "deep.c", 21);
  t.native_frames = {module_frame("runtime_descend", "/bin/deep", "deep.c", 17)};
  for (int i = 0; i < 48; ++i) t.native_frames.push_back(descend);
  t.native_frames.push_back(module_frame("ext_take_a_then_b", "/bin/deep", "deep.c", 28));
  t.native_frames.push_back(module_frame("start_thread", "/lib/libc.so.6"));
  std::string text = report::render_text(report_with_thread(t));
  std::size_t first = at(text, "    #0 ");
  std::size_t folded = at(text, "\n    \u2026 48 recursive frames\n");
  std::size_t caller = at(text, "    #49 0x");
  CHECK(first < folded);
  CHECK(folded < caller);
  CHECK(contains(text.substr(caller), " in ext_take_a_then_b deep.c:28 "));
  // Twin: the same function in another module is no recursion.
  t.native_frames[1].module = "/lib/other.so";
  t.native_frames.resize(3);
  CHECK_FALSE(contains(report::render_text(report_with_thread(t)), "\u2026"));
}

TEST_CASE("the HTML page folds the same runs into rows that expand, and --full-stacks unfolds them",
          "[stack_view][html]") {
  report::Report r = report_with_thread(pytest_thread());
  std::string html = report::render_html(r, "1");
  CHECK(count_of(html, "<details class=\"fold\"><summary>") == 2);
  std::size_t store = at(html, ">registry_store<");
  std::size_t fold = at(html, "<summary>\u2026 2 interpreter frames</summary>");
  std::size_t test = at(html, ">test_store <span");
  std::size_t rest = at(html, "<summary>\u2026 23 interpreter, test-runner and thread start frames</summary>");
  CHECK(store < fold);
  CHECK(fold < test);
  CHECK(test < rest);
  // The folded frames are in the page, inside their row.
  CHECK(at(html, ">_multicall <span") > rest);
  report::HtmlOptions full;
  full.full_stacks = true;
  std::string unfolded = report::render_html(r, "1", full);
  CHECK_FALSE(contains(unfolded, "<details class=\"fold\">"));
  CHECK(count_of(unfolded, ">_PyEval_EvalFrameDefault<") == 9);
}
