// got_patcher: redirects calls that other loaded objects make to a named function by
// rewriting their relocation slots (GOT entries) — the only interception that sees an
// extension module's calls into an interpreter whose libpython is linked into the
// executable. See docs/interception.md.
//
// Contract
// - A slot is rewritten when its relocation is R_X86_64_JUMP_SLOT (PLT), R_X86_64_GLOB_DAT
//   (-fno-plt / BIND_NOW imports) or R_X86_64_64 with addend 0 (function pointers in
//   data), from DT_JMPREL or DT_RELA, and names an undefined symbol that is hooked.
// - Never patched: the vDSO, the dynamic loader, the object containing `self` (our own
//   library), and, per hook, the object that defines the hook's original (its internal
//   calls are not calls from other objects).
// - Page protections are restored: pages the loader made read-only (PT_GNU_RELRO) go back
//   to read-only; writable pages are written in place.
// - Idempotent and cheap to repeat: objects already scanned for the current set of
//   resolved hooks are skipped; a slot already holding the replacement is left alone.
// - Serialized internally (a spin lock, not a pthread mutex); never calls malloc.
#pragma once

#include <cstddef>

namespace gilwatch::got {

struct Hook {
  const char* symbol;  // e.g. "PyGILState_Ensure"
  void* replacement;   // the wrapper
  void* original;      // the real function: resolved with dlsym(RTLD_DEFAULT) when null;
                       // while it stays null (interpreter not loaded) the hook is skipped
};

// Patches every loaded object (see the contract). Returns the number of slots rewritten.
int patch_loaded_objects(Hook* hooks, std::size_t count, const void* self);

// Patches only the object whose loaded segments contain `address`.
int patch_object_containing(const void* address, Hook* hooks, std::size_t count);

}  // namespace gilwatch::got
