// Drives got_patcher against real shared objects built four ways (lazy PLT, -fno-plt with
// BIND_NOW, a function pointer table, full RELRO), without libgilwatch.so.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "got_patcher.h"

namespace {

int g_failures = 0;
#define EXPECT(cond)                                                              \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: expectation failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                               \
    }                                                                             \
  } while (0)

gilwatch::got::Hook g_hooks[1];
int g_calls = 0;

int counting_got_target(int x) {
  ++g_calls;
  return reinterpret_cast<int (*)(int)>(g_hooks[0].original)(x);
}

std::vector<std::string> mapping_protections() {
  // "start-end perms ..." for every mapping: identical before and after patching when
  // the patcher restored what it changed.
  std::vector<std::string> out;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto space = line.find(' ');
    auto second = line.find(' ', space + 1);
    out.push_back(line.substr(0, second));
  }
  return out;
}

using CallFn = int (*)(int);

CallFn load(const std::string& dir, const char* name) {
  void* handle = dlopen((dir + "/" + name).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    std::fprintf(stderr, "dlopen %s: %s\n", name, dlerror());
    std::exit(2);
  }
  return reinterpret_cast<CallFn>(dlsym(handle, "got_consumer_call"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR-WITH-TEST-LIBRARIES\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  void* target = dlopen((dir + "/libgot_target.so").c_str(), RTLD_NOW | RTLD_GLOBAL);
  EXPECT(target != nullptr);
  auto internal = reinterpret_cast<CallFn>(dlsym(target, "got_target_called_internally"));

  CallFn lazy = load(dir, "libgot_consumer_lazy.so");
  CallFn noplt = load(dir, "libgot_consumer_noplt.so");
  CallFn table = load(dir, "libgot_consumer_table.so");

  g_hooks[0] = {"got_target", reinterpret_cast<void*>(&counting_got_target), nullptr};
  auto before = mapping_protections();
  int patched = gilwatch::got::patch_loaded_objects(g_hooks, 1, reinterpret_cast<const void*>(&main));
  EXPECT(g_hooks[0].original == dlsym(target, "got_target"));
  EXPECT(patched == 3);  // one slot in each consumer
  EXPECT(mapping_protections() == before);

  EXPECT(lazy(1) == 2 && g_calls == 1);   // JUMP_SLOT, lazy binding
  EXPECT(noplt(2) == 3 && g_calls == 2);  // GLOB_DAT
  EXPECT(table(3) == 4 && g_calls == 3);  // R_X86_64_64 in a data table
  EXPECT(internal(4) == 5 && g_calls == 3);  // the defining object is left alone

  // A second pass finds nothing new; an object loaded later is patched by the next pass.
  EXPECT(gilwatch::got::patch_loaded_objects(g_hooks, 1, reinterpret_cast<const void*>(&main)) == 0);
  CallFn relro = load(dir, "libgot_consumer_relro.so");
  auto before_relro = mapping_protections();
  EXPECT(gilwatch::got::patch_loaded_objects(g_hooks, 1, reinterpret_cast<const void*>(&main)) == 1);
  EXPECT(mapping_protections() == before_relro);
  EXPECT(relro(5) == 6 && g_calls == 4);

  // Patching a single object only touches that object.
  gilwatch::got::Hook again[1] = {{"got_target", reinterpret_cast<void*>(&counting_got_target), nullptr}};
  EXPECT(gilwatch::got::patch_object_containing(reinterpret_cast<const void*>(relro), again, 1) == 0);

  if (g_failures) std::fprintf(stderr, "%d expectation(s) failed\n", g_failures);
  else std::printf("got_patcher: all expectations held\n");
  return g_failures ? 1 : 0;
}
