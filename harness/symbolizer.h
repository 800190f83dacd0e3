// symbolizer: turns (module, offset) pairs into function, file and line — after the run,
// outside the process under test. Behind an interface so tests can substitute it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gilwatch::harness {

struct SymbolizedFrame {
  std::string function;  // "??" when unknown
  std::string file;      // empty when unknown
  int line = 0;
};

class Symbolizer {
 public:
  virtual ~Symbolizer() = default;
  // For each lookup offset, the frames at that address, innermost (inlined) first.
  virtual std::vector<std::vector<SymbolizedFrame>> symbolize(const std::string& module,
                                                              const std::vector<uint64_t>& offsets) = 0;
};

// Runs binutils' addr2line once per module with every offset of that module.
class Addr2lineSymbolizer final : public Symbolizer {
 public:
  explicit Addr2lineSymbolizer(std::string program = "addr2line") : program_(std::move(program)) {}
  std::vector<std::vector<SymbolizedFrame>> symbolize(const std::string& module,
                                                      const std::vector<uint64_t>& offsets) override;

 private:
  std::string program_;
};

// Parses `addr2line -C -f -i -a` output (address markers, then function/location pairs).
std::vector<std::vector<SymbolizedFrame>> parse_addr2line_output(const std::string& output,
                                                                 std::size_t expected);

}  // namespace gilwatch::harness
