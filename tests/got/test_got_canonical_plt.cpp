// A non-PIE program that takes a library function's address (built with -no-pie).
//
// The linker then gives got_target a canonical address in this program: its PLT entry.
// dlsym and every GLOB_DAT slot see that address, while lazily bound PLT slots in other
// objects get the definition in libgot_target itself. The patcher must recognize both as
// "bound to got_target", and the replacement, calling through the canonical address,
// must reach the real function rather than itself.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <atomic>

#include "got_patcher.h"
#include "loaded_object_probe.h"

extern "C" int got_target(int);

// Taking the address in non-PIC code (an absolute 32-bit immediate the loader cannot
// relocate) is what makes the linker give the function a canonical PLT entry. A pointer
// in initialized data would not: that gets an ordinary R_X86_64_64 relocation.
__attribute__((noinline)) int (*program_pointer())(int) { return &got_target; }

namespace {

using gilwatch::got::Hook;
using namespace got_test;
using Call = int (*)(int);

std::atomic<int> g_calls{0};
int counting_got_target(int x);
Hook g_hooks[] = {{"got_target", reinterpret_cast<void*>(&counting_got_target), nullptr}};

int counting_got_target(int x) {
  ++g_calls;
  return reinterpret_cast<Call>(g_hooks[0].original)(x);
}

void* slot_value(void** slot) { return __atomic_load_n(slot, __ATOMIC_ACQUIRE); }

}  // namespace

TEST_CASE("in a non-PIE program, slots holding the canonical PLT address and the definition are both redirected",
          "[got][canonical]") {
  void* plt = dlopen(fixture_path("libgot_consumer_plt.so").c_str(), RTLD_LAZY | RTLD_LOCAL);
  void* noplt = dlopen(fixture_path("libgot_consumer_noplt.so").c_str(), RTLD_NOW | RTLD_LOCAL);
  void* target = dlopen(fixture_path("libgot_target.so").c_str(), RTLD_LAZY | RTLD_NOLOAD);
  REQUIRE(plt);
  REQUIRE(noplt);
  REQUIRE(target);
  void** plt_slot = slots_naming(plt, "got_target").at(0).address;
  void** noplt_slot = slots_naming(noplt, "got_target").at(0).address;

  // The situation under test: bind the lazy slot, then compare the two bindings.
  REQUIRE(reinterpret_cast<Call>(dlsym(plt, "consumer_call"))(1) == 3);
  void* canonical = dlsym(RTLD_DEFAULT, "got_target");
  void* program = dlopen(nullptr, RTLD_LAZY);
  REQUIRE(points_into(program, canonical));             // the program's PLT entry
  CHECK(slot_value(noplt_slot) == canonical);           // GLOB_DAT: canonical address
  CHECK(points_into(target, slot_value(plt_slot)));     // JUMP_SLOT: the definition
  CHECK(slot_value(plt_slot) != canonical);

  // No `self`: the program must be skipped as the holder of the canonical address, or the
  // replacement would call itself through the program's PLT entry.
  const void* self = nullptr;
  CHECK(gilwatch::got::patch_loaded_objects(g_hooks, 1, self) == 2);
  CHECK(g_hooks[0].original == canonical);
  CHECK(points_into(target, g_hooks[0].definition));
  CHECK(slot_value(plt_slot) == g_hooks[0].replacement);
  CHECK(slot_value(noplt_slot) == g_hooks[0].replacement);

  for (void* consumer : {plt, noplt}) {
    const int before = g_calls.load();
    CHECK(reinterpret_cast<Call>(dlsym(consumer, "consumer_call"))(5) == 11);
    CHECK(g_calls.load() - before == 1);  // once: the canonical entry does not loop back
  }
  // The program's own pointer and PLT entry stay as they were.
  const int before = g_calls.load();
  CHECK(program_pointer()(5) == 11);
  CHECK(g_calls.load() == before);
  CHECK(gilwatch::got::patch_loaded_objects(g_hooks, 1, self) == 0);
}
