#include "symbolizer.h"

#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <libiberty/demangle.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

namespace gilwatch::harness {

namespace {

// Offline: no process, modules from files. Separate debug information is looked up the
// standard way (build id under /usr/lib/debug/.build-id, .gnu_debuglink next to the
// module, in .debug/ and under /usr/lib/debug).
const Dwfl_Callbacks kOfflineCallbacks = {
    dwfl_build_id_find_elf, dwfl_standard_find_debuginfo, dwfl_offline_section_address, nullptr,
};

struct DwflDeleter {
  void operator()(Dwfl* dwfl) const { dwfl_end(dwfl); }
};

const char* string_attribute(Dwarf_Die* die, unsigned name) {
  Dwarf_Attribute attribute;
  return dwarf_formstring(dwarf_attr_integrate(die, name, &attribute));
}

// The namespaces, types and impl blocks that hold a function's definition, outermost
// first, as "a::b::" (empty for C). `die` is the function's DIE; an inlined instance or
// a definition out of line stands for the declaration it refers to.
std::string enclosing_path(Dwarf_Die* die) {
  Dwarf_Die declaration = *die;
  Dwarf_Attribute attribute;
  for (unsigned reference : {DW_AT_abstract_origin, DW_AT_specification}) {
    Dwarf_Die target;
    if (dwarf_attr(&declaration, reference, &attribute) && dwarf_formref_die(&attribute, &target))
      declaration = target;
  }
  Dwarf_Die* scopes = nullptr;
  int count = dwarf_getscopes_die(&declaration, &scopes);
  std::unique_ptr<Dwarf_Die, decltype(&std::free)> owned(scopes, &std::free);
  std::string path;
  for (int i = count - 1; i > 0; --i) {
    switch (dwarf_tag(&scopes[i])) {
      case DW_TAG_namespace:
      case DW_TAG_structure_type:
      case DW_TAG_class_type:
      case DW_TAG_union_type:
      case DW_TAG_enumeration_type:
        if (const char* name = dwarf_diename(&scopes[i])) path += std::string(name) + "::";
        break;
      default:
        break;
    }
  }
  return path;
}

// A function's name as DWARF has it: the linkage name (demangled: the full path and
// parameters of a C++ or Rust function); without one (line-tables-only debug info, as
// Rust's release profiles often have, or C) the plain name under its namespaces.
// `from_linkage` says which.
std::string die_function_name(Dwarf_Die* die, bool* from_linkage) {
  const char* linkage = string_attribute(die, DW_AT_linkage_name);
  if (!linkage) linkage = string_attribute(die, DW_AT_MIPS_linkage_name);
  *from_linkage = linkage != nullptr;
  if (linkage) return demangle(linkage);
  const char* name = dwarf_diename(die);
  return name ? enclosing_path(die) + name : "";
}

// Where an inlined call was made from: its DW_AT_call_file and DW_AT_call_line.
void call_site(Dwarf_Die* inlined, Dwarf_Die* cu, std::string* file, int* line) {
  file->clear();
  *line = 0;
  Dwarf_Attribute attribute;
  Dwarf_Word value = 0;
  Dwarf_Files* files = nullptr;
  size_t count = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attribute), &value) == 0 &&
      dwarf_getsrcfiles(cu, &files, &count) == 0 && value < count) {
    const char* name = dwarf_filesrc(files, value, nullptr, nullptr);
    if (name) *file = name;
  }
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attribute), &value) == 0 && value < 1u << 30)
    *line = int(value);
}

// The symbol table's name for `address`, only when the symbol's range holds it: libdwfl
// falls back to a size-less symbol before the address, which proves nothing.
std::string symbol_name(Dwfl_Module* module, Dwarf_Addr address) {
  GElf_Off offset = 0;
  GElf_Sym symbol{};
  const char* name = dwfl_module_addrinfo(module, address, &offset, &symbol, nullptr, nullptr, nullptr);
  if (!name || !*name || symbol.st_size == 0 || offset >= symbol.st_size) return "";
  return demangle(name);
}

