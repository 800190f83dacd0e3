#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <vector>
#include <random>

#include "lock_table.h"

using namespace gilwatch;

TEST_CASE("the lock table agrees with a std::map under random inserts and erases", "[lock_table]") {
  LockTable table(12);
  REQUIRE(table.ok());
  std::map<uintptr_t, NodeHandle> model;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 200000; ++step) {
    uintptr_t address = 0x100000 + (rng() % 3000) * 8;
    if (rng() % 3) {
      NodeHandle n{uint32_t(step), uint32_t(step + 1)};
      if (model.size() < 3000) {
        REQUIRE(table.insert(address, n));
        model[address] = n;
      }
    } else {
      CHECK(table.erase(address) == (model.erase(address) == 1));
    }
    uintptr_t probe = 0x100000 + (rng() % 3000) * 8;
    auto it = model.find(probe);
    NodeHandle found = table.find(probe);
    // With no writer running, the lock-free lookup answers as the locked one.
    REQUIRE(table.find_unlocked(probe) == found);
    if (it == model.end()) {
      REQUIRE_FALSE(found.valid());
    } else {
      REQUIRE(found == it->second);
    }
  }
  CHECK(table.size() == model.size());
}

TEST_CASE("range queries find exactly the locks inside a freed block", "[lock_table]") {
  LockTable table(10);
  table.insert(0x7000, {1, 1});
  table.insert(0x7008, {2, 1});
  table.insert(0x7040, {3, 1});
  table.insert(0x9000, {4, 1});
  CHECK(table.may_overlap(0x7000, 0x7010));
  std::vector<uintptr_t> seen;
  table.for_each_in_range(0x7000, 0x7040, [&](uintptr_t a, NodeHandle) { seen.push_back(a); });
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<uintptr_t>{0x7000, 0x7008});
  // A block on a page with no tracked lock is dismissed by the filter alone.
  CHECK_FALSE(table.may_overlap(0x20000, 0x20040));
}

TEST_CASE("a huge freed range falls back to scanning the table", "[lock_table]") {
  LockTable table(10);
  table.insert(0x10000008, {1, 1});
  std::vector<uintptr_t> seen;
  table.for_each_in_range(0x1000, uintptr_t(1) << 40, [&](uintptr_t a, NodeHandle) { seen.push_back(a); });
  CHECK(seen == std::vector<uintptr_t>{0x10000008});
}

TEST_CASE("a full table refuses inserts and says so", "[lock_table]") {
  LockTable table(4);  // 16 slots, 7/8 usable
  int inserted = 0;
  for (uintptr_t i = 1; i <= 20; ++i) inserted += table.insert(i * 8, {uint32_t(i), 1}) ? 1 : 0;
  CHECK(inserted == 14);
  CHECK(table.overflowed());
}

TEST_CASE("churn keeps the filter selective", "[lock_table]") {
  LockTable table(16);
  for (uintptr_t round = 0; round < 50; ++round) {
    for (uintptr_t i = 0; i < 1000; ++i) table.insert(0x40000000 + round * 0x1000000 + i * 4096, {1, 1});
    for (uintptr_t i = 0; i < 1000; ++i) table.erase(0x40000000 + round * 0x1000000 + i * 4096);
  }
  CHECK(table.size() == 0);
  int hits = 0;
  for (uintptr_t i = 0; i < 1000; ++i) hits += table.may_overlap(0x40000000 + i * 4096, 0x40000000 + i * 4096 + 64);
  CHECK(hits < 100);
}
