// Fixed-capacity storage for code that runs inside the process under test: one anonymous
// mapping per table, reserved up front with MAP_NORESERVE so untouched capacity costs no
// memory, and never returned to malloc (there is no malloc on these paths at all).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

namespace gilwatch {

inline void* map_zeroed(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

inline void unmap(void* p, std::size_t bytes) {
  if (p) ::munmap(p, bytes);
}

// splitmix64 finalizer: cheap and good enough to spread aligned addresses.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace gilwatch
