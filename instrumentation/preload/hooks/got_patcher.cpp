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

#include "spin_lock.h"

namespace gilwatch::got {

#if defined(__x86_64__)

namespace {

// ---------------------------------------------------------------------------------------
// Direct system calls.

// Up to three arguments is all this file needs (openat's fourth, the mode, is unused
// without O_CREAT).
long raw_syscall(long number, long a1, long a2, long a3) {
  long result;
  asm volatile("syscall" : "=a"(result) : "a"(number), "D"(a1), "S"(a2), "d"(a3) : "rcx", "r11", "memory");
  return result;
}

int sys_mprotect(uintptr_t page, std::size_t length, int protection) {
  return static_cast<int>(raw_syscall(SYS_mprotect, static_cast<long>(page), static_cast<long>(length), protection));
}

int sys_open_readonly(const char* path) {
  return static_cast<int>(
      raw_syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC));
}

long sys_read(int fd, char* buffer, std::size_t length) {
  return raw_syscall(SYS_read, fd, reinterpret_cast<long>(buffer), static_cast<long>(length));
}

void sys_close(int fd) { raw_syscall(SYS_close, fd, 0, 0); }

uintptr_t page_size() {
  static uintptr_t size = 0;
  if (!size) {
    unsigned long from_aux = getauxval(AT_PAGESZ);
    size = from_aux ? from_aux : 4096;
  }
  return size;
}

// ---------------------------------------------------------------------------------------
// The current protection of a page, from /proc/self/maps. Read as a stream through a
// fixed buffer; only the head of each line ("start-end perms ...") matters.

bool parse_hex(const char*& p, const char* end, uintptr_t* value) {
  uintptr_t v = 0;
  const char* start = p;
  for (; p < end; ++p) {
    char c = *p;
    unsigned digit;
    if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
    else break;
    v = v << 4 | digit;
  }
  *value = v;
  return p != start;
}

// Returns true when the search is over: the line maps `address` (`*protection` set), or
// starts beyond it (maps is sorted; `*protection` stays -1).
bool match_maps_line(const char* p, const char* end, uintptr_t address, int* protection) {
  uintptr_t begin = 0, limit = 0;
  if (!parse_hex(p, end, &begin) || p >= end || *p++ != '-') return false;
  if (!parse_hex(p, end, &limit) || p >= end || *p++ != ' ') return false;
  if (end - p < 3) return false;
  if (address < begin) return true;
  if (address >= limit) return false;
  *protection = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) | (p[2] == 'x' ? PROT_EXEC : 0);
  return true;
}

// PROT_* of the mapping that contains `address`, or -1 if /proc is not readable.
int mapped_protection(uintptr_t address) {
  int fd = sys_open_readonly("/proc/self/maps");
  if (fd < 0) return -1;
  char buffer[4096];
  std::size_t have = 0;
  bool in_long_line = false;  // the head of the current line was already examined
  int protection = -1;
  bool done = false;
  while (!done) {
    long n = sys_read(fd, buffer + have, sizeof buffer - have);
    if (n <= 0) {
      if (have && !in_long_line) match_maps_line(buffer, buffer + have, address, &protection);
      break;
    }
    have += static_cast<std::size_t>(n);
    std::size_t pos = 0;
    while (!done) {
      const char* newline = static_cast<const char*>(std::memchr(buffer + pos, '\n', have - pos));
      if (!newline) break;
      if (!in_long_line) done = match_maps_line(buffer + pos, newline, address, &protection);
      in_long_line = false;
      pos = static_cast<std::size_t>(newline - buffer) + 1;
    }
    std::memmove(buffer, buffer + pos, have - pos);
    have -= pos;
    if (!done && have == sizeof buffer) {  // a line longer than the buffer (a long path)
      if (!in_long_line) done = match_maps_line(buffer, buffer + have, address, &protection);
      in_long_line = true;
      have = 0;
    }
  }
  sys_close(fd);
  return protection;
}

// ---------------------------------------------------------------------------------------
// One loaded object, as dl_iterate_phdr describes it.

// The vDSO and the dynamic loader, recognized by the addresses the kernel passed in the
// auxiliary vector (names vary across distributions); the name is the fallback for a
// loader started as a program (`ld.so ./prog`, where AT_BASE is 0).
struct SpecialObjects {
  uintptr_t vdso_header = getauxval(AT_SYSINFO_EHDR);
  uintptr_t loader_base = getauxval(AT_BASE);
};

const SpecialObjects& special_objects() {
  static const SpecialObjects objects;
  return objects;
}

bool name_looks_like_loader(const char* name) {
  if (!name || !*name) return false;
  const char* base = name;
  for (const char* p = name; *p; ++p)
    if (*p == '/') base = p + 1;
  return std::strncmp(base, "ld-linux", 8) == 0 || std::strncmp(base, "ld64.so", 7) == 0 ||
         std::strncmp(base, "ld-musl", 7) == 0 || std::strncmp(base, "ld.so", 5) == 0;
}

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

