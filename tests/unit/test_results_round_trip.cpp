// The per-process results format end to end: every writer of it — the library's
// (engine/results_json.h, as preload/output/results_file.cpp uses it), the harness's
// (harness_results.h) and the Python side's (pyhooks/gilwatch/results.py) — produces a
// file for every finding kind it writes (gilwatch/result_format.h's list), and the
// command's reader (results_reader.h) reads every field back. A kind listed without a
// writer, a writer's kind not listed, or a key the header does not name fails here.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "describe.h"
#include "detector.h"
#include "gilwatch/result_format.h"
#include "harness_results.h"
#include "json_writer.h"
#include "results_json.h"
#include "results_reader.h"
#include "text_file.h"

using namespace gilwatch;
using harness::ProcessResults;
using harness::RawFinding;
using nlohmann::json;
namespace rf = gilwatch::result_format;

namespace {

std::vector<std::string> kinds_written_by(unsigned writer) {
  std::vector<std::string> kinds;
  for (const rf::FindingKindInfo& k : rf::kFindingKinds)
    if (k.writers & writer) kinds.push_back(k.name);
  return kinds;
}

// Every object key anywhere in `value` that the header does not name.
void unknown_keys(const json& value, const std::string& path, std::vector<std::string>* out) {
  static const std::set<std::string> known(std::begin(rf::kAllKeys), std::end(rf::kAllKeys));
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!known.count(it.key())) out->push_back(path + "." + it.key());
      unknown_keys(it.value(), path + "." + it.key(), out);
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) unknown_keys(value[i], path + "[" + std::to_string(i) + "]", out);
  }
}

ProcessResults read_back(const std::string& text) {
  std::vector<std::string> unknown;
  unknown_keys(json::parse(text), "", &unknown);
  INFO("keys not in result_format.h: " << json(unknown).dump());
  CHECK(unknown.empty());
  ProcessResults r;
  std::string error;
  INFO(text.substr(0, 2000));
  REQUIRE(harness::parse_results(text, "gilwatch.1.2.json", &r, &error));
  CHECK(error.empty());
  return r;
}

const RawFinding* find_kind(const ProcessResults& r, const std::string& kind) {
  for (const RawFinding& f : r.findings)
    if (f.kind == kind) return &f;
  return nullptr;
}

// FindingKind values and the names the library writes for them.
std::vector<std::pair<FindingKind, std::string>> library_kinds() {
  std::vector<std::pair<FindingKind, std::string>> out;
  for (unsigned i = 0; i < 256; ++i) {
    const char* name = finding_kind_name(FindingKind(i));
    if (std::strcmp(name, "unknown") == 0) break;
    out.emplace_back(FindingKind(i), name);
  }
  return out;
}

class FakeCapture final : public CaptureSource {
 public:
  uintptr_t site = 0x1000;
  uint32_t tid = 1;
  bool stack_has_room(std::size_t bytes) override { return bytes > 0; }
  void capture(EvidenceCapture& out, bool with_python) override {
    out.tid = tid;
    std::strcpy(out.thread_name, "worker");
    out.native[0] = site;
    out.native[1] = 0x7f0000001234;
    out.native_count = 2;
    if (with_python) {
      std::memset(&out.python[0], 0, sizeof(PyFrameRecord));
      std::strcpy(out.python[0].function, "register");
      std::strcpy(out.python[0].file, "drive.py");
      out.python[0].line = 12;
      out.python_count = 1;
    }
  }
};

