#include "run_plan.h"

#include <cerrno>
#include <cstdlib>

namespace gilwatch::harness {

namespace {

// splitmix64's finalizer: a bijective mix, so distinct inputs keep distinct seeds.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

bool parse_positive(const std::string& text, long* out) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  *out = std::strtol(text.c_str(), nullptr, 10);
  return true;
}

}  // namespace

std::string RunSpec::label(const Suite& suite) const {
  const std::string& name = suite.scenarios[scenario].name;
  return variant.empty() ? name : name + "." + variant;
}

bool parse_shard(const std::string& text, Shard* out, std::string* error) {
  auto slash = text.find('/');
  long index = 0, count = 0;
  if (slash == std::string::npos || !parse_positive(text.substr(0, slash), &index) ||
      !parse_positive(text.substr(slash + 1), &count)) {
    *error = "'" + text + "' is not of the form I/N (e.g. 2/4)";
    return false;
  }
  if (count < 1 || index < 1 || index > count) {
    *error = "'" + text + "': I must be between 1 and N";
    return false;
  }
  out->index = int(index - 1);
  out->count = int(count);
  return true;
}

bool shard_from_bazel(const char* index, const char* total, Shard* out, std::string* error) {
  if (!index || !total || !*index || !*total) return false;
  long i = -1, n = 0;
  if (std::string(index) == "0")
    i = 0;
  else if (!parse_positive(index, &i))
    i = -1;
  if (!parse_positive(total, &n) || n < 1 || i < 0 || i >= n) {
    *error = std::string("TEST_SHARD_INDEX=") + index + " and TEST_TOTAL_SHARDS=" + total +
             " do not name a shard (0 <= index < total)";
    return false;
  }
  out->index = int(i);
  out->count = int(n);
  return true;
}

uint64_t run_seed(uint64_t base_seed, const std::string& scenario, const std::string& variant, int index) {
  return mix(mix(base_seed ^ fnv1a(scenario + "\n" + variant)) + uint64_t(index));
}

std::vector<RunSpec> plan_runs(const Suite& suite, uint64_t base_seed, int runs_override, const Shard& shard) {
  std::vector<RunSpec> plan;
  std::size_t ordinal = 0;
  for (std::size_t si = 0; si < suite.scenarios.size(); ++si) {
    const Scenario& s = suite.scenarios[si];
    int runs = runs_override > 0 ? runs_override : s.runs;
    uint64_t base = s.seed ? *s.seed : base_seed;
    for (const std::string& variant : s.variants)
      for (int i = 0; i < runs; ++i, ++ordinal) {
        if (ordinal % std::size_t(shard.count) != std::size_t(shard.index)) continue;
        RunSpec r;
        r.scenario = si;
        r.variant = variant;
        r.index = i;
        r.seed = run_seed(base, s.name, variant, i);
        r.ordinal = ordinal;
        plan.push_back(std::move(r));
      }
  }
  return plan;
}

}  // namespace gilwatch::harness
