// got_patcher: see got_patcher.h for the contract and docs/interception.md for why.
//
// Runs inside the process under test, possibly right after a dlopen on any thread: no
// malloc, no stdio, no exceptions, no pthread locks, and no libc wrappers that the
// preload (or another tool) might interpose — system calls are issued directly.
#include "got_patcher.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstdint>
#include <cstring>

#include "got_elf.h"
#include "spin_lock.h"

namespace gilwatch::got {

#if defined(__x86_64__)

using namespace elf;

namespace {

// ---------------------------------------------------------------------------------------
// Resolving originals (outside the patcher's lock: dlsym takes the loader's lock).

struct DefinitionSearch {
  const char* name;
  uintptr_t original;              // 0 while unresolved
  uintptr_t first_definition = 0;  // in link-map order, the vDSO excluded
  bool first_is_ifunc = false;
  bool original_is_plt_stub = false;  // `original` is a canonical PLT address
};

int search_definition(dl_phdr_info* info, std::size_t, void* arg) {
  DefinitionSearch& search = *static_cast<DefinitionSearch*>(arg);
  LoadedObject object(info);
  if (object.contains(special_objects().vdso_header)) return 0;
  bool holds_original = object.contains(search.original);
  if (!holds_original && search.first_definition) return 0;
  if (!object.read_dynamic()) return 0;
  const ElfW(Sym)* sym = object.find_symbol(search.name);
  if (!sym) return 0;
  uintptr_t address = object.bias() + sym->st_value;
  if (sym->st_shndx != SHN_UNDEF) {
    if (!search.first_definition) {
      search.first_definition = address;
      search.first_is_ifunc = ELF64_ST_TYPE(sym->st_info) == STT_GNU_IFUNC;
    }
  } else if (holds_original && sym->st_value != 0 && address == search.original) {
    // A non-PIE executable that takes a library function's address imports it as an
    // undefined symbol with a value: its PLT entry, which becomes the function's address
    // for everyone (dlsym, GLOB_DAT). Lazily bound PLT slots still get the definition.
    search.original_is_plt_stub = true;
  }
  return 0;
}

void resolve_originals(Hook* hooks, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    Hook& hook = hooks[i];
    if (!hook.symbol || !hook.replacement) continue;
    void* original = __atomic_load_n(&hook.original, __ATOMIC_ACQUIRE);
    if (original && __atomic_load_n(&hook.definition, __ATOMIC_ACQUIRE)) continue;

    DefinitionSearch search{hook.symbol, reinterpret_cast<uintptr_t>(original)};
    dl_iterate_phdr(search_definition, &search);
    if (!original) {
      // A failing dlsym allocates its error message; ask only when the name exists.
      if (!search.first_definition) continue;
      original = dlsym(RTLD_DEFAULT, hook.symbol);
      if (!original) continue;  // defined only in objects outside the global scope
      search.original = reinterpret_cast<uintptr_t>(original);
      search.first_definition = 0;
      dl_iterate_phdr(search_definition, &search);  // is dlsym's answer a PLT stub?
    }
    void* definition = original;
    if (search.original_is_plt_stub && search.first_definition && !search.first_is_ifunc)
      definition = reinterpret_cast<void*>(search.first_definition);
    __atomic_store_n(&hook.definition, definition, __ATOMIC_RELEASE);
    __atomic_store_n(&hook.original, original, __ATOMIC_RELEASE);
  }
}

// ---------------------------------------------------------------------------------------
// The scan cache.
//
// Each hook array passed in is a "hook set" with a bit of its own; an object's entry
// records the sets it has been fully scanned for. Objects are identified by load bias
// and program-header address, which is sound only while nothing is unloaded: dlpi_subs
// (the loader's count of unloads) is the generation, and a new one drops every entry.
// A set whose resolved originals or replacements change loses its bit everywhere.

SpinLock g_lock;
PassStatistics g_last_statistics;  // guarded by g_lock

constexpr std::size_t kMaxHookSets = 32;
struct HookSetState {
  const Hook* hooks = nullptr;
  std::size_t count = 0;
  uint64_t signature = 0;
  // The loader's counters at the end of the last full pass that left every object
  // settled: while they are unchanged, no object appeared or vanished.
  unsigned long long adds = 0;
  unsigned long long subs = 0;
  bool settled = false;
};
HookSetState g_sets[kMaxHookSets];

constexpr std::size_t kMaxObjects = 4096;
struct ScannedObject {
  uintptr_t bias;
  const void* phdr;
  uint32_t done_sets;  // bit i: fully scanned for g_sets[i]
};
ScannedObject g_objects[kMaxObjects];
std::size_t g_object_count = 0;
unsigned long long g_objects_generation = 0;  // dlpi_subs when the entries were made

uint64_t signature_of(const Hook* hooks, std::size_t count) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* p) { h = (h ^ reinterpret_cast<uintptr_t>(p)) * 1099511628211ULL; };
  for (std::size_t i = 0; i < count; ++i) {
    mix(hooks[i].symbol);
    mix(hooks[i].replacement);
    mix(__atomic_load_n(&hooks[i].original, __ATOMIC_ACQUIRE));
    mix(__atomic_load_n(&hooks[i].definition, __ATOMIC_ACQUIRE));
  }
  return h;
}