// An event of `kind` with every field the format has: two threads (one waiting for a lock,
// one holding it), two locks, stacks with Python frames, a detail and a longest wait.
EventFinding full_event(Detector& d, FindingKind kind, uint64_t key) {
  EventFinding e{};
  e.kind = kind;
  e.probable = true;
  e.key = key;
  e.count = 3;
  e.longest_ns = 250000000;
  std::snprintf(e.summary, sizeof(e.summary), "summary of %s \"quoted\"", finding_kind_name(kind));
  std::snprintf(e.detail, sizeof(e.detail), "detail of %s", finding_kind_name(kind));
  e.futex_wait = FutexWaitLength::kShort;
  e.lock_count = 2;
  e.locks[0] = EventLock{0, LockKind::kGil, 0};
  e.locks[1] = EventLock{0x55550000, LockKind::kRwlock, 0x401234};
  e.thread_count = 2;
  for (int i = 0; i < 2; ++i) {
    EventThread& t = e.threads[i];
    t.tid = 100 + i;
    std::snprintf(t.name, sizeof(t.name), "thread-%d", i);
    std::snprintf(t.role, sizeof(t.role), "role %d", i);
    t.blocked_ms = i == 0 ? 250 : 0;
    t.owner_unknown = i == 0;
    auto capture = std::make_unique<EvidenceCapture>();
    capture->tid = t.tid;
    capture->native[0] = 0x400000 + i;
    capture->native[1] = 0x7f0000000000 + i;
    capture->native_count = 2;
    std::memset(&capture->python[0], 0, sizeof(PyFrameRecord));
    std::strcpy(capture->python[0].function, "work");
    std::strcpy(capture->python[0].file, "tests/test_x.py");
    capture->python[0].line = 40 + i;
    capture->python_count = 1;
    d.intern_capture(*capture, &t.native_stack, &t.python_stack);
  }
  e.threads[0].waits_for_plus1 = 2;  // waits for locks[1]
  e.threads[0].holds_mask = 1;       // holds locks[0]
  e.threads[1].holds_mask = 2;       // holds locks[1]
  return e;
}

const char* no_context(std::size_t) { return ""; }
const char* test_context(std::size_t) { return "tests/test_x.py::test_y"; }

std::string library_document(const Detector& d) {
  std::vector<char> buffer(1 << 20);
  JsonWriter w(buffer.data(), buffer.size());
  static const char argv[] = "python3\0drive.py\0";
  DocumentHead head;
  head.pid = 1234;
  head.ppid = 1200;
  head.argv = argv;
  head.argv_size = sizeof(argv) - 1;
  head.exe = "/usr/bin/python3.11";
  head.exe_size = std::strlen(head.exe);
  head.exited = true;
  head.exit_status = 3;
  begin_results_document(w, head);
  write_findings_json(w, d, 160, no_context, test_context);
  w.end_object();
  REQUIRE_FALSE(w.truncated());
  return std::string(w.data(), w.size());
}

}  // namespace

TEST_CASE("every finding kind is listed once, with a writer and a meaning", "[results][round-trip]") {
  std::set<std::string> seen;
  for (const rf::FindingKindInfo& k : rf::kFindingKinds) {
    INFO(k.name);
    CHECK(seen.insert(k.name).second);
    CHECK(k.writers != 0);
    CHECK(std::strlen(k.meaning) > 0);
  }
  std::set<std::string> keys(std::begin(rf::kAllKeys), std::end(rf::kAllKeys));
  CHECK(keys.size() == std::size(rf::kAllKeys));
}

TEST_CASE("the library's kinds are exactly the list's library kinds", "[results][round-trip]") {
  std::set<std::string> engine, listed;
  for (const auto& [kind, name] : library_kinds()) engine.insert(name);
  for (const std::string& name : kinds_written_by(rf::kLibrary)) listed.insert(name);
  CHECK(engine == listed);
}

