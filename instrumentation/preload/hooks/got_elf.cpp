// got_elf: see got_elf.h. Direct system calls, /proc/self/maps, and the out-of-line
// parts of LoadedObject (the dynamic section, the symbol hash tables).
#include "got_elf.h"

#include <fcntl.h>
#include <sys/syscall.h>

namespace gilwatch::got::elf {

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

}  // namespace

int sys_mprotect(uintptr_t page, std::size_t length, int protection) {
  return static_cast<int>(raw_syscall(SYS_mprotect, static_cast<long>(page), static_cast<long>(length), protection));
}

namespace {

int sys_open_readonly(const char* path) {
  return static_cast<int>(
      raw_syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC));
}

long sys_read(int fd, char* buffer, std::size_t length) {
  return raw_syscall(SYS_read, fd, reinterpret_cast<long>(buffer), static_cast<long>(length));
}

void sys_close(int fd) { raw_syscall(SYS_close, fd, 0, 0); }

}  // namespace

uintptr_t page_size() {
  static uintptr_t size = 0;
  if (!size) {
    unsigned long from_aux = getauxval(AT_PAGESZ);
    size = from_aux ? from_aux : 4096;
  }
  return size;
}

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

#endif  // __x86_64__

}  // namespace gilwatch::got::elf
