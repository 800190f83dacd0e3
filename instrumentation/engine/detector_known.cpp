// What one thread records, every thread may skip: the edges into each lock that the
// graph holds (LockInfo::known_in) and the acquisitions whose every edge it holds
// (Detector::acquisition_known). Both are read without the engine lock, so a program
// that walks more distinct locks than a thread's own caches hold (a lock per object)
// pays a probe or two per acquisition, not the engine lock and the graph's hash.
#include "detector.h"

namespace gilwatch {

void Detector::publish_acquisition(uintptr_t address, uint64_t key) {
  std::atomic<uint64_t>* set = known_acquisitions_ + known_acquisition_index(address);
  if (set[0].load(std::memory_order_relaxed) == 0) set[0].store(key, std::memory_order_relaxed);
  else if (set[1].load(std::memory_order_relaxed) == 0) set[1].store(key, std::memory_order_relaxed);
  else set[(key >> 8) & 1].store(key, std::memory_order_relaxed);
}

bool Detector::edge_known(NodeHandle from, NodeHandle to, uint32_t modes) const {
  const LockInfo& info = infos_[to.slot];
  uint64_t want = known_edge_key(from, 0), mode_bits = uint64_t(modes) << 24;
  bool known = false;
  for (const auto& entry : info.known_in) {
    uint64_t e = entry.load(std::memory_order_acquire);
    if ((e & ~(uint64_t(0xff) << 24)) == want && (e & mode_bits) == mode_bits) {
      known = true;
      break;
    }
  }
  // Read after the entries: the list belonged to `to` and `from` was its node then.
  return known && info.generation.load(std::memory_order_acquire) == to.generation &&
         infos_[from.slot].generation.load(std::memory_order_acquire) == from.generation;
}

void Detector::note_known_edge_locked(NodeHandle from, NodeHandle to, uint32_t modes) {
  LockInfo& info = infos_[to.slot];
  uint64_t key = known_edge_key(from, 0);
  for (auto& entry : info.known_in) {
    uint64_t e = entry.load(std::memory_order_relaxed);
    if ((e & ~(uint64_t(0xff) << 24)) == key) {
      entry.store(known_edge_key(from, modes), std::memory_order_release);
      return;
    }
  }
  for (auto& entry : info.known_in) {
    if (entry.load(std::memory_order_relaxed) == 0) {
      entry.store(known_edge_key(from, modes), std::memory_order_release);
      return;
    }
  }
  info.known_in[info.known_in_next++ % kKnownIn].store(known_edge_key(from, modes), std::memory_order_release);
}

}  // namespace gilwatch