TEST_CASE("the library's writer and the reader agree on every field of every kind", "[results][round-trip]") {
  auto capture = std::make_unique<FakeCapture>();
  auto detector = std::make_unique<Detector>(capture.get());
  REQUIRE(detector->ok());
  Detector& d = *detector;
  // A lock-order inversion through the GIL: a Python thread holding the GIL takes an
  // rwlock for writing; a native thread holding it for reading asks for the GIL.
  auto t1 = std::make_unique<ThreadState>(), t2 = std::make_unique<ThreadState>();
  d.before_blocking_acquire(*t1, 0x10000, LockKind::kRwlock, LockMode::kWrite, true, 0x1010);
  d.after_acquire(*t1, 0x10000, LockKind::kRwlock, LockMode::kWrite, 0x1010);
  d.on_release(*t1, 0x10000);
  capture->tid = 2;
  d.before_blocking_acquire(*t2, 0x10000, LockKind::kRwlock, LockMode::kRead, false, 0x1020);
  d.after_acquire(*t2, 0x10000, LockKind::kRwlock, LockMode::kRead, 0x1020);
  d.before_gil_acquire(*t2);
  REQUIRE(d.finding_count() == 1);
  uint64_t key = 1;
  for (const auto& [kind, name] : library_kinds())
    if (kind != FindingKind::kLockOrderInversion) REQUIRE(d.record_event(full_event(d, kind, key++)) == EventResult::kNew);

  ProcessResults r = read_back(library_document(d));
  CHECK(r.reporter == rf::kReporterLibrary);
  CHECK(r.process.pid == 1234);
  CHECK(r.process.ppid == 1200);
  CHECK(r.process.argv == std::vector<std::string>{"python3", "drive.py"});
  CHECK(r.process.exe == "/usr/bin/python3.11");
  CHECK(r.process.state == rf::kStateExited);
  CHECK(r.process.exit_status == 3);

  for (const std::string& kind : kinds_written_by(rf::kLibrary)) {
    INFO("kind " << kind);
    const RawFinding* f = find_kind(r, kind);
    REQUIRE(f);
    if (kind == rf::kLockOrderInversion) {
      const Finding& cycle = d.finding(0);
      CHECK(f->summary.find("lock-order inversion (potential deadlock): ") == 0);
      CHECK(f->summary.find("the GIL") != std::string::npos);
      REQUIRE(f->locks.size() == 2);
      REQUIRE(f->edges.size() == 2);
      std::set<std::string> held_modes;
      int edges_with_python = 0;
      for (int i = 0; i < 2; ++i) {
        CHECK(f->locks[i].id == i);
        CHECK(f->locks[i].kind == lock_kind_name(cycle.locks[i].kind));
        CHECK(f->locks[i].name == (cycle.locks[i].kind == LockKind::kGil ? "GIL" : ""));
        CHECK(f->locks[i].address == cycle.locks[i].address);
        // A first site of 0 (the GIL, taken inside the interpreter) is written as none.
        std::vector<uint64_t> site;
        if (cycle.locks[i].first_pc) site.push_back(cycle.locks[i].first_pc);
        CHECK(f->locks[i].first_site == site);
        const harness::RawEdge& e = f->edges[i];
        CHECK(e.from == cycle.edges[i].from);
        CHECK(e.to == cycle.edges[i].to);
        held_modes.insert(e.held_mode);
        CHECK(e.tid == cycle.edges[i].tid);
        CHECK(e.thread_name == "worker");
        REQUIRE(e.stack.size() == 2);
        CHECK(e.stack[1] == 0x7f0000001234);
        const PyFrameRecord* frames = nullptr;
        uint32_t expected = d.python_stacks().get(cycle.edges[i].python_stack, &frames);
        REQUIRE(e.python_frames.size() == expected);
        for (uint32_t k = 0; k < expected; ++k, ++edges_with_python) {
          CHECK(e.python_frames[k].function == frames[k].function);
          CHECK(e.python_frames[k].file == frames[k].file);
          CHECK(e.python_frames[k].line == frames[k].line);
        }
      }
      CHECK(held_modes == std::set<std::string>{rf::kModeRead, rf::kModeWrite});
      CHECK(edges_with_python > 0);
      CHECK(f->context.empty());
      continue;
    }
    CHECK(f->summary == "summary of " + kind + " \"quoted\"");
    CHECK(f->detail == "detail of " + kind);
    CHECK(f->futex_wait == rf::kFutexWaitShort);
    CHECK_FALSE(f->holders_need_gil);  // no holder of its futex word asked for the GIL
    CHECK(f->probable);
    CHECK(f->occurrences == 3);
    CHECK(f->longest_wait_ms == 250u);
    CHECK(f->context == "tests/test_x.py::test_y");
    CHECK(f->edges.empty());
    REQUIRE(f->locks.size() == 2);
    CHECK(f->locks[0].kind == rf::kLockKindGil);
    CHECK(f->locks[0].name == "GIL");
    CHECK(f->locks[0].first_site.empty());
    CHECK(f->locks[1].kind == rf::kLockKindRwlock);
    CHECK(f->locks[1].address == 0x55550000);
    CHECK(f->locks[1].first_site == std::vector<uint64_t>{0x401234});
    REQUIRE(f->threads.size() == 2);
    for (int i = 0; i < 2; ++i) {
      const harness::RawThread& t = f->threads[i];
      CHECK(t.tid == uint64_t(100 + i));
      CHECK(t.name == "thread-" + std::to_string(i));
      CHECK(t.role == "role " + std::to_string(i));
      CHECK(t.stack == std::vector<uint64_t>{uint64_t(0x400000 + i), uint64_t(0x7f0000000000 + i)});
      REQUIRE(t.python_frames.size() == 1);
      CHECK(t.python_frames[0].file == "tests/test_x.py");
      CHECK(t.python_frames[0].line == 40 + i);
    }
    CHECK(f->threads[0].waits_for == 1);
    CHECK(f->threads[0].holds == std::vector<int>{0});
    CHECK_FALSE(f->threads[1].waits_for.has_value());
    CHECK(f->threads[1].holds == std::vector<int>{1});
    CHECK(f->threads[0].blocked_ms == 250u);
    CHECK_FALSE(f->threads[0].owner_known);
    CHECK_FALSE(f->threads[1].blocked_ms.has_value());
    CHECK(f->threads[1].owner_known);
  }
  CHECK(r.findings.size() == kinds_written_by(rf::kLibrary).size());
}

