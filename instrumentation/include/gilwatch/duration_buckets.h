// duration_buckets: the log-scale buckets of the contention profile's histograms, shared
// by the library (which counts into them) and the gilwatch command (which reads them back
// from results files and computes percentiles). Part of the results format: a bucket
// index in a results file means what this header says.
//
// Durations in nanoseconds, 4 buckets per power of two (a value is known to within
// 12.5%): buckets 0..3 hold 0..3 ns exactly; from 4 ns on, bucket 4*(e-1)+s holds
// [(4+s) << (e-2), (5+s) << (e-2)) for e = floor(log2(v)). Durations of 2^40 ns
// (18 minutes) and more share the last bucket.
#pragma once

#include <cstdint>

namespace gilwatch::duration_buckets {

inline constexpr int kCount = 160;

inline int bucket_of(uint64_t ns) {
  if (ns < 4) return int(ns);
  int e = 63 - __builtin_clzll(ns);  // floor(log2(ns)) >= 2
  int bucket = 4 * (e - 1) + int((ns >> (e - 2)) & 3);
  return bucket < kCount ? bucket : kCount - 1;
}

// The smallest value of the bucket.
inline uint64_t bucket_low(int bucket) {
  if (bucket < 4) return uint64_t(bucket);
  return uint64_t(4 + bucket % 4) << (bucket / 4 - 1);
}

// The smallest value of the next bucket.
inline uint64_t bucket_high(int bucket) {
  if (bucket < 4) return uint64_t(bucket) + 1;
  return uint64_t(5 + bucket % 4) << (bucket / 4 - 1);
}

// The value below which a fraction q of the samples lie, as the middle of its bucket;
// 0 when there are no samples. `counts` has kCount entries.
inline uint64_t percentile(const uint64_t* counts, double q) {
  uint64_t total = 0;
  for (int i = 0; i < kCount; ++i) total += counts[i];
  if (total == 0) return 0;
  double wanted = q * double(total);
  uint64_t rank = wanted < 1 ? 1 : uint64_t(wanted + 0.999999);  // 1-based, at least the first
  uint64_t seen = 0;
  for (int i = 0; i < kCount; ++i) {
    seen += counts[i];
    if (seen >= rank) return i < 4 ? bucket_low(i) : bucket_low(i) + (bucket_high(i) - bucket_low(i)) / 2;
  }
  return bucket_low(kCount - 1);
}

}  // namespace gilwatch::duration_buckets
