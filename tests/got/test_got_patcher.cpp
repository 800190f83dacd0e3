// The GOT patcher on fixture libraries that reach got_target through every kind of slot
// it handles. This program plays the preload library: the patcher is compiled into it,
// and it passes its own address as `self`.
//
// The loading and patching happen once, in a fixed order (World below), and record what
// they saw; each test case checks one part of that record and may call through the
// patched slots. That keeps the cases correct both when CTest runs each in its own
// process and when the whole program runs at once.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <atomic>

#include "got_patcher.h"
#include "loaded_object_probe.h"

extern "C" int got_target(int);
extern "C" int got_target_via_internal_call(int);

namespace {

using gilwatch::got::Hook;
using namespace got_test;

using Call = int (*)(int);
using TableCall = int (*)(int, int);

std::atomic<int> g_target_calls{0};
std::atomic<int> g_late_calls{0};
std::atomic<int> g_other_calls{0};

int counting_got_target(int x);
int counting_got_late_target(int x);
int counting_got_other(int x);

Hook g_hooks[] = {
    {"got_target", reinterpret_cast<void*>(&counting_got_target), nullptr},
    // Defined by a library that is not loaded when the first pass runs.
    {"got_late_target", reinterpret_cast<void*>(&counting_got_late_target), nullptr},
};
Hook g_other_hooks[] = {{"got_other", reinterpret_cast<void*>(&counting_got_other), nullptr}};

int counting_got_target(int x) {
  ++g_target_calls;
  return reinterpret_cast<Call>(g_hooks[0].original)(x);
}
int counting_got_late_target(int x) {
  ++g_late_calls;
  return reinterpret_cast<Call>(g_hooks[1].original)(x);
}
int counting_got_other(int x) {
  ++g_other_calls;
  return reinterpret_cast<Call>(g_other_hooks[0].original)(x);
}

// The object containing this address is never patched: here, this test program.
const void* const kSelf = reinterpret_cast<const void*>(&counting_got_target);

template <class F>
F function(void* handle, const char* name) {
  return reinterpret_cast<F>(dlsym(handle, name));
}

void* slot_value(void** slot) { return __atomic_load_n(slot, __ATOMIC_ACQUIRE); }

struct PassRecord {
  std::string label;
  int patched;
  gilwatch::got::PassStatistics statistics;
  PageProtections before;  // pages of every libgot_* mapping
  PageProtections after;
};

struct World {
  std::string error;  // a fixture failed to load: every case fails with this message
  void* plt = nullptr;
  void* noplt = nullptr;
  void* table = nullptr;
  void* relro = nullptr;
  void* relro_open = nullptr;
  void* plt_late = nullptr;
  void* shadowed = nullptr;
  void* bystander = nullptr;
  void* late_consumer = nullptr;
  void* late_consumer_early = nullptr;

  int first_pass = -1, second_pass = -1;
  int new_objects_pass = -1, new_objects_repeat_pass = -1;
  int late_symbol_pass = -1, late_symbol_repeat_pass = -1;
  int single_object_pass = -1;
  int reload_pass = -1;
  std::vector<PassRecord> passes;

