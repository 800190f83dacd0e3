// got_patcher: redirects the calls other loaded objects make to a named function by
// rewriting their relocation slots (GOT entries and function pointers in data). It is
// the only interception that sees an extension module's calls into an interpreter whose
// libpython is linked into the executable: there the executable's own definitions come
// first in symbol lookup, so an LD_PRELOAD definition is never bound. Mechanism, what it
// sees and what it misses: docs/interception.md.
//
// Contract
// - Originals. A hook whose `original` is null is resolved with dlsym(RTLD_DEFAULT) —
//   but only once some loaded object defines the name, so an unresolvable name (the
//   interpreter is not loaded yet) costs no failing dlsym and no allocation. While it
//   stays null the hook is skipped; a later pass (after the next dlopen) retries.
// - Which slots. In every object dl_iterate_phdr reports (the caller's link-map
//   namespace), relocations from DT_RELA and DT_JMPREL of type R_X86_64_JUMP_SLOT (PLT),
//   R_X86_64_GLOB_DAT (-fno-plt / BIND_NOW imports) or R_X86_64_64 with addend 0
//   (function pointers in data), against an undefined symbol whose name is hooked.
// - Only slots bound to the hooked function are rewritten: the slot must hold the
//   original (or, for a non-PIE executable's canonical PLT address, the definition
//   itself), or, for a lazy PLT slot not yet resolved, point into its own object. A slot
//   bound elsewhere (RTLD_DEEPBIND, a private copy of the library, another tool's hook)
//   or not yet relocated by a dlopen in progress on another thread is left alone.
// - Never patched: the vDSO, the dynamic loader, the object containing `self` (the
//   caller's own library), and, per hook, the object that defines the hook's function
//   (its internal calls are not calls from other objects).
// - Page protections: a slot in a writable page outside PT_GNU_RELRO is written in
//   place. Any other page is made writable for the store and then given back exactly
//   the protection it had (read from /proc/self/maps; if that is unreadable, what the
//   loader gives it: read-only inside PT_GNU_RELRO, the PT_LOAD flags elsewhere).
// - Cheap to repeat: an object is rescanned for a hook set only when new originals were
//   resolved, or when some object was unloaded since (a new object may then occupy the
//   old one's addresses). If nothing was loaded or unloaded, a pass returns at once.
//   Exception: an object in which a not-yet-bound lazy PLT slot was patched is looked at
//   once more, in case the loader's lazy resolver, running on another thread for that
//   very slot, stored the original over the replacement.
//   Slots already holding the replacement are left alone, so passes are idempotent.
// - Serialized internally by a spin lock (never a pthread mutex: the preload wraps
//   those). No malloc, no stdio; system calls are issued directly so that no interposed
//   libc wrapper runs. dlsym is called outside the lock (it takes the loader's lock, and
//   a thread inside dlopen may be waiting for ours).
// - x86_64 only; elsewhere every call patches nothing.
#pragma once

#include <cstddef>

namespace gilwatch::got {

struct Hook {
  const char* symbol;  // e.g. "PyGILState_Ensure"
  void* replacement;   // the wrapper; it calls through `original`
  void* original;      // the real function: resolved with dlsym(RTLD_DEFAULT) while null
  // Filled by the patcher: the address at which the defining object itself defines
  // `symbol`. It differs from `original` only when a non-PIE executable takes the
  // function's address: dlsym then answers with the executable's canonical PLT stub,
  // while lazily bound PLT slots in other objects hold the definition.
  void* definition = nullptr;
};

// Patches every loaded object (see the contract). Returns the number of slots newly
// rewritten by this call. `hooks` must stay at the same address between calls: the
// per-object cache is kept per hook array.
int patch_loaded_objects(Hook* hooks, std::size_t count, const void* self);

// Patches only the object whose loaded segments contain `address` (e.g. the interpreter,
// to redirect its own dlopen); the same rules apply, with no `self` to exclude.
int patch_object_containing(const void* address, Hook* hooks, std::size_t count);

// What the most recent pass (of either kind) did: for self-diagnostics and tests.
struct PassStatistics {
  int objects_seen = 0;           // reported by dl_iterate_phdr; 0 when nothing had changed
  int objects_scanned = 0;        // relocation tables read (the rest were cached or skipped)
  int slots_patched = 0;          // the return value
  int slots_bound_elsewhere = 0;  // hooked names bound to another definition: left alone
  int slots_unwritable = 0;       // mprotect refused; retried by the next pass
};
PassStatistics last_pass_statistics();

// For the fork child: another thread of the parent may have held the patcher's lock.
void reset_after_fork();

}  // namespace gilwatch::got