std::vector<SymbolizedFrame> frames_at(Dwfl_Module* module, Dwarf_Addr address) {
  // The innermost frame's file and line: the line table's row for the address.
  SymbolizedFrame located;
  if (Dwfl_Line* row = dwfl_module_getsrc(module, address)) {
    int line = 0;
    const char* file = dwfl_lineinfo(row, nullptr, &line, nullptr, nullptr, nullptr);
    if (file) located.file = file;
    located.line = line > 0 ? line : 0;
  }

  std::vector<SymbolizedFrame> frames;
  Dwarf_Addr cu_bias = 0;
  if (Dwarf_Die* cu = dwfl_module_addrdie(module, address, &cu_bias)) {
    // The innermost scope holding the address, then the DIEs that physically contain
    // it: dwarf_getscopes continues past an inlined instance into its abstract
    // definition, which would lose the function it was inlined into.
    Dwarf_Die* scopes = nullptr;
    int count = dwarf_getscopes(cu, address - cu_bias, &scopes);
    if (count > 0) {
      Dwarf_Die innermost = scopes[0];
      std::free(scopes);
      scopes = nullptr;
      count = dwarf_getscopes_die(&innermost, &scopes);
    }
    std::unique_ptr<Dwarf_Die, decltype(&std::free)> owned(scopes, &std::free);
    SymbolizedFrame next = located;
    int language = dwarf_srclang(cu);
    bool c_unit = language == DW_LANG_C89 || language == DW_LANG_C || language == DW_LANG_C99 ||
                  language == DW_LANG_C11 || language == 0x2c /* DW_LANG_C17: DWARF 6, not in this dwarf.h */;
    for (int i = 0; i < count; ++i) {
      int tag = dwarf_tag(&scopes[i]);
      if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
      SymbolizedFrame frame = next;
      bool from_linkage = false;
      std::string name = die_function_name(&scopes[i], &from_linkage);
      if (!name.empty()) frame.function = name;
      // The function itself (not inlined): without a linkage name in DWARF, a C++ or
      // Rust symbol's name is the fuller one (its whole path), when the symbol holds the
      // address. A C unit's symbol adds only a clone suffix (.isra.0): its DWARF name
      // stays, and the symbol table is not searched for it.
      if (tag == DW_TAG_subprogram && !from_linkage && !c_unit) {
        std::string symbol = symbol_name(module, address);
        if (symbol.find("::") != std::string::npos) frame.function = symbol;
      }
      frames.push_back(frame);
      if (tag == DW_TAG_subprogram) break;
      call_site(&scopes[i], cu, &next.file, &next.line);
    }
  }
  if (frames.empty()) {
    frames.push_back(located);
  }
  // DWARF without a name for the function (or no DWARF): the symbol table's.
  if (frames.back().function == "??") {
    std::string name = symbol_name(module, address);
    if (!name.empty()) frames.back().function = name;
  }
  return frames;
}

}  // namespace

std::string demangle(const std::string& name) {
  // libiberty's auto style is binutils' -C: Itanium C++, Rust v0 ("_R...") and Rust
  // legacy (an Itanium name ending in a "17h<hash>E" segment, printed without it).
  char* text = cplus_demangle(name.c_str(), DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
  if (!text) return name;
  std::string out = text;
  std::free(text);
  return out;
}

std::vector<std::vector<SymbolizedFrame>> DwflSymbolizer::symbolize(const std::string& module,
                                                                    const std::vector<uint64_t>& offsets) {
  std::vector<std::vector<SymbolizedFrame>> unknown(offsets.size(), std::vector<SymbolizedFrame>(1));
  std::error_code ec;
  if (offsets.empty() || !std::filesystem::is_regular_file(module, ec)) return unknown;

  std::unique_ptr<Dwfl, DwflDeleter> dwfl(dwfl_begin(&kOfflineCallbacks));
  if (!dwfl) return unknown;
  dwfl_report_begin(dwfl.get());
  // At base 0 without adding p_vaddr: the module sits at its link-time addresses, which
  // is what an offset (pc - load bias) is.
  Dwfl_Module* mod = dwfl_report_elf(dwfl.get(), module.c_str(), module.c_str(), -1, 0, false);
  dwfl_report_end(dwfl.get(), nullptr, nullptr);
  if (!mod) return unknown;
  Dwarf_Addr bias = 0;
  if (!dwfl_module_getelf(mod, &bias)) return unknown;

  std::vector<std::vector<SymbolizedFrame>> result;
  result.reserve(offsets.size());
  for (uint64_t offset : offsets) result.push_back(frames_at(mod, offset + bias));
  return result;
}

}  // namespace gilwatch::harness
