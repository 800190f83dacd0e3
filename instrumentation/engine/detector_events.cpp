// The detector's findings that are not lock-order cycles (events: stored, deduplicated,
// counted) and the scratch records evidence is captured into (detector.h).
#include "detector.h"

namespace gilwatch {

EvidenceCapture* Detector::claim_scratch() {
  static_assert(kScratchRecords <= 64, "one bit per record");
  uint64_t used = scratch_in_use_.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t free_bits = ~used;
    if (free_bits == 0) return nullptr;
    unsigned index = unsigned(__builtin_ctzll(free_bits));
    if (scratch_in_use_.compare_exchange_weak(used, used | (uint64_t(1) << index), std::memory_order_acquire,
                                              std::memory_order_relaxed))
      return &scratch_[index];
  }
}

void Detector::release_scratch(EvidenceCapture* record) {
  auto index = static_cast<unsigned>(record - scratch_);
  scratch_in_use_.fetch_and(~(uint64_t(1) << index), std::memory_order_release);
}

EventResult Detector::record_event(const EventFinding& event) {
  SpinLockGuard guard(lock_);
  for (std::size_t i = 0; i < event_count_; ++i) {
    EventFinding& e = events_[i];
    if (e.key != event.key || e.kind != event.kind) continue;
    e.count += event.count ? event.count : 1;
    if (event.longest_ns > e.longest_ns) e.longest_ns = event.longest_ns;
    return EventResult::kRepeated;
  }
  if (event_count_ == kMaxEvents) {
    ++findings_dropped_;
    ++event_findings_dropped_;
    return EventResult::kDropped;
  }
  EventFinding& e = events_[event_count_++];
  e = event;
  if (e.count == 0) e.count = 1;
  return EventResult::kNew;
}

bool Detector::repeat_event(uint64_t key, uint64_t duration_ns) {
  SpinLockGuard guard(lock_);
  for (std::size_t i = 0; i < event_count_; ++i) {
    EventFinding& e = events_[i];
    if (e.key != key) continue;
    ++e.count;
    if (duration_ns > e.longest_ns) e.longest_ns = duration_ns;
    return true;
  }
  return false;
}

void Detector::intern_capture(const EvidenceCapture& capture, uint32_t* native_stack, uint32_t* python_stack) {
  SpinLockGuard guard(lock_);
  *native_stack = native_stacks_.intern(capture.native, capture.native_count);
  *python_stack = python_stacks_.intern(capture.python, capture.python_count);
}

}  // namespace gilwatch