TEST_CASE("a library finding with no optional field reads back with none", "[results][round-trip]") {
  auto capture = std::make_unique<FakeCapture>();
  auto detector = std::make_unique<Detector>(capture.get());
  EventFinding e{};
  e.kind = FindingKind::kCapiWithoutGil;
  e.key = 7;
  e.count = 1;
  std::strcpy(e.summary, "PyLong_FromLong without the GIL");
  REQUIRE(detector->record_event(e) == EventResult::kNew);
  std::vector<char> buffer(1 << 16);
  JsonWriter w(buffer.data(), buffer.size());
  begin_results_document(w, DocumentHead{});
  write_findings_json(w, *detector, 160, no_context, no_context);
  w.end_object();
  ProcessResults r = read_back(std::string(w.data(), w.size()));
  CHECK(r.process.state == rf::kStateRunning);
  REQUIRE(r.findings.size() == 1);
  const RawFinding& f = r.findings[0];
  CHECK(f.kind == rf::kCapiWithoutGil);
  CHECK_FALSE(f.probable);
  CHECK_FALSE(f.longest_wait_ms.has_value());
  CHECK(f.detail.empty());
  CHECK(f.futex_wait.empty());
  CHECK_FALSE(f.holders_need_gil);
  CHECK(f.context.empty());
  CHECK(f.locks.empty());
  CHECK(f.threads.empty());
}

TEST_CASE("a short futex wait reads back with whether its word's holders need the GIL", "[results][round-trip]") {
  auto capture = std::make_unique<FakeCapture>();
  auto detector = std::make_unique<Detector>(capture.get());
  auto holder = std::make_unique<ThreadState>();
  const uintptr_t word = 0x7f0010;
  for (bool proven : {false, true}) {
    if (proven) {
      Detector::DeferredEdge to_gil{};
      to_gil.to_kind = LockKind::kGil;
      detector->add_deferred_edge(*holder, word, to_gil);
    }
    EventFinding e{};
    e.kind = FindingKind::kGilHeldBlocking;
    e.key = proven ? 9 : 8;
    e.count = 1;
    std::strcpy(e.detail, rf::kDetailShortFutexWait);
    e.futex_wait = FutexWaitLength::kShort;
    e.lock_count = 2;
    e.locks[0] = EventLock{0, LockKind::kGil, 0};
    e.locks[1] = EventLock{word, LockKind::kFutex, 0};
    if (!proven) REQUIRE(detector->record_event(e) == EventResult::kNew);
    std::vector<char> buffer(1 << 16);
    JsonWriter w(buffer.data(), buffer.size());
    begin_results_document(w, DocumentHead{});
    {
      SpinLockGuard guard(detector->lock());
      write_findings_json(w, *detector, 160, no_context, no_context);
    }
    w.end_object();
    ProcessResults r = read_back(std::string(w.data(), w.size()));
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].futex_wait == rf::kFutexWaitShort);
    // Asked when the file is written: the proof may come after the wait.
    CHECK(r.findings[0].holders_need_gil == proven);
  }
}

