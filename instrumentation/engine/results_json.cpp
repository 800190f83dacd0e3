#include "results_json.h"

#include <cstring>

#include "gilwatch/result_format.h"
#include "python_layout.h"

namespace gilwatch {

namespace {

namespace rk = result_format::key;

LockMode first_mode(uint8_t mask, bool held) {
  // The modes of the first combination recorded; the writer reports one pair per edge.
  for (unsigned bit = 0; bit < 4; ++bit)
    if (mask & (1u << bit)) return held ? LockMode(bit >> 1) : LockMode(bit & 1);
  return LockMode::kWrite;
}

// One entry of a finding's "locks" array.
void write_lock(JsonWriter& w, uint32_t id, LockKind kind, uintptr_t address, uintptr_t site_pc) {
  w.begin_object();
  w.key(rk::kId);
  w.value(id);
  w.key(rk::kName);
  w.value(kind == LockKind::kGil ? "GIL" : "");
  w.key(rk::kKind);
  w.value(lock_kind_name(kind));
  w.key(rk::kAddress);
  w.hex(address);
  w.key(rk::kFirstSite);
  w.begin_array();
  if (site_pc) w.hex(site_pc);
  w.end_array();
  w.end_object();
}

void write_python_frames(JsonWriter& w, const Detector& d, uint32_t stack_id) {
  w.begin_array();
  const PyFrameRecord* frames = nullptr;
  uint32_t n = d.python_stacks().get(stack_id, &frames);
  for (uint32_t k = 0; k < n; ++k) {
    w.begin_object();
    w.key(rk::kFunction);
    w.value(frames[k].function, strnlen(frames[k].function, sizeof(frames[k].function)));
    w.key(rk::kFile);
    w.value(frames[k].file, strnlen(frames[k].file, sizeof(frames[k].file)));
    w.key(rk::kLine);
    w.value(frames[k].line);
    if (frames[k].entry != int32_t(FrameEntry::kUnknown)) {
      w.key(rk::kEnteredFromC);
      w.value(frames[k].entry == int32_t(FrameEntry::kFromC));
    }
    if (frames[k].loop_pc) {
      w.key(rk::kLoopPc);
      w.hex(frames[k].loop_pc);
    }
    w.end_object();
  }
  w.end_array();
}

void write_context(JsonWriter& w, const char* context, std::size_t context_size) {
  if (!context || !context[0]) return;
  w.key(rk::kContext);
  w.value(context, strnlen(context, context_size));
}

}  // namespace

void begin_results_document(JsonWriter& w, const DocumentHead& head) {
  w.begin_object();
  w.key(rk::kFormat);
  w.value(result_format::kFormatName);
  w.key(rk::kVersion);
  w.value(result_format::kVersion);
  w.key(rk::kPid);
  w.value(head.pid);
  w.key(rk::kPpid);
  w.value(head.ppid);
  w.key(rk::kArgv);
  w.begin_array();
  for (std::size_t start = 0, i = 0; i < head.argv_size; ++i) {
    if (head.argv[i] == '\0') {
      w.value(head.argv + start, i - start);
      start = i + 1;
    }
  }
  w.end_array();
  w.key(rk::kExe);
  w.value(head.exe, head.exe_size);
  w.key(rk::kState);
  w.value(head.exited ? result_format::kStateExited : result_format::kStateRunning);
  if (head.exited) {
    w.key(rk::kExitStatus);
    w.value(head.exit_status);
  }
}

void describe_lock(TextBuffer& t, const FindingLock& lock) {
  if (lock.kind == LockKind::kGil) {
    t.add("the GIL");
    if (lock.address) {
      t.add(" of interpreter ");
      t.add_hex(lock.address);
    }
    return;
  }
  t.add(lock_kind_name(lock.kind));
  t.add(" ");
  t.add_hex(lock.address);
}

void write_stack_json(JsonWriter& w, const Detector& d, uint32_t stack_id) {
  w.begin_array();
  const uintptr_t* pcs = nullptr;
  uint32_t n = d.native_stacks().get(stack_id, &pcs);
  for (uint32_t i = 0; i < n; ++i) w.hex(pcs[i]);
  w.end_array();
}

void describe_cycle(TextBuffer& t, const Finding& f) {
  for (uint32_t i = 0; i < f.lock_count; ++i) {
    describe_lock(t, f.locks[i]);
    t.add(" -> ");
  }
  if (f.cycle_length > f.lock_count) {
    t.add("... (cycle cut: ");
    t.add_dec(f.cycle_length - f.lock_count);
    t.add(" more locks of ");
    t.add_dec(f.cycle_length);
    t.add(" not listed) -> ");
  }
  describe_lock(t, f.locks[0]);
}

void write_results_json(JsonWriter& w, const Detector& d, const Finding& f, const char* context,
                        std::size_t context_size) {
  w.begin_object();
  w.key(rk::kKind);
  w.value(finding_kind_name(f.kind));
  write_context(w, context, context_size);
  TextBuffer summary;
  summary.add("lock-order inversion (potential deadlock): ");
  describe_cycle(summary, f);
  w.key(rk::kSummary);
  w.value(summary.buf, summary.len);
  if (f.cycle_length > f.lock_count) {
    w.key(rk::kCycleLength);
    w.value(uint64_t(f.cycle_length));
  }
  w.key(rk::kLocks);
  w.begin_array();
  for (uint32_t i = 0; i < f.lock_count; ++i) write_lock(w, i, f.locks[i].kind, f.locks[i].address, f.locks[i].first_pc);
  w.end_array();
  w.key(rk::kEdges);
  w.begin_array();
  // A cut cycle's last stored edge leads to a lock not listed: it is left out.
  uint32_t edge_count = f.cycle_length > f.lock_count ? f.lock_count - 1 : f.lock_count;
  for (uint32_t i = 0; i < edge_count; ++i) {
    const FindingEdge& e = f.edges[i];
    w.begin_object();
    w.key(rk::kFrom);
    w.value(unsigned(e.from));
    w.key(rk::kTo);
    w.value(unsigned(e.to));
    w.key(rk::kHeldMode);
    w.value(lock_mode_name(first_mode(e.mode_mask, true)));
    w.key(rk::kAcquiredMode);
    w.value(lock_mode_name(first_mode(e.mode_mask, false)));
    w.key(rk::kThread);
    w.begin_object();
    w.key(rk::kTid);
    w.value(unsigned(e.tid));
    w.key(rk::kName);
    w.value(e.thread_name, strnlen(e.thread_name, sizeof(e.thread_name)));
    w.end_object();
    w.key(rk::kStack);
    write_stack_json(w, d, e.native_stack);
    w.key(rk::kPythonFrames);
    write_python_frames(w, d, e.python_stack);
    w.end_object();
  }
  w.end_array();
  if (f.count > 1) {
    w.key(rk::kCount);
    w.value(uint64_t(f.count));
  }
  if (f.instance_count) {
    w.key(rk::kInstances);
    w.begin_array();
    for (uint32_t i = 0; i < f.instance_count && i < uint32_t(kMaxFindingInstances); ++i) {
      w.begin_object();
      w.key(rk::kAddresses);
      w.begin_array();
      for (uint32_t j = 0; j < f.lock_count; ++j) w.hex(f.instances[i].addresses[j]);
      w.end_array();
      w.key(rk::kTids);
      w.begin_array();
      for (uint32_t j = 0; j < f.lock_count; ++j) w.value(unsigned(f.instances[i].tids[j]));
      w.end_array();
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
}

// A finding that is not a lock-order cycle.
void write_event_json(JsonWriter& w, const Detector& d, const EventFinding& e, const char* context,
                      std::size_t context_size) {
  w.begin_object();
  w.key(rk::kKind);
  w.value(finding_kind_name(e.kind));
  write_context(w, context, context_size);
  w.key(rk::kSummary);
  w.value(e.summary, strnlen(e.summary, sizeof(e.summary)));
  w.key(rk::kProbable);
  w.value(e.probable);
  w.key(rk::kCount);
  w.value(uint64_t(e.count));
  if (e.longest_ns) {
    w.key(rk::kLongestWaitMs);
    w.value(e.longest_ns / 1000000);
  }
  if (e.detail[0]) {
    w.key(rk::kDetail);
    w.value(e.detail, strnlen(e.detail, sizeof(e.detail)));
  }
  if (e.futex_wait != FutexWaitLength::kNone) {
    w.key(rk::kFutexWait);
    w.value(e.futex_wait == FutexWaitLength::kShort ? result_format::kFutexWaitShort : result_format::kFutexWaitLong);
    // Asked at each write: the proof can come after the wait (the file is rewritten at
    // each new finding and at exit).
    bool holders_need_gil = false;
    for (uint32_t i = 0; i < e.lock_count && i < uint32_t(kMaxEventLocks); ++i)
      if (e.locks[i].kind == LockKind::kFutex) holders_need_gil = holders_need_gil || d.word_holders_need_gil(e.locks[i].address);
    w.key(rk::kHoldersNeedGil);
    w.value(holders_need_gil);
  }
  w.key(rk::kLocks);
  w.begin_array();
  for (uint32_t i = 0; i < e.lock_count && i < uint32_t(kMaxEventLocks); ++i)
    write_lock(w, i, e.locks[i].kind, e.locks[i].address, e.locks[i].site_pc);
  w.end_array();
  w.key(rk::kThreads);
  w.begin_array();
  for (uint32_t i = 0; i < e.thread_count && i < uint32_t(kMaxEventThreads); ++i) {
    const EventThread& t = e.threads[i];
    w.begin_object();
    w.key(rk::kTid);
    w.value(unsigned(t.tid));
    w.key(rk::kName);
    w.value(t.name, strnlen(t.name, sizeof(t.name)));
    w.key(rk::kRole);
    w.value(t.role, strnlen(t.role, sizeof(t.role)));
    if (t.waits_for_plus1) {
      w.key(rk::kWaitsFor);
      w.value(unsigned(t.waits_for_plus1 - 1));
    }
    if (t.holds_mask) {
      w.key(rk::kHolds);
      w.begin_array();
      for (unsigned k = 0; k < 8; ++k)
        if (t.holds_mask & (1u << k)) w.value(k);
      w.end_array();
    }
    if (t.blocked_ms) {
      w.key(rk::kBlockedMs);
      w.value(uint64_t(t.blocked_ms));
    }
    if (t.owner_unknown) {
      w.key(rk::kOwnerKnown);
      w.value(false);
    }
    w.key(rk::kStack);
    write_stack_json(w, d, t.native_stack);
    w.key(rk::kPythonFrames);
    write_python_frames(w, d, t.python_stack);
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

void write_findings_json(JsonWriter& w, const Detector& d, std::size_t context_size, ContextOf finding_context,
                         ContextOf event_context) {
  w.key(rk::kFindings);
  w.begin_array();
  for (std::size_t i = 0; i < d.finding_count(); ++i)
    write_results_json(w, d, d.finding(i), finding_context(i), context_size);
  for (std::size_t i = 0; i < d.event_count(); ++i) write_event_json(w, d, d.event(i), event_context(i), context_size);
  w.end_array();
}

}  // namespace gilwatch