bool LoadedObject::read_dynamic() {
  const ElfW(Dyn)* dyn = nullptr;
  for (int i = 0; i < info_->dlpi_phnum; ++i)
    if (info_->dlpi_phdr[i].p_type == PT_DYNAMIC)
      dyn = reinterpret_cast<const ElfW(Dyn)*>(bias_ + info_->dlpi_phdr[i].p_vaddr);
  if (!dyn) return false;
  std::size_t rela_bytes = 0, jmprel_bytes = 0;
  bool plt_is_rela = true;
  for (; dyn->d_tag != DT_NULL; ++dyn) {
    uintptr_t ptr = dyn->d_un.d_ptr;
    switch (dyn->d_tag) {
      case DT_SYMTAB: symtab_ = reinterpret_cast<const ElfW(Sym)*>(absolute(ptr)); break;
      case DT_STRTAB: strtab_ = reinterpret_cast<const char*>(absolute(ptr)); break;
      case DT_STRSZ: strtab_size_ = dyn->d_un.d_val; break;
      case DT_RELA: rela_ = reinterpret_cast<const ElfW(Rela)*>(absolute(ptr)); break;
      case DT_RELASZ: rela_bytes = dyn->d_un.d_val; break;
      case DT_JMPREL: jmprel_ = reinterpret_cast<const ElfW(Rela)*>(absolute(ptr)); break;
      case DT_PLTRELSZ: jmprel_bytes = dyn->d_un.d_val; break;
      case DT_PLTREL: plt_is_rela = dyn->d_un.d_val == DT_RELA; break;
      case DT_GNU_HASH: gnu_hash_ = reinterpret_cast<const uint32_t*>(absolute(ptr)); break;
      case DT_HASH: sysv_hash_ = reinterpret_cast<const uint32_t*>(absolute(ptr)); break;
      case DT_VERSYM: versym_ = reinterpret_cast<const ElfW(Half)*>(absolute(ptr)); break;
      default: break;
    }
  }
  if (!symtab_ || !strtab_) return false;
  rela_count_ = rela_ ? rela_bytes / sizeof(ElfW(Rela)) : 0;
  // x86_64 uses RELA throughout; a PLT table of another format is not ours to read.
  jmprel_count_ = jmprel_ && plt_is_rela ? jmprel_bytes / sizeof(ElfW(Rela)) : 0;
  return true;
}

uint32_t gnu_hash(const char* name) {
  uint32_t h = 5381;
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(name); *p; ++p) h = h * 33 + *p;
  return h;
}

uint32_t sysv_hash(const char* name) {
  uint32_t h = 0;
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(name); *p; ++p) {
    h = (h << 4) + *p;
    uint32_t high = h & 0xf0000000;
    if (high) h ^= high >> 24;
    h &= ~high;
  }
  return h;
}

// DT_GNU_HASH: {nbuckets, symoffset, bloom_words, bloom_shift}, bloom[bloom_words] (one
// address-sized word each), buckets[nbuckets], chain[] (hash values, low bit = end of
// chain). Symbols below symoffset are not hashed.
const ElfW(Sym)* LoadedObject::find_in_gnu_hash(const char* name) const {
  const uint32_t nbuckets = gnu_hash_[0], symoffset = gnu_hash_[1];
  const uint32_t bloom_words = gnu_hash_[2], bloom_shift = gnu_hash_[3];
  if (nbuckets == 0 || bloom_words == 0) return nullptr;
  const ElfW(Addr)* bloom = reinterpret_cast<const ElfW(Addr)*>(gnu_hash_ + 4);
  const uint32_t* buckets = reinterpret_cast<const uint32_t*>(bloom + bloom_words);
  const uint32_t* chain = buckets + nbuckets;
  constexpr unsigned kBits = sizeof(ElfW(Addr)) * 8;

  const uint32_t h = gnu_hash(name);
  const ElfW(Addr) word = bloom[(h / kBits) % bloom_words];
  const ElfW(Addr) mask = (ElfW(Addr){1} << (h % kBits)) | (ElfW(Addr){1} << ((h >> bloom_shift) % kBits));
  if ((word & mask) != mask) return nullptr;
  uint32_t index = buckets[h % nbuckets];
  if (index < symoffset) return nullptr;
  for (;; ++index) {
    const uint32_t entry = chain[index - symoffset];
    if ((entry | 1) == (h | 1) && name_matches(index, name)) return &symtab_[index];
    if (entry & 1) return nullptr;
  }
}

// DT_HASH: {nbucket, nchain}, bucket[nbucket], chain[nchain].
const ElfW(Sym)* LoadedObject::find_in_sysv_hash(const char* name) const {
  const uint32_t nbucket = sysv_hash_[0], nchain = sysv_hash_[1];
  if (nbucket == 0) return nullptr;
  const uint32_t* bucket = sysv_hash_ + 2;
  const uint32_t* chain = bucket + nbucket;
  for (uint32_t index = bucket[sysv_hash(name) % nbucket]; index != STN_UNDEF && index < nchain;
       index = chain[index])
    if (name_matches(index, name)) return &symtab_[index];
  return nullptr;
}

const ElfW(Sym)* LoadedObject::find_symbol(const char* name) const {
  if (gnu_hash_) return find_in_gnu_hash(name);
  if (sysv_hash_) return find_in_sysv_hash(name);
  return nullptr;
}

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
