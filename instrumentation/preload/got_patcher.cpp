#include "got_patcher.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "spin_lock.h"

namespace gilwatch::got {

namespace {

SpinLock g_lock;

// Objects already scanned, keyed by identity, for a given "resolved hooks" signature.
struct ScannedObject {
  uintptr_t load_bias;
  const void* phdr;
  const char* name;
  uint64_t hooks_signature;
};
constexpr std::size_t kMaxScanned = 4096;
ScannedObject g_scanned[kMaxScanned];
std::size_t g_scanned_count = 0;

struct Pass {
  Hook* hooks;
  std::size_t count;
  uintptr_t self;            // skip the object containing this address (0: none)
  uintptr_t only;            // patch only the object containing this address (0: all)
  uint64_t hooks_signature;  // which hooks are resolved; a change forces a re-scan
  bool use_cache;
  int patched;
};

bool contains(const dl_phdr_info* info, uintptr_t address) {
  if (!address) return false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (address >= begin && address < begin + ph.p_memsz) return true;
  }
  return false;
}

bool is_loader_or_vdso(const dl_phdr_info* info) {
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  if (std::strncmp(name, "linux-vdso", 10) == 0 || std::strncmp(name, "linux-gate", 10) == 0) return true;
  if (std::strstr(name, "/ld-linux") || std::strncmp(name, "ld-linux", 8) == 0) return true;
  // The vDSO sometimes has an empty name; it is the object holding the AT_SYSINFO_EHDR.
  return false;
}

struct Dynamic {
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  const ElfW(Rela)* rela = nullptr;
  std::size_t rela_size = 0;
  const ElfW(Rela)* jmprel = nullptr;
  std::size_t jmprel_size = 0;
  bool plt_is_rela = true;
};

// Dynamic-section pointers are relocated in place by glibc for most objects, but not for
// all (the vDSO, some loaders): treat a value below the load bias as unrelocated.
uintptr_t absolute(uintptr_t value, uintptr_t bias) { return value < bias ? value + bias : value; }

bool read_dynamic(const dl_phdr_info* info, Dynamic* d) {
  const ElfW(Dyn)* dyn = nullptr;
  for (int i = 0; i < info->dlpi_phnum; ++i)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
      dyn = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  if (!dyn) return false;
  uintptr_t bias = info->dlpi_addr;
  for (; dyn->d_tag != DT_NULL; ++dyn) {
    switch (dyn->d_tag) {
      case DT_SYMTAB: d->symtab = reinterpret_cast<const ElfW(Sym)*>(absolute(dyn->d_un.d_ptr, bias)); break;
      case DT_STRTAB: d->strtab = reinterpret_cast<const char*>(absolute(dyn->d_un.d_ptr, bias)); break;
      case DT_RELA: d->rela = reinterpret_cast<const ElfW(Rela)*>(absolute(dyn->d_un.d_ptr, bias)); break;
      case DT_RELASZ: d->rela_size = dyn->d_un.d_val; break;
      case DT_JMPREL: d->jmprel = reinterpret_cast<const ElfW(Rela)*>(absolute(dyn->d_un.d_ptr, bias)); break;
      case DT_PLTRELSZ: d->jmprel_size = dyn->d_un.d_val; break;
      case DT_PLTREL: d->plt_is_rela = dyn->d_un.d_val == DT_RELA; break;
      default: break;
    }
  }
  return d->symtab && d->strtab;
}

// Writes `value` into `slot`, restoring the page's protection as the loader left it.
bool write_slot(const dl_phdr_info* info, void** slot, void* value) {
  uintptr_t address = reinterpret_cast<uintptr_t>(slot);
  uintptr_t page_size = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t page = address & ~(page_size - 1);

  // The loader makes [start, end) read-only, both rounded down to pages.
  bool in_relro = false;
  int load_flags = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_GNU_RELRO) {
      uintptr_t start = begin & ~(page_size - 1);
      uintptr_t end = (begin + ph.p_memsz) & ~(page_size - 1);
      if (page >= start && page < end) in_relro = true;
    } else if (ph.p_type == PT_LOAD && address >= begin && address < begin + ph.p_memsz) {
      load_flags = static_cast<int>(ph.p_flags);
    }
  }
  bool writable = (load_flags & PF_W) && !in_relro;
  if (writable) {
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    return true;
  }
  int restore = (load_flags & PF_R ? PROT_READ : 0) | (load_flags & PF_X ? PROT_EXEC : 0);
  if (in_relro) restore = PROT_READ;
  if (mprotect(reinterpret_cast<void*>(page), page_size, PROT_READ | PROT_WRITE) != 0) return false;
  __atomic_store_n(slot, value, __ATOMIC_RELEASE);
  mprotect(reinterpret_cast<void*>(page), page_size, restore);
  return true;
}

