// symbolizer: turns (module, offset) pairs into function, file and line — after the run,
// outside the process under test. Behind an interface so merging is tested with a fake.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gilwatch::harness {

struct SymbolizedFrame {
  std::string function = "??";  // "??" when unknown
  std::string file;             // empty when unknown
  int line = 0;                 // 0 when unknown
};

class Symbolizer {
 public:
  virtual ~Symbolizer() = default;
  // One entry per offset, in order: the frames at that address, innermost (inlined)
  // first; a single "??" frame when nothing is known. `offsets` are addresses in the
  // object's own address space (pc - load bias), already moved from a return address
  // into the call instruction.
  virtual std::vector<std::vector<SymbolizedFrame>> symbolize(const std::string& module,
                                                              const std::vector<uint64_t>& offsets) = 0;
};

// elfutils' libdwfl, one offline session per call, the module reported at its link-time
// addresses (so an offset is an address in it). Names come from DWARF where the module
// or its separate debug file has it (found by build id, .gnu_debuglink or under
// /usr/lib/debug, as elfutils' tools find it): the function and each inlined call at the
// address, with file and line. Without DWARF, from the symbol table (.symtab, else
// .dynsym and MiniDebugInfo), and only from a symbol whose [value, value + size) holds
// the address: a stripped interpreter's internal function gets no name rather than the
// exported one before it. Names are demangled (C++, Rust legacy and v0). A module that is
// missing or unreadable yields "??" frames, never an error.
class DwflSymbolizer final : public Symbolizer {
 public:
  std::vector<std::vector<SymbolizedFrame>> symbolize(const std::string& module,
                                                      const std::vector<uint64_t>& offsets) override;
};

// A symbol or DWARF linkage name as a reader wants it: C++ (Itanium), Rust legacy
// (without its hash) and Rust v0 demangled the way binutils' `-C` does; anything else
// unchanged.
std::string demangle(const std::string& name);

}  // namespace gilwatch::harness
