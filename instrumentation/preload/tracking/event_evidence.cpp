// event_evidence: composing an event finding from inside the target — the calling
// thread's identity and stack, its held locks, short texts without stdio — and
// recording it. Declared in wait_monitor.h, which every detector that reports events
// includes. It decides nothing: the detectors (and the engine's rules behind them)
// decide; this only writes down what they found.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "number_format.h"
#include "python_api.h"
#include "wait_monitor.h"

namespace gilwatch::preload {

TextBuilder& TextBuilder::add(const char* s) {
  while (*s && len + 1 < size) buf[len++] = *s++;
  if (size) buf[len] = '\0';
  return *this;
}

TextBuilder& TextBuilder::dec(uint64_t v) {
  char digits[24];
  std::size_t n = format_decimal(v, digits);
  digits[n] = '\0';
  return add(digits);
}

TextBuilder& TextBuilder::hex(uintptr_t v) {
  char digits[24];
  std::size_t n = format_hex(v, digits);
  digits[n] = '\0';
  return add("0x").add(digits);
}

uint64_t mix_key(uint64_t a, uint64_t b) {
  uint64_t h = (a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2))) * 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 31);
}

void thread_name_of(uint32_t tid, char* out, std::size_t size) {
  std::memset(out, 0, size);
  char path[64];
  TextBuilder p(path, sizeof(path));
  p.add("/proc/self/task/").dec(tid).add("/comm");
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = ::read(fd, out, size - 1);
  ::close(fd);
  if (n <= 0) {
    out[0] = '\0';
    return;
  }
  if (out[n - 1] == '\n') out[n - 1] = '\0';
}

// Returns the lock's index in the event, or -1 when the event has no room for it.
int add_event_lock(EventFinding& e, uintptr_t address, LockKind kind, uintptr_t site) {
  for (uint32_t i = 0; i < e.lock_count; ++i)
    if (e.locks[i].address == address && e.locks[i].kind == kind) return int(i);
  if (e.lock_count >= kMaxEventLocks) return -1;
  e.locks[e.lock_count] = EventLock{address, kind, site};
  return int(e.lock_count++);
}

void describe_current_thread(EventThread& out, const char* role, bool with_python) {
  TextBuilder(out.role, sizeof(out.role)).add(role);
  // The stack into a scratch record, where the unwinder fits; else the thread alone.
  ScratchCapture scratch(*g_detector);
  PreloadThread* t = current_thread();
  if (!scratch.get() || !stack_has_room(t, Detector::kNewEdgeStackBudget)) {
    out.tid = current_tid(t);
    return;
  }
  EvidenceCapture& capture = *scratch.get();
  capture_current(capture, with_python);
  out.tid = capture.tid;
  std::memcpy(out.name, capture.thread_name, sizeof(out.name));
  g_detector->intern_capture(capture, &out.native_stack, &out.python_stack);
}

void add_held_locks(EventFinding& e, const ThreadState& s) {
  int depth = s.depth < ThreadState::kMaxHeld ? s.depth : ThreadState::kMaxHeld;
  for (int i = 0; i < depth; ++i) {
    const HeldLock& h = s.held[i];
    if (h.kind == LockKind::kGil) continue;
    add_event_lock(e, h.address, h.kind, h.acquire_pc);
  }
}

void describe_held_locks(TextBuilder& b, const ThreadState& s) {
  int depth = s.depth < ThreadState::kMaxHeld ? s.depth : ThreadState::kMaxHeld;
  int listed = 0;
  for (int i = 0; i < depth; ++i) {
    const HeldLock& h = s.held[i];
    if (h.kind == LockKind::kGil) continue;
    b.add(listed++ ? ", " : "").add(lock_kind_name(h.kind)).add(" ").hex(h.address);
  }
  if (!listed) b.add("nothing");
}

bool record_and_report(const EventFinding& e) {
  if (g_detector->record_event(e) != EventResult::kNew) return false;
  report_new_findings_from_hook(current_thread());
  return true;
}

}  // namespace gilwatch::preload