int patch_table(const dl_phdr_info* info, const Dynamic& d, const ElfW(Rela)* table, std::size_t bytes,
                Pass& pass) {
  int patched = 0;
  if (!table) return 0;
  std::size_t n = bytes / sizeof(ElfW(Rela));
  for (std::size_t i = 0; i < n; ++i) {
    const ElfW(Rela)& r = table[i];
    unsigned type = ELF64_R_TYPE(r.r_info);
    if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT &&
        !(type == R_X86_64_64 && r.r_addend == 0))
      continue;
    std::size_t symbol_index = ELF64_R_SYM(r.r_info);
    if (symbol_index == 0) continue;
    const ElfW(Sym)& sym = d.symtab[symbol_index];
    if (sym.st_shndx != SHN_UNDEF || sym.st_name == 0) continue;
    const char* name = d.strtab + sym.st_name;
    for (std::size_t h = 0; h < pass.count; ++h) {
      Hook& hook = pass.hooks[h];
      if (!hook.original || std::strcmp(name, hook.symbol) != 0) continue;
      // The object defining the original calls it internally: not an import to redirect.
      if (!pass.only && contains(info, reinterpret_cast<uintptr_t>(hook.original))) break;
      void** slot = reinterpret_cast<void**>(info->dlpi_addr + r.r_offset);
      if (*slot == hook.replacement) break;
      if (write_slot(info, slot, hook.replacement)) ++patched;
      break;
    }
  }
  return patched;
}

bool already_scanned(const dl_phdr_info* info, uint64_t signature) {
  for (std::size_t i = 0; i < g_scanned_count; ++i) {
    const ScannedObject& s = g_scanned[i];
    if (s.load_bias == info->dlpi_addr && s.phdr == info->dlpi_phdr && s.name == info->dlpi_name)
      return s.hooks_signature == signature;
  }
  return false;
}

void remember_scanned(const dl_phdr_info* info, uint64_t signature) {
  for (std::size_t i = 0; i < g_scanned_count; ++i) {
    ScannedObject& s = g_scanned[i];
    if (s.load_bias == info->dlpi_addr && s.phdr == info->dlpi_phdr && s.name == info->dlpi_name) {
      s.hooks_signature = signature;
      return;
    }
  }
  if (g_scanned_count < kMaxScanned)
    g_scanned[g_scanned_count++] = {info->dlpi_addr, info->dlpi_phdr, info->dlpi_name, signature};
}

int visit(struct dl_phdr_info* info, size_t, void* arg) {
  Pass& pass = *static_cast<Pass*>(arg);
  if (pass.only) {
    if (!contains(info, pass.only)) return 0;
  } else {
    if (is_loader_or_vdso(info) || contains(info, pass.self)) return 0;
    if (pass.use_cache && already_scanned(info, pass.hooks_signature)) return 0;
  }
  Dynamic d;
  if (read_dynamic(info, &d)) {
    pass.patched += patch_table(info, d, d.rela, d.rela_size, pass);
    if (d.plt_is_rela) pass.patched += patch_table(info, d, d.jmprel, d.jmprel_size, pass);
  }
  if (!pass.only && pass.use_cache) remember_scanned(info, pass.hooks_signature);
  return pass.only ? 1 : 0;
}

uint64_t resolve_originals(Hook* hooks, std::size_t count) {
  uint64_t signature = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (!hooks[i].original) hooks[i].original = dlsym(RTLD_DEFAULT, hooks[i].symbol);
    signature = signature * 1099511628211ULL ^ reinterpret_cast<uintptr_t>(hooks[i].original);
  }
  return signature;
}

}  // namespace

int patch_loaded_objects(Hook* hooks, std::size_t count, const void* self) {
  SpinLockGuard guard(g_lock);
  Pass pass{hooks, count, reinterpret_cast<uintptr_t>(self), 0, 0, true, 0};
  pass.hooks_signature = resolve_originals(hooks, count) ^ reinterpret_cast<uintptr_t>(hooks);
  dl_iterate_phdr(visit, &pass);
  return pass.patched;
}

int patch_object_containing(const void* address, Hook* hooks, std::size_t count) {
  if (!address) return 0;
  SpinLockGuard guard(g_lock);
  Pass pass{hooks, count, 0, reinterpret_cast<uintptr_t>(address), 0, false, 0};
  resolve_originals(hooks, count);
  dl_iterate_phdr(visit, &pass);
  return pass.patched;
}

}  // namespace gilwatch::got
