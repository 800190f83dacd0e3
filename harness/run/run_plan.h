// run_plan: the list of runs a stress invocation makes — every (scenario, variant, run
// index) of the suite, each with its own seed — and the deterministic slice of it that
// one shard runs.
//
// A run's seed depends only on the base seed, the scenario's name, the variant and the
// run index, never on the shard or on -j: run 17 of "tool-churn" gets the same seed
// whether it ran alone, in a shard of four, or beside a hundred other runs, so the seed
// a finding records reproduces it anywhere.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "suite.h"

namespace gilwatch::harness {

struct RunSpec {
  std::size_t scenario = 0;  // index into Suite::scenarios
  std::string variant;       // a finalization way, or ""
  int index = 0;             // 0-based, per (scenario, variant)
  uint64_t seed = 0;
  std::size_t ordinal = 0;   // position in the whole (unsharded) plan

  // "tool-churn" or "exit.sigint": names the run's directory with the index.
  std::string label(const Suite& suite) const;
};

struct Shard {
  int index = 0;  // 0-based
  int count = 1;
};

// Parses "I/N" with 1 <= I <= N (as the user writes it: shards are numbered from 1).
bool parse_shard(const std::string& text, Shard* out, std::string* error);

// Bazel's TEST_SHARD_INDEX (0-based) and TEST_TOTAL_SHARDS; returns false when either is
// unset, with `error` set when they are set but invalid.
bool shard_from_bazel(const char* index, const char* total, Shard* out, std::string* error);

uint64_t run_seed(uint64_t base_seed, const std::string& scenario, const std::string& variant, int index);

// Every run of the suite in order — scenario by scenario, variant by variant, index by
// index — with `runs_override` (> 0) replacing each scenario's `runs`; then the runs
// whose ordinal % shard.count == shard.index. Striping (rather than contiguous blocks)
// spreads every scenario over all shards, so shards take similar times.
std::vector<RunSpec> plan_runs(const Suite& suite, uint64_t base_seed, int runs_override, const Shard& shard);

}  // namespace gilwatch::harness