// The set's index, or -1 when the table is full (such sets are simply never cached).
int hook_set_index(const Hook* hooks, std::size_t count) {
  for (std::size_t i = 0; i < kMaxHookSets; ++i) {
    if (g_sets[i].hooks == hooks && g_sets[i].count == count) return static_cast<int>(i);
    if (!g_sets[i].hooks) {
      g_sets[i].hooks = hooks;
      g_sets[i].count = count;
      return static_cast<int>(i);
    }
  }
  return -1;
}

void forget_set(int set) {
  const uint32_t keep = ~(uint32_t{1} << set);
  for (std::size_t i = 0; i < g_object_count; ++i) g_objects[i].done_sets &= keep;
  g_sets[set].settled = false;
}

ScannedObject* find_scanned(const dl_phdr_info* info) {
  for (std::size_t i = 0; i < g_object_count; ++i)
    if (g_objects[i].bias == info->dlpi_addr && g_objects[i].phdr == info->dlpi_phdr) return &g_objects[i];
  return nullptr;
}

// False when the table is full: the object will be scanned again next time.
bool remember_scanned(const dl_phdr_info* info, int set) {
  ScannedObject* entry = find_scanned(info);
  if (!entry) {
    if (g_object_count == kMaxObjects) return false;
    entry = &g_objects[g_object_count++];
    *entry = {info->dlpi_addr, info->dlpi_phdr, 0};
  }
  entry->done_sets |= uint32_t{1} << set;
  return true;
}

// ---------------------------------------------------------------------------------------
// The pass.

struct Pass {
  Pass(Hook* hooks_, std::size_t count_, uintptr_t self_, uintptr_t only_, int set_)
      : hooks(hooks_), count(count_), self(self_), only(only_), set(set_) {}

  Hook* hooks;
  std::size_t count;
  uintptr_t self;  // skip the object containing this address (0: none)
  uintptr_t only;  // patch only the object containing this address (0: all objects)
  int set;         // hook-set index, -1: uncached
  bool first_object = true;
  bool stopped_early = false;
  // Settled: every hooked slot is either redirected or bound elsewhere for good, so the
  // object need not be looked at again until something is unloaded.
  bool object_settled = true;
  bool all_settled = true;
  unsigned long long adds = 0;
  unsigned long long subs = 0;
  PassStatistics statistics;
  // The page whose protection was last looked up, so a GOT page costs one read of maps.
  uintptr_t known_page = 0;
  int known_protection = -1;
};

// Writes `value` into `slot`. Pages that are writable by design (outside RELRO, in a
// writable segment) are written in place; any other page is opened for the store and
// then given back the protection it had. Observing the protection (rather than assuming
// the loader's) keeps a page of an object still being relocated by a concurrent dlopen
// writable, so the loader does not fault on it.
bool write_slot(const LoadedObject& object, void** slot, void* value, Pass& pass) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(slot);
  const uintptr_t page = address & ~(page_size() - 1);
  if (!object.page_in_relro(page) && (object.segment_flags(address) & PF_W)) {
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    return true;
  }
  if (pass.known_page != page) {
    pass.known_page = page;
    pass.known_protection = mapped_protection(page);
    if (pass.known_protection < 0) pass.known_protection = object.loader_protection(page);
  }
  const int restore = pass.known_protection;
  if (sys_mprotect(page, page_size(), restore | PROT_READ | PROT_WRITE) != 0) return false;
  __atomic_store_n(slot, value, __ATOMIC_RELEASE);
  sys_mprotect(page, page_size(), restore);
  return true;
}

bool is_candidate(const ElfW(Rela)& r) {
  const unsigned type = ELF64_R_TYPE(r.r_info);
  return type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT || (type == R_X86_64_64 && r.r_addend == 0);
}

// A slot whose symbol is hooked: rewrite it only if it is bound to the hooked function.
void patch_slot(const LoadedObject& object, const ElfW(Rela)& r, Hook& hook, Pass& pass) {
  void** slot = reinterpret_cast<void**>(object.bias() + r.r_offset);
  void* value = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (value == hook.replacement) return;  // done by an earlier pass
  const uintptr_t bound = reinterpret_cast<uintptr_t>(value);
  bool bound_to_hooked = value == hook.original || value == hook.definition;
  // A lazy PLT slot not called yet points back at its own PLT entry; the loader would
  // bind it on the first call.
  bool lazy_unbound = ELF64_R_TYPE(r.r_info) == R_X86_64_JUMP_SLOT && (object.segment_flags(bound) & PF_X);
  if (bound_to_hooked || lazy_unbound) {
    if (write_slot(object, slot, hook.replacement, pass)) {
      ++pass.statistics.slots_patched;
      // A thread already inside the loader's lazy resolver for this slot writes the
      // original over our store when it finishes: look once more next pass.
      if (lazy_unbound) pass.object_settled = false;
    } else {
      ++pass.statistics.slots_unwritable;
      pass.object_settled = false;  // retried next pass
    }
    return;
  }
  // Anything else is bound elsewhere and left alone for good — unless it still holds a
  // link-time value (0, or an offset within the object) because a dlopen on another
  // thread has not relocated this object yet: then it is looked at again next pass.
  if (object.bias() != 0 && bound < object.link_time_extent()) pass.object_settled = false;
  else ++pass.statistics.slots_bound_elsewhere;
}

