// Test-side views of loaded objects, written independently of the patcher so that the
// tests check it against a second reading: the relocation slots that name a symbol,
// page protections from /proc/self/maps, and the bytes of an object's writable data.
#pragma once

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace got_test {

inline std::string fixture_path(const char* library) { return std::string(GOT_FIXTURE_DIR) + "/" + library; }

inline uintptr_t page_of(const void* address) {
  return reinterpret_cast<uintptr_t>(address) & ~(static_cast<uintptr_t>(sysconf(_SC_PAGESIZE)) - 1);
}

struct Slot {
  unsigned type;  // R_X86_64_*
  void** address;
};

inline const char* relocation_name(unsigned type) {
  switch (type) {
    case R_X86_64_JUMP_SLOT: return "JUMP_SLOT";
    case R_X86_64_GLOB_DAT: return "GLOB_DAT";
    case R_X86_64_64: return "R_X86_64_64";
    default: return "other";
  }
}

// Every DT_RELA / DT_JMPREL relocation of the object behind `handle` whose symbol is
// `symbol`, defined there or not.
inline std::vector<Slot> slots_naming(void* handle, const char* symbol) {
  link_map* map = nullptr;
  std::vector<Slot> slots;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map) return slots;
  const uintptr_t bias = map->l_addr;
  auto absolute = [bias](uintptr_t v) { return v < bias ? v + bias : v; };
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  const ElfW(Rela)* tables[2] = {nullptr, nullptr};
  std::size_t sizes[2] = {0, 0};
  for (const ElfW(Dyn)* d = map->l_ld; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_SYMTAB) symtab = reinterpret_cast<const ElfW(Sym)*>(absolute(d->d_un.d_ptr));
    if (d->d_tag == DT_STRTAB) strtab = reinterpret_cast<const char*>(absolute(d->d_un.d_ptr));
    if (d->d_tag == DT_RELA) tables[0] = reinterpret_cast<const ElfW(Rela)*>(absolute(d->d_un.d_ptr));
    if (d->d_tag == DT_RELASZ) sizes[0] = d->d_un.d_val;
    if (d->d_tag == DT_JMPREL) tables[1] = reinterpret_cast<const ElfW(Rela)*>(absolute(d->d_un.d_ptr));
    if (d->d_tag == DT_PLTRELSZ) sizes[1] = d->d_un.d_val;
  }
  for (int t = 0; t < 2; ++t) {
    if (!tables[t]) continue;
    for (std::size_t i = 0; i < sizes[t] / sizeof(ElfW(Rela)); ++i) {
      const ElfW(Rela)& r = tables[t][i];
      const std::size_t index = ELF64_R_SYM(r.r_info);
      if (index == 0 || std::strcmp(strtab + symtab[index].st_name, symbol) != 0) continue;
      slots.push_back({static_cast<unsigned>(ELF64_R_TYPE(r.r_info)), reinterpret_cast<void**>(bias + r.r_offset)});
    }
  }
  return slots;
}

inline uintptr_t load_bias(void* handle) {
  link_map* map = nullptr;
  return dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map ? map->l_addr : 0;
}

// Page -> "rwxp" for every page mapped from a file whose path contains `fragment`.
using PageProtections = std::map<uintptr_t, std::string>;

inline PageProtections page_protections(const std::string& fragment) {
  PageProtections pages;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find(fragment) == std::string::npos) continue;
    std::istringstream fields(line);
    std::string range, perms;
    fields >> range >> perms;
    const uintptr_t begin = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    const uintptr_t end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    for (uintptr_t p = begin; p < end; p += page) pages[p] = perms;
  }
  return pages;
}

inline std::string protection_of(const void* address) {
  const uintptr_t target = reinterpret_cast<uintptr_t>(address);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms;
    fields >> range >> perms;
    const uintptr_t begin = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    const uintptr_t end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    if (target >= begin && target < end) return perms;
  }
  return "unmapped";
}

// The bytes of every writable PT_LOAD segment (GOT, data, RELRO data) of the object
// whose name contains `fragment`.
inline std::vector<unsigned char> writable_bytes(const char* fragment) {
  struct Search {
    const char* fragment;
    std::vector<unsigned char> bytes;
  } search{fragment, {}};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* arg) {
        auto& s = *static_cast<Search*>(arg);
        if (!info->dlpi_name || !std::strstr(info->dlpi_name, s.fragment)) return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W)) continue;
          auto* begin = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
          s.bytes.insert(s.bytes.end(), begin, begin + ph.p_memsz);
        }
        return 1;
      },
      &search);
  return search.bytes;
}

// True when `address` lies inside the object behind `handle` (an unresolved lazy PLT slot
// points back into its own object).
inline bool points_into(void* handle, const void* address) {
  Dl_info info{};
  link_map* map = nullptr;
  if (!dladdr1(address, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) || !map) return false;
  link_map* owner = nullptr;
  dlinfo(handle, RTLD_DI_LINKMAP, &owner);
  return map == owner;
}

}  // namespace got_test
