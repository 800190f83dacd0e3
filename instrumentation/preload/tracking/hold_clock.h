// hold_clock: the clock the contention profile times lock holds with. A hold takes two
// readings, on every lock operation while profiling, so the clock must be cheap: on
// x86-64 it is the CPU's time-stamp counter scaled to nanoseconds, where the kernel
// itself keeps CLOCK_MONOTONIC with that counter (clocksource "tsc": the kernel has
// found it invariant and synchronized across CPUs). A reading through the vDSO costs
// about twice as much as the counter alone.
//
// Contract
// - hold_clock_ns() reads CLOCK_MONOTONIC's scale: until the counter's rate is known,
//   and wherever the counter is not used, it is clock_gettime(CLOCK_MONOTONIC).
// - The rate is measured against CLOCK_MONOTONIC between init_hold_clock() and the
//   first reading at least kCalibrationNs later. From that reading on, readings continue
//   CLOCK_MONOTONIC's from that moment, so a hold that began before it is timed right.
// - Durations agree with CLOCK_MONOTONIC's to within the calibration's error (well
//   under 0.1%) and NTP's slewing of CLOCK_MONOTONIC (at most 0.05%): far inside the
//   profile's histogram buckets (12.5%).
// - Two readings on different CPUs may come out a few nanoseconds backwards: callers
//   take a later reading below an earlier one as a duration of 0.
#pragma once

#include <atomic>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "wait_monitor.h"

namespace gilwatch::preload {

struct HoldClock {
  static constexpr uint64_t kCalibrationNs = 20000000;  // 20 ms
  std::atomic<uint64_t> scale{0};  // nanoseconds per tick << 32; 0 until calibrated
  uint64_t base_ticks = 0, base_ns = 0;  // a reading of both, once calibrated
  uint64_t anchor_ticks = 0, anchor_ns = 0;  // the reading of both at init
  std::atomic<bool> usable{false};  // the counter may be used (set at init)
  std::atomic<bool> calibrating{false};
};

extern HoldClock g_hold_clock;

// Decides whether the counter can be used and takes the first reading of both clocks.
void init_hold_clock();
// A reading while the counter's rate is not known (calibrating it once it can be).
uint64_t hold_clock_slow();

inline uint64_t hold_clock_ns() {
#if defined(__x86_64__)
  if (uint64_t scale = g_hold_clock.scale.load(std::memory_order_acquire); __builtin_expect(scale != 0, 1)) {
    int64_t ticks = int64_t(__rdtsc() - g_hold_clock.base_ticks);
    if (ticks < 0) ticks = 0;
    return g_hold_clock.base_ns + uint64_t((static_cast<unsigned __int128>(ticks) * scale) >> 32);
  }
#endif
  return hold_clock_slow();
}

}  // namespace gilwatch::preload