void patch_table(const LoadedObject& object, const ElfW(Rela)* table, std::size_t n, Pass& pass) {
  for (std::size_t i = 0; i < n; ++i) {
    const ElfW(Rela)& r = table[i];
    if (!is_candidate(r)) continue;
    const std::size_t symbol_index = ELF64_R_SYM(r.r_info);
    if (symbol_index == STN_UNDEF) continue;
    const ElfW(Sym)& sym = object.symtab()[symbol_index];
    if (sym.st_shndx != SHN_UNDEF) continue;  // the object's own definition
    const char* name = object.symbol_name(sym);
    if (!name) continue;
    for (std::size_t h = 0; h < pass.count; ++h) {
      Hook& hook = pass.hooks[h];
      if (!hook.symbol || !hook.original || !hook.replacement || hook.symbol[0] != name[0] || std::strcmp(hook.symbol, name) != 0)
        continue;
      // The defining object's references are the interpreter calling itself.
      if (!object.contains(hook.original) && !object.contains(hook.definition)) patch_slot(object, r, hook, pass);
      break;
    }
  }
}

int visit_object(dl_phdr_info* info, std::size_t, void* arg) {
  Pass& pass = *static_cast<Pass*>(arg);
  if (pass.first_object) {
    pass.first_object = false;
    pass.adds = info->dlpi_adds;
    pass.subs = info->dlpi_subs;
    if (g_objects_generation != info->dlpi_subs) {  // something was unloaded
      g_object_count = 0;
      g_objects_generation = info->dlpi_subs;
      for (HookSetState& s : g_sets) s.settled = false;
    }
    if (!pass.only && pass.set >= 0) {
      const HookSetState& state = g_sets[pass.set];
      if (state.settled && state.adds == pass.adds && state.subs == pass.subs) {
        pass.stopped_early = true;
        return 1;
      }
    }
  }
  ++pass.statistics.objects_seen;
  if (info->dlpi_phnum == 0) return 0;
  LoadedObject object(info);
  if (pass.only) {
    if (!object.contains(pass.only)) return 0;
  } else if (object.contains(pass.self)) {
    return 0;
  }
  if (object.is_vdso_or_loader()) return pass.only ? 1 : 0;

  const ScannedObject* scanned = pass.set >= 0 ? find_scanned(info) : nullptr;
  if (scanned && (scanned->done_sets & (uint32_t{1} << pass.set))) return pass.only ? 1 : 0;

  pass.object_settled = true;
  ++pass.statistics.objects_scanned;
  if (object.read_dynamic()) {
    patch_table(object, object.rela(), object.rela_count(), pass);
    patch_table(object, object.jmprel(), object.jmprel_count(), pass);
  }
  if (!pass.object_settled || pass.set < 0 || !remember_scanned(info, pass.set)) pass.all_settled = false;
  return pass.only ? 1 : 0;
}

int run_pass(Hook* hooks, std::size_t count, uintptr_t self, uintptr_t only) {
  if (!hooks || count == 0) return 0;
  resolve_originals(hooks, count);

  SpinLockGuard guard(g_lock);
  Pass pass(hooks, count, self, only, hook_set_index(hooks, count));
  if (pass.set >= 0) {
    const uint64_t signature = signature_of(hooks, count);
    if (g_sets[pass.set].signature != signature) {
      forget_set(pass.set);
      g_sets[pass.set].signature = signature;
    }
  }
  dl_iterate_phdr(visit_object, &pass);
  if (!pass.only && pass.set >= 0 && !pass.stopped_early) {
    HookSetState& state = g_sets[pass.set];
    state.adds = pass.adds;
    state.subs = pass.subs;
    state.settled = pass.all_settled;
  }
  g_last_statistics = pass.statistics;
  return pass.statistics.slots_patched;
}

}  // namespace

int patch_loaded_objects(Hook* hooks, std::size_t count, const void* self) {
  return run_pass(hooks, count, reinterpret_cast<uintptr_t>(self), 0);
}

int patch_object_containing(const void* address, Hook* hooks, std::size_t count) {
  if (!address) return 0;
  return run_pass(hooks, count, 0, reinterpret_cast<uintptr_t>(address));
}

PassStatistics last_pass_statistics() {
  SpinLockGuard guard(g_lock);
  return g_last_statistics;
}

void reset_after_fork() { g_lock.reset_after_fork(); }

#else  // not x86_64: the relocation types above are x86_64's; patch nothing elsewhere.

int patch_loaded_objects(Hook*, std::size_t, const void*) { return 0; }
int patch_object_containing(const void*, Hook*, std::size_t) { return 0; }
PassStatistics last_pass_statistics() { return {}; }
void reset_after_fork() {}

#endif

}  // namespace gilwatch::got
