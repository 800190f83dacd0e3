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

// Runs binutils' `addr2line -C -f -i -a -e MODULE off...` once per call. A module that is
// missing, unreadable or without symbols yields "??" frames, never an error.
class Addr2lineSymbolizer final : public Symbolizer {
 public:
  explicit Addr2lineSymbolizer(std::string program = "addr2line") : program_(std::move(program)) {}
  std::vector<std::vector<SymbolizedFrame>> symbolize(const std::string& module,
                                                      const std::vector<uint64_t>& offsets) override;

 private:
  std::string program_;
};

// Splits `addr2line -f -i -a` output into `expected` entries. Each entry starts at an
// address line ("0x000000000000112f") followed by function/location line pairs, one pair
// per inlined level. Entries that are missing (addr2line died early) come back as "??".
std::vector<std::vector<SymbolizedFrame>> parse_addr2line_output(const std::string& output,
                                                                 std::size_t expected);

}  // namespace gilwatch::harness