TEST_CASE("the harness's writer and the reader agree on crash and hang", "[results][round-trip]") {
  const std::string faulthandler =
      "Fatal Python error: Segmentation fault\n\n"
      "Current thread 0x00007f00 (most recent call first):\n"
      "  File \"scenarios/crash.py\", line 7 in boom\n"
      "  File \"drive.py\", line 3 in <module>\n";
  std::vector<std::string> kinds = kinds_written_by(rf::kHarness);
  json findings = json::array();
  for (const std::string& kind : kinds)
    findings.push_back(harness::harness_finding(kind, "summary of " + kind, "detail of " + kind,
                                                harness::faulthandler_threads(faulthandler)));
  json document = harness::harness_results_document(4321, 4000, {"python3", "drive.py"}, findings);
  ProcessResults r = read_back(document.dump(2));
  CHECK(r.reporter == rf::kReporterHarness);
  CHECK(r.process.pid == 4321);
  CHECK(r.process.ppid == 4000);
  CHECK(r.process.state == rf::kStateExited);
  REQUIRE(r.findings.size() == kinds.size());
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    const RawFinding& f = r.findings[i];
    INFO("kind " << kinds[i]);
    CHECK(f.kind == kinds[i]);
    CHECK(f.summary == "summary of " + kinds[i]);
    CHECK(f.detail == "detail of " + kinds[i]);
    REQUIRE(f.threads.size() == 1);
    CHECK(f.threads[0].role == "the thread that crashed");
    REQUIRE(f.threads[0].python_frames.size() == 2);
    CHECK(f.threads[0].python_frames[0].function == "boom");
    CHECK(f.threads[0].python_frames[0].file == "scenarios/crash.py");
    CHECK(f.threads[0].python_frames[0].line == 7);
  }
}

TEST_CASE("the Python side's writer and the reader agree on every kind it writes", "[results][round-trip]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("gilwatch-round-trip-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  // Each kind the Python side writes, through the function its callers use; KINDS must be
  // the header's pyhooks kinds.
  std::string script =
      "import sys\n"
      "from gilwatch import results\n"
      "kinds = sys.argv[2].split(',')\n"
      "assert sorted(kinds) == sorted(results.KINDS), (kinds, results.KINDS)\n"
      "made = []\n"
      "for kind in kinds:\n"
      "    if kind == 'thread-leak':\n"
      "        made.append(results.thread_leak({101: 'worker', 102: 'worker'}, 'after t', 'suite: t', 'still running'))\n"
      "    elif kind == 'fd-leak':\n"
      "        made.append(results.fd_leak({7: 'pipe:[123]'}, 'after t', 'suite: t'))\n"
      "    else:\n"
      "        made.append(results.finding(kind, 'summary of ' + kind, 'detail of ' + kind))\n"
      "print(results.write(sys.argv[1], made))\n";
  std::string kinds;
  for (const std::string& k : kinds_written_by(rf::kPyhooks)) kinds += (kinds.empty() ? "" : ",") + k;
  fs::create_directories(dir);
  {
    std::ofstream out(dir / "make.py");
    out << script;
  }
  std::string command = "PYTHONPATH='" GILWATCH_SOURCE_DIR "/pyhooks' python3 '" + (dir / "make.py").string() + "' '" +
                        dir.string() + "' '" + kinds + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  std::string output;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) output.append(buf, n);
  int status = ::pclose(pipe);
  INFO(output);
  REQUIRE(status == 0);
  std::string path = output.substr(0, output.find('\n'));
  std::string text, error;
  REQUIRE(harness::read_text_file(path, &text, &error));
  ProcessResults r = read_back(text);
  CHECK(r.reporter == rf::kReporterPyhooks);
  CHECK(r.process.pid > 0);
  CHECK(r.process.state == rf::kStateRunning);
  CHECK_FALSE(r.process.python_version.empty());
  for (const std::string& kind : kinds_written_by(rf::kPyhooks)) {
    INFO("kind " << kind);
    const RawFinding* f = find_kind(r, kind);
    REQUIRE(f);
    CHECK_FALSE(f->summary.empty());
    CHECK(f->detail.rfind(kind == rf::kThreadLeak || kind == rf::kFdLeak ? "suite: t" : "detail of " + kind, 0) == 0);
    if (kind == rf::kThreadLeak) {
      REQUIRE(f->threads.size() == 2);
      CHECK(f->threads[0].tid == 101);
      CHECK(f->threads[0].name == "worker");
      CHECK(f->threads[0].role == "still running");
    }
  }
  fs::remove_all(dir);
}

TEST_CASE("the report describes exactly the kinds the format lists", "[results][round-trip]") {
  std::set<std::string> described, listed;
  for (const std::string& k : report::known_kinds()) described.insert(k);
  for (const rf::FindingKindInfo& k : rf::kFindingKinds) listed.insert(k.name);
  CHECK(described == listed);
}
