// got_elf: what the GOT patcher reads about the process — direct system calls (no libc
// wrapper another tool might interpose), a page's current protection from
// /proc/self/maps, and one loaded object as dl_iterate_phdr describes it (segments,
// RELRO, dynamic section, symbol lookup by GNU or SysV hash). It reads; it changes no
// memory and decides nothing about which slots to patch (got_patcher.cpp does).
// Internal to the patcher; the contract is got_patcher.h. Same rules as the patcher: no
// malloc, no stdio, no exceptions, no pthread locks.
#pragma once

#include <elf.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace gilwatch::got::elf {

#if defined(__x86_64__)

int sys_mprotect(uintptr_t page, std::size_t length, int protection);
uintptr_t page_size();
// PROT_* of the mapping that contains `address`, or -1 if /proc is not readable.
int mapped_protection(uintptr_t address);

// The vDSO and the dynamic loader, recognized by the addresses the kernel passed in the
// auxiliary vector (names vary across distributions); the name is the fallback for a
// loader started as a program (`ld.so ./prog`, where AT_BASE is 0).
struct SpecialObjects {
  uintptr_t vdso_header = getauxval(AT_SYSINFO_EHDR);
  uintptr_t loader_base = getauxval(AT_BASE);
};

const SpecialObjects& special_objects();
bool name_looks_like_loader(const char* name);

class LoadedObject {
 public:
  explicit LoadedObject(const dl_phdr_info* info) : info_(info), bias_(info->dlpi_addr) {}

  uintptr_t bias() const { return bias_; }

  bool contains(uintptr_t address) const {
    if (!address) return false;
    for (int i = 0; i < info_->dlpi_phnum; ++i) {
      const ElfW(Phdr)& ph = info_->dlpi_phdr[i];
      if (ph.p_type != PT_LOAD) continue;
      uintptr_t begin = bias_ + ph.p_vaddr;
      if (address >= begin && address - begin < ph.p_memsz) return true;
    }
    return false;
  }
  bool contains(const void* address) const { return contains(reinterpret_cast<uintptr_t>(address)); }

  bool is_vdso_or_loader() const {
    const SpecialObjects& special = special_objects();
    if (contains(special.vdso_header) || contains(special.loader_base)) return true;
    return special.loader_base == 0 && name_looks_like_loader(info_->dlpi_name);
  }

  // The end of the highest segment as linked: any link-time address in the object is
  // below it, and no real address is (nothing is mapped that low).
  uintptr_t link_time_extent() const {
    uintptr_t extent = 0;
    for (int i = 0; i < info_->dlpi_phnum; ++i) {
      const ElfW(Phdr)& ph = info_->dlpi_phdr[i];
      if (ph.p_type == PT_LOAD && ph.p_vaddr + ph.p_memsz > extent) extent = ph.p_vaddr + ph.p_memsz;
    }
    return extent;
  }

  // PF_* flags of the PT_LOAD segment holding `address`, 0 if none.
  unsigned segment_flags(uintptr_t address) const {
    for (int i = 0; i < info_->dlpi_phnum; ++i) {
      const ElfW(Phdr)& ph = info_->dlpi_phdr[i];
      if (ph.p_type != PT_LOAD) continue;
      uintptr_t begin = bias_ + ph.p_vaddr;
      if (address >= begin && address - begin < ph.p_memsz) return ph.p_flags;
    }
    return 0;
  }

  // The loader write-protects PT_GNU_RELRO after relocating, from the page holding its
  // start to the page boundary at or below its end (a partial last page stays writable).
  bool page_in_relro(uintptr_t page) const {
    for (int i = 0; i < info_->dlpi_phnum; ++i) {
      const ElfW(Phdr)& ph = info_->dlpi_phdr[i];
      if (ph.p_type != PT_GNU_RELRO) continue;
      uintptr_t start = (bias_ + ph.p_vaddr) & ~(page_size() - 1);
      uintptr_t end = (bias_ + ph.p_vaddr + ph.p_memsz) & ~(page_size() - 1);
      if (page >= start && page < end) return true;
    }
    return false;
  }

  // What the loader leaves a page as; the fallback when /proc/self/maps is unreadable.
  int loader_protection(uintptr_t page) const {
    if (page_in_relro(page)) return PROT_READ;
    unsigned flags = segment_flags(page);
    return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
  }

  // Reads the dynamic section. False for objects without one (nothing to patch).
  bool read_dynamic();

  // The dynamic symbol `name` that the loader would match for an unversioned lookup
  // (hidden non-default versions are skipped), defined or not; null if absent.
  const ElfW(Sym)* find_symbol(const char* name) const;

  const char* symbol_name(const ElfW(Sym)& sym) const {
    if (sym.st_name == 0 || (strtab_size_ && sym.st_name >= strtab_size_)) return nullptr;
    return strtab_ + sym.st_name;
  }

  const ElfW(Sym)* symtab() const { return symtab_; }
  const ElfW(Rela)* rela() const { return rela_; }
  std::size_t rela_count() const { return rela_count_; }
  const ElfW(Rela)* jmprel() const { return jmprel_; }
  std::size_t jmprel_count() const { return jmprel_count_; }

 private:
  // glibc rewrites the address-valued entries of most objects' dynamic sections in place
  // at load time; some it leaves as link-time values (the vDSO, read-only dynamic
  // sections, other loaders). A link-time value is an offset within the object, far
  // below any non-zero load bias, so a value below the bias is one not yet relocated.
  uintptr_t absolute(uintptr_t value) const { return value < bias_ ? value + bias_ : value; }

  bool visible_version(std::size_t index) const {
    if (!versym_) return true;
    ElfW(Half) v = versym_[index];
    return (v & 0x8000) == 0 && (v & 0x7fff) != VER_NDX_LOCAL;
  }
  bool name_matches(std::size_t index, const char* name) const {
    const char* candidate = symbol_name(symtab_[index]);
    return candidate && std::strcmp(candidate, name) == 0 && visible_version(index);
  }
  const ElfW(Sym)* find_in_gnu_hash(const char* name) const;
  const ElfW(Sym)* find_in_sysv_hash(const char* name) const;

  const dl_phdr_info* info_;
  uintptr_t bias_;
  const ElfW(Sym)* symtab_ = nullptr;
  const char* strtab_ = nullptr;
  std::size_t strtab_size_ = 0;
  const ElfW(Rela)* rela_ = nullptr;
  std::size_t rela_count_ = 0;
  const ElfW(Rela)* jmprel_ = nullptr;
  std::size_t jmprel_count_ = 0;
  const uint32_t* gnu_hash_ = nullptr;
  const uint32_t* sysv_hash_ = nullptr;
  const ElfW(Half)* versym_ = nullptr;
};

#endif  // __x86_64__

}  // namespace gilwatch::got::elf
