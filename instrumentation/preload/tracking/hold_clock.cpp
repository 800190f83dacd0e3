#include "hold_clock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace gilwatch::preload {

HoldClock g_hold_clock;

namespace {

#if defined(__x86_64__)
// A reading of both clocks at (nearly) the same moment: the counter is read on both
// sides of the clock, and a pair far apart (the thread was interrupted) is retried.
bool read_both(uint64_t* ticks, uint64_t* ns) {
  constexpr uint64_t kMaxSpreadTicks = 20000;  // a few microseconds
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint64_t before = __rdtsc();
    uint64_t now = monotonic_ns();
    uint64_t after = __rdtsc();
    if (after > before && after - before < kMaxSpreadTicks) {
      *ticks = before + (after - before) / 2;
      *ns = now;
      return true;
    }
  }
  return false;
}

// An invariant counter (CPUID 0x80000007, EDX bit 8) that the kernel keeps
// CLOCK_MONOTONIC with.
bool counter_is_the_kernels_clock() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx) || !(edx & (1u << 8))) return false;
  int fd = ::open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char name[16] = {};
  ssize_t n = ::read(fd, name, sizeof(name) - 1);
  ::close(fd);
  return n > 0 && std::strcmp(name, "tsc\n") == 0;
}
#endif

}  // namespace

void init_hold_clock() {
#if defined(__x86_64__)
  HoldClock& c = g_hold_clock;
  if (c.usable.load(std::memory_order_relaxed) || !counter_is_the_kernels_clock()) return;
  if (!read_both(&c.anchor_ticks, &c.anchor_ns)) return;
  c.usable.store(true, std::memory_order_release);
#endif
}

uint64_t hold_clock_slow() {
  uint64_t now = monotonic_ns();
#if defined(__x86_64__)
  HoldClock& c = g_hold_clock;
  if (!c.usable.load(std::memory_order_acquire) || now - c.anchor_ns < HoldClock::kCalibrationNs ||
      c.calibrating.exchange(true, std::memory_order_acquire))
    return now;
  uint64_t ticks = 0, ns = 0;
  if (read_both(&ticks, &ns) && ticks > c.anchor_ticks && ns > c.anchor_ns) {
    auto scale = uint64_t((static_cast<unsigned __int128>(ns - c.anchor_ns) << 32) / (ticks - c.anchor_ticks));
    if (scale != 0) {
      c.base_ticks = ticks;
      c.base_ns = ns;
      c.scale.store(scale, std::memory_order_release);
      return ns;
    }
  }
  c.calibrating.store(false, std::memory_order_release);  // try again on a later reading
#endif
  return now;
}

}  // namespace gilwatch::preload