  bool plt_slot_bound_before_first_pass = false;
  bool plt_late_slot_unbound_before_its_pass = false;
  std::string relro_slot_protection_before;
  std::string unprotected_relro_slot_protection_after;
  bool late_hook_unresolved_after_first_pass = false;
  bool plt_late_was_unloaded = false;
  bool plt_late_reloaded_at_same_address = false;
  std::vector<unsigned char> bystander_before, bystander_after;
};

int record_pass(World& w, const char* label, int (*run)()) {
  PassRecord record{label, 0, {}, page_protections("libgot_"), {}};
  record.patched = run();
  record.statistics = gilwatch::got::last_pass_statistics();
  record.after = page_protections("libgot_");
  w.passes.push_back(record);
  return record.patched;
}

int full_pass() { return gilwatch::got::patch_loaded_objects(g_hooks, std::size(g_hooks), kSelf); }

World build_world() {
  World w;
  auto open = [&w](const char* library, int flags) -> void* {
    void* handle = dlopen(fixture_path(library).c_str(), flags);
    if (!handle && w.error.empty()) w.error = std::string(library) + ": " + dlerror();
    return handle;
  };

  w.plt = open("libgot_consumer_plt.so", RTLD_LAZY | RTLD_LOCAL);
  w.noplt = open("libgot_consumer_noplt.so", RTLD_NOW | RTLD_LOCAL);
  w.table = open("libgot_consumer_table.so", RTLD_LAZY | RTLD_LOCAL);
  w.bystander = open("libgot_bystander.so", RTLD_NOW | RTLD_LOCAL);
  // Its own scope first: got_target binds to libgot_shadow, not to the global one.
  w.shadowed = open("libgot_consumer_shadowed.so", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  // got_late_target is not defined anywhere yet: only lazy binding lets this load.
  w.late_consumer_early = open("libgot_late_consumer_early.so", RTLD_LAZY | RTLD_LOCAL);
  if (!w.error.empty()) return w;

  // One lazy slot is resolved before any pass (it then holds the original), the other
  // consumer's is not (it points back into its own PLT).
  function<Call>(w.plt, "consumer_call")(0);
  w.plt_slot_bound_before_first_pass = slot_value(slots_naming(w.plt, "got_target").at(0).address) == &got_target;
  w.bystander_before = writable_bytes("libgot_bystander");

  w.first_pass = record_pass(w, "first pass", full_pass);
  w.late_hook_unresolved_after_first_pass = g_hooks[1].original == nullptr;
  w.second_pass = record_pass(w, "second pass", full_pass);

  w.relro = open("libgot_consumer_relro.so", RTLD_NOW | RTLD_LOCAL);
  w.relro_open = open("libgot_consumer_relro_open.so", RTLD_NOW | RTLD_LOCAL);
  w.plt_late = open("libgot_consumer_plt_late.so", RTLD_LAZY | RTLD_LOCAL);
  if (!w.error.empty()) return w;
  w.plt_late_slot_unbound_before_its_pass =
      points_into(w.plt_late, slot_value(slots_naming(w.plt_late, "got_target").at(0).address));
  w.relro_slot_protection_before = protection_of(slots_naming(w.relro, "got_target").at(0).address);
  // A RELRO page found writable (an object a concurrent dlopen is still relocating, or
  // one another tool opened) must stay writable: restoring "what the loader would do"
  // would make the loader fault on its next relocation.
  void** open_slot = slots_naming(w.relro_open, "got_target").at(0).address;
  mprotect(reinterpret_cast<void*>(page_of(open_slot)), static_cast<std::size_t>(sysconf(_SC_PAGESIZE)),
           PROT_READ | PROT_WRITE);
  w.new_objects_pass = record_pass(w, "pass after three dlopens", full_pass);
  w.unprotected_relro_slot_protection_after = protection_of(open_slot);
  w.new_objects_repeat_pass = record_pass(w, "repeated pass after three dlopens", full_pass);

  // RTLD_GLOBAL, as an embedding application loads libpython: dlsym(RTLD_DEFAULT) sees it.
  w.late_consumer = open("libgot_late_consumer.so", RTLD_NOW | RTLD_GLOBAL);
  if (!w.error.empty()) return w;
  w.late_symbol_pass = record_pass(w, "pass after the late definition is loaded", full_pass);
  w.late_symbol_repeat_pass = record_pass(w, "repeated pass after the late definition", full_pass);

  static void* single_object_address = nullptr;
  single_object_address = dlsym(w.plt, "consumer_call");
  w.single_object_pass = record_pass(w, "pass over one object", [] {
    return gilwatch::got::patch_object_containing(single_object_address, g_other_hooks, std::size(g_other_hooks));
  });

  // Unload a patched object and load it again: the cache must not take the new copy
  // (quite possibly at the same address) for the old, already patched one.
  const uintptr_t bias_before = load_bias(w.plt_late);
  dlclose(w.plt_late);
  if (void* still_loaded = dlopen(fixture_path("libgot_consumer_plt_late.so").c_str(), RTLD_LAZY | RTLD_NOLOAD)) {
    dlclose(still_loaded);
  } else {
    w.plt_late_was_unloaded = true;
  }
  w.plt_late = open("libgot_consumer_plt_late.so", RTLD_LAZY | RTLD_LOCAL);
  if (!w.error.empty()) return w;
  w.plt_late_reloaded_at_same_address = load_bias(w.plt_late) == bias_before;
  w.reload_pass = record_pass(w, "pass after unloading and reloading", full_pass);

  w.bystander_after = writable_bytes("libgot_bystander");
  return w;
}

const World& world() {
  static const World w = build_world();
  return w;
}

const World& loaded_world() {
  const World& w = world();
  INFO("fixture directory: " << GOT_FIXTURE_DIR);
  REQUIRE(w.error.empty());
  return w;
}

std::vector<std::string> kinds(const std::vector<Slot>& slots) {
  std::vector<std::string> names;
  for (const Slot& s : slots) names.push_back(relocation_name(s.type));
  return names;
}

// Calls `call` and reports by how much the got_target call count moved.
template <class F>
int calls_counted(F&& call) {
  const int before = g_target_calls.load();
  call();
  return g_target_calls.load() - before;
}

void* replacement() { return g_hooks[0].replacement; }

}  // namespace

TEST_CASE("the fixtures reach got_target through the slot kinds they are named for", "[got][fixtures]") {
  const World& w = loaded_world();
  using V = std::vector<std::string>;
  CHECK(kinds(slots_naming(w.plt, "got_target")) == V{"JUMP_SLOT"});
  CHECK(kinds(slots_naming(w.plt_late, "got_target")) == V{"JUMP_SLOT"});
  CHECK(kinds(slots_naming(w.noplt, "got_target")) == V{"GLOB_DAT"});
  CHECK(kinds(slots_naming(w.table, "got_target")) == V{"R_X86_64_64", "R_X86_64_64"});
  CHECK(kinds(slots_naming(w.relro, "got_target")) == V{"JUMP_SLOT"});
  CHECK(kinds(slots_naming(w.relro_open, "got_target")) == V{"JUMP_SLOT"});
  CHECK(kinds(slots_naming(w.late_consumer_early, "got_late_target")) == V{"JUMP_SLOT"});
  CHECK(slots_naming(w.shadowed, "got_target").size() == 1);
  CHECK(slots_naming(w.bystander, "got_target").empty());

  // Writable slots for the lazy and -fno-plt consumers, a read-only one under full RELRO.
  CHECK(protection_of(slots_naming(w.plt, "got_target")[0].address) == "rw-p");
  CHECK(protection_of(slots_naming(w.noplt, "got_target")[0].address) == "rw-p");
  CHECK(w.relro_slot_protection_before == "r--p");

  // Both states of a lazy PLT slot occur: resolved before the pass, and still unbound.
  CHECK(w.plt_slot_bound_before_first_pass);
  CHECK(w.plt_late_slot_unbound_before_its_pass);
}

TEST_CASE("a first pass redirects every loaded consumer and a second pass finds nothing new", "[got]") {
  const World& w = loaded_world();
  const std::size_t expected =
      slots_naming(w.plt, "got_target").size() + slots_naming(w.noplt, "got_target").size() +
      slots_naming(w.table, "got_target").size();
  CHECK(expected == 4);
  CHECK(w.first_pass == static_cast<int>(expected));
  CHECK(w.second_pass == 0);
  for (void* handle : {w.plt, w.noplt, w.table})
    for (const Slot& slot : slots_naming(handle, "got_target")) CHECK(slot_value(slot.address) == replacement());
}

TEST_CASE("objects loaded after a pass are redirected by the next one, full RELRO included", "[got]") {
  const World& w = loaded_world();
  CHECK(w.new_objects_pass == 3);  // the two RELRO consumers and the lazy one
  CHECK(w.new_objects_repeat_pass == 0);
  CHECK(slot_value(slots_naming(w.relro, "got_target")[0].address) == replacement());
  CHECK(slot_value(slots_naming(w.relro_open, "got_target")[0].address) == replacement());
  CHECK(slot_value(slots_naming(w.plt_late, "got_target")[0].address) == replacement());
}

TEST_CASE("calls through every kind of slot reach the replacement, which runs the original", "[got]") {
  const World& w = loaded_world();
  struct Consumer {
    const char* name;
    void* handle;
  };
  for (const Consumer& c : {Consumer{"lazy PLT, bound before the pass", w.plt},
                            Consumer{"lazy PLT, unbound before the pass", w.plt_late},
                            Consumer{"GLOB_DAT", w.noplt}, Consumer{"full RELRO", w.relro},
                            Consumer{"full RELRO, page found writable", w.relro_open}}) {
    INFO(c.name);
    int result = 0;
    CHECK(calls_counted([&] { result = function<Call>(c.handle, "consumer_call")(5); }) == 1);
    CHECK(result == 11);
  }
  for (const char* table : {"consumer_call_table", "consumer_call_const_table"}) {
    INFO(table);
    int result = 0;
    CHECK(calls_counted([&] { result = function<TableCall>(w.table, table)(0, 5); }) == 1);
    CHECK(result == 11);
    // The neighbouring entry, a local function, is not touched.
    CHECK(calls_counted([&] { result = function<TableCall>(w.table, table)(1, 5); }) == 0);
    CHECK(result == -5);
  }
}

TEST_CASE("the defining library's calls to itself are not redirected", "[got]") {
  const World& w = loaded_world();
  (void)w;
  int result = 0;
  CHECK(calls_counted([&] { result = got_target_via_internal_call(5); }) == 0);
  CHECK(result == 11);
  void* target = dlopen(fixture_path("libgot_target.so").c_str(), RTLD_LAZY | RTLD_NOLOAD);
  REQUIRE(target);
  const std::vector<Slot> own = slots_naming(target, "got_target");
  REQUIRE(own.size() == 1);  // the internal call goes through its own PLT
  CHECK(slot_value(own[0].address) != replacement());
  dlclose(target);
}

TEST_CASE("the patching object's own imports are not redirected", "[got]") {
  const World& w = loaded_world();
  (void)w;
  int result = 0;
  CHECK(calls_counted([&] { result = got_target(5); }) == 0);
  CHECK(result == 11);
  void* program = dlopen(nullptr, RTLD_LAZY);
  const std::vector<Slot> own = slots_naming(program, "got_target");
  CHECK_FALSE(own.empty());
  for (const Slot& slot : own) CHECK(slot_value(slot.address) != replacement());
}

TEST_CASE("a slot bound to another definition of the name is left alone", "[got]") {
  const World& w = loaded_world();
  int result = 0;
  CHECK(calls_counted([&] { result = function<Call>(w.shadowed, "consumer_call")(5); }) == 0);
  CHECK(result == 5000);  // libgot_shadow's got_target, not a wrapper around the global one
  CHECK(slot_value(slots_naming(w.shadowed, "got_target")[0].address) != replacement());
}

TEST_CASE("an object that imports none of the hooked names is not written to", "[got]") {
  const World& w = loaded_world();
  REQUIRE_FALSE(w.bystander_before.empty());
  CHECK(w.bystander_before == w.bystander_after);
  CHECK(function<Call>(w.bystander, "bystander_call")(4) == 8);
}

TEST_CASE("every pass leaves page protections as they were, read-only slot pages included", "[got]") {
  const World& w = loaded_world();
  REQUIRE(w.passes.size() == 8);
  for (const PassRecord& pass : w.passes) {
    INFO(pass.label);
    CHECK_FALSE(pass.before.empty());
    CHECK(pass.before == pass.after);
  }
  // The patched slots in RELRO are read-only again, not left writable...
  CHECK(protection_of(slots_naming(w.relro, "got_target")[0].address) == "r--p");
  const void* const_entry = dlsym(w.table, "consumer_const_table");
  int const_entries = 0;
  for (const Slot& slot : slots_naming(w.table, "got_target")) {
    if (slot.address != const_entry) continue;
    ++const_entries;
    CHECK(protection_of(slot.address) == "r--p");
  }
  CHECK(const_entries == 1);
  // ...but a RELRO page that was writable when the pass came is left writable.
  CHECK(w.unprotected_relro_slot_protection_after == "rw-p");
}

TEST_CASE("a hook whose function is not loaded yet waits for it, then applies", "[got]") {
  const World& w = loaded_world();
  CHECK(w.late_hook_unresolved_after_first_pass);
  // Both late consumers: the one just loaded, and the one scanned by earlier passes while
  // the hook was unresolved. Slots patched before are not counted again.
  CHECK(w.late_symbol_pass == 2);
  CHECK(w.late_symbol_repeat_pass == 0);
  CHECK(g_hooks[1].original == dlsym(RTLD_DEFAULT, "got_late_target"));
  for (void* consumer : {w.late_consumer, w.late_consumer_early}) {
    const int before = g_late_calls.load();
    CHECK(function<Call>(consumer, "late_call")(1) == 101);
    CHECK(g_late_calls.load() - before == 1);
  }
}

TEST_CASE("patching one object leaves the same import in other objects alone", "[got]") {
  const World& w = loaded_world();
  CHECK(w.single_object_pass == 1);
  const int before = g_other_calls.load();
  CHECK(function<Call>(w.plt, "consumer_call_other")(3) == 10);
  CHECK(g_other_calls.load() - before == 1);
  CHECK(function<Call>(w.noplt, "consumer_call_other")(3) == 10);
  CHECK(g_other_calls.load() - before == 1);
}

TEST_CASE("an object unloaded and loaded again is redirected again", "[got]") {
  const World& w = loaded_world();
  REQUIRE(w.plt_late_was_unloaded);
  INFO("reloaded at the same address: " << (w.plt_late_reloaded_at_same_address ? "yes" : "no"));
  CHECK(w.reload_pass == 1);
  int result = 0;
  CHECK(calls_counted([&] { result = function<Call>(w.plt_late, "consumer_call")(5); }) == 1);
  CHECK(result == 11);
}

TEST_CASE("repeated passes do not read again what nothing has changed", "[got][cache]") {
  const World& w = loaded_world();
  REQUIRE(w.passes.size() == 8);
  const auto& first = w.passes[0].statistics;
  const auto& second = w.passes[1].statistics;
  const auto& new_objects = w.passes[2].statistics;
  const auto& new_objects_repeat = w.passes[3].statistics;
  const auto& late_symbol = w.passes[4].statistics;
  const auto& single_object = w.passes[6].statistics;
  const auto& reload = w.passes[7].statistics;

  CHECK(first.objects_scanned > 0);
  CHECK(first.slots_patched == w.first_pass);
  CHECK(first.slots_bound_elsewhere == 1);  // the consumer bound to libgot_shadow
  CHECK(first.slots_unwritable == 0);
  // Nothing loaded or unloaded since: the pass ends before looking at any object.
  CHECK(second.objects_seen == 0);
  // Only the three new objects are read.
  CHECK(new_objects.objects_scanned == 3);
  // ...and once more the one whose lazy PLT slot was patched before it was ever bound
  // (a lazy resolver running meanwhile could have overwritten it); it was not.
  CHECK(new_objects_repeat.objects_scanned == 1);
  CHECK(new_objects_repeat.slots_patched == 0);
  // A newly resolved hook makes every object worth reading again (the early late
  // consumer was read before, when the hook could not apply); the two late libraries
  // are new.
  CHECK(late_symbol.objects_scanned == first.objects_scanned + 3 + 2);
  CHECK(single_object.objects_scanned == 1);
  // An unload makes every cached identity doubtful: everything is read again.
  CHECK(reload.objects_scanned == late_symbol.objects_scanned);
}
