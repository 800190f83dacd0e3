// The hook list (instrumentation/preload/hooks/hooks.def) against what is built from it and
// what is written about it: the library's exported symbols are exactly the interposed
// functions (and the gilwatch_* API), every C API function has its trampoline and every
// GOT-patched function its wrapper, and docs/capi-functions.md and docs/interception.md
// name the same functions as the list.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

const std::vector<std::string> kInterposed = {
#define GW_INTERPOSE(name, version) #name,
#include "hooks.def"
};
const std::vector<std::string> kCalledOnly = {
#define GW_NEXT(name, version) #name,
#include "hooks.def"
};
const std::vector<std::string> kGotPatched = {
#define GW_GOT(family, name, ret, params) #name,
#include "hooks.def"
};
const std::vector<std::string> kCapi = {
#define GW_CAPI(name) #name,
#include "hooks.def"
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Symbol {
  std::string name;
  bool defined;
  bool exported;  // global or weak, default visibility
  uint64_t size;
};

// The symbols of the section of type `type` (SHT_DYNSYM, SHT_SYMTAB) of an ELF64 file.
std::vector<Symbol> elf_symbols(const std::string& image, uint32_t type) {
  std::vector<Symbol> out;
  REQUIRE(image.size() > sizeof(Elf64_Ehdr));
  const char* base = image.data();
  const auto* header = reinterpret_cast<const Elf64_Ehdr*>(base);
  REQUIRE(std::memcmp(header->e_ident, ELFMAG, SELFMAG) == 0);
  REQUIRE(header->e_ident[EI_CLASS] == ELFCLASS64);
  const auto* sections = reinterpret_cast<const Elf64_Shdr*>(base + header->e_shoff);
  for (int i = 0; i < header->e_shnum; ++i) {
    if (sections[i].sh_type != type) continue;
    const Elf64_Shdr& strings = sections[sections[i].sh_link];
    const auto* symbols = reinterpret_cast<const Elf64_Sym*>(base + sections[i].sh_offset);
    std::size_t count = sections[i].sh_size / sizeof(Elf64_Sym);
    for (std::size_t s = 1; s < count; ++s) {
      const Elf64_Sym& sym = symbols[s];
      unsigned binding = ELF64_ST_BIND(sym.st_info);
      out.push_back({base + strings.sh_offset + sym.st_name, sym.st_shndx != SHN_UNDEF,
                     (binding == STB_GLOBAL || binding == STB_WEAK) &&
                         ELF64_ST_VISIBILITY(sym.st_other) == STV_DEFAULT,
                     sym.st_size});
    }
  }
  return out;
}

std::set<std::string> exported_names(const std::string& image) {
  std::set<std::string> names;
  for (const Symbol& s : elf_symbols(image, SHT_DYNSYM))
    if (s.defined && s.exported) names.insert(s.name);
  return names;
}

// The lines from the first line containing `from` up to the first after it containing
// `to` that begin with `line_start`.
std::vector<std::string> lines_in(const std::string& text, const std::string& from, const std::string& to,
                                  const std::string& line_start) {
  std::vector<std::string> found;
  std::istringstream lines(text);
  std::string line;
  bool inside = false;
  while (std::getline(lines, line)) {
    if (!inside) {
      inside = line.find(from) != std::string::npos;
      continue;
    }
    if (line.find(to) != std::string::npos) break;
    if (line.rfind(line_start, 0) == 0) found.push_back(line);
  }
  return found;
}

void add_quoted_names(const std::string& text, std::vector<std::string>& names) {
  static const std::regex quoted("`([A-Za-z_][A-Za-z0-9_]*)`");
  for (std::sregex_iterator m(text.begin(), text.end(), quoted), end; m != end; ++m) names.push_back((*m)[1]);
}

// The checked functions docs/capi-functions.md lists: the bullets of the groups.
std::vector<std::string> capi_doc_names(const std::string& text) {
  std::vector<std::string> names;
  for (const std::string& line : lines_in(text, "The checked list", "Not checked", "- **")) add_quoted_names(line, names);
  return names;
}

// The first column of docs/interception.md's table of GOT-patched functions.
std::vector<std::string> interception_doc_names(const std::string& text) {
  std::vector<std::string> names;
  for (const std::string& row : lines_in(text, "## Hooked functions", "## ", "| `"))
    add_quoted_names(row.substr(0, row.find('|', 1)), names);
  return names;
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("the library exports exactly the interposed functions and its gilwatch_ API") {
  std::set<std::string> exported = exported_names(read_file(GILWATCH_LIBRARY));
  for (const std::string& name : kInterposed) {
    INFO(name);
    CHECK(exported.count(name) == 1);
  }
  std::set<std::string> expected = as_set(kInterposed);
  for (const std::string& name : exported)
    if (name.rfind("gilwatch_", 0) == 0) expected.insert(name);
  CHECK(exported == expected);
}

TEST_CASE("the library exports none of the functions it only calls or reaches by GOT patching") {
  std::set<std::string> exported = exported_names(read_file(GILWATCH_LIBRARY));
  for (const auto* list : {&kCalledOnly, &kGotPatched, &kCapi})
    for (const std::string& name : *list) {
      INFO(name);
      CHECK(exported.count(name) == 0);
    }
  // Neither the trampolines' check nor the wrappers' table.
  CHECK(exported.count("gilwatch_capi_check") == 0);
  CHECK(exported.count("gilwatch_capi_stub_table") == 0);
}

TEST_CASE("every C API function of the list has its trampoline, in a table of as many") {
  std::vector<Symbol> symbols = elf_symbols(read_file(GILWATCH_LIBRARY), SHT_SYMTAB);
  INFO("libgilwatch.so as built has its symbol table (it is stripped only when installed)");
  REQUIRE(!symbols.empty());
  std::set<std::string> names;
  std::size_t stubs = 0;
  uint64_t table_size = 0;
  for (const Symbol& s : symbols) {
    if (!s.defined) continue;
    names.insert(s.name);
    if (s.name.rfind("gilwatch_capi_stub_", 0) == 0 && s.name != "gilwatch_capi_stub_table") ++stubs;
    if (s.name == "gilwatch_capi_stub_table") table_size = s.size;
  }
  for (const std::string& name : kCapi) {
    INFO(name);
    CHECK(names.count("gilwatch_capi_stub_" + name) == 1);
  }
  CHECK(stubs == kCapi.size());
  CHECK(table_size == kCapi.size() * sizeof(void*));
}

TEST_CASE("every GOT-patched function of the list has its wrapper in the library") {
  std::vector<Symbol> symbols = elf_symbols(read_file(GILWATCH_LIBRARY), SHT_SYMTAB);
  INFO("libgilwatch.so as built has its symbol table (it is stripped only when installed)");
  REQUIRE(!symbols.empty());
  for (const std::string& name : kGotPatched) {
    // gilwatch::preload::hooks::name, mangled (link-time optimization may add a suffix).
    std::string mangled = "_ZN8gilwatch7preload5hooks" + std::to_string(name.size()) + name + "E";
    bool found = std::any_of(symbols.begin(), symbols.end(),
                             [&](const Symbol& s) { return s.defined && s.name.rfind(mangled, 0) == 0; });
    INFO(name);
    CHECK(found);
  }
}

TEST_CASE("docs/capi-functions.md lists the checked C API functions of the list, in its order") {
  CHECK(capi_doc_names(read_file(GILWATCH_SOURCE_DIR "/docs/capi-functions.md")) == kCapi);
}

TEST_CASE("docs/interception.md's table names the GOT-patched functions of the list") {
  CHECK(as_set(interception_doc_names(read_file(GILWATCH_SOURCE_DIR "/docs/interception.md"))) == as_set(kGotPatched));
}

TEST_CASE("a doc that leaves a function out, or adds one, does not match the list") {
  std::string doc =
      "The checked list covers, by group:\n"
      "\n"
      "- **Errors.** `PyErr_SetString`, `PyErr_Occurred`\n"
      "- **Calls.** `PyObject_Call`\n"
      "\n"
      "Not checked: `PyGILState_Ensure`\n";
  std::vector<std::string> names = capi_doc_names(doc);
  CHECK(names == std::vector<std::string>{"PyErr_SetString", "PyErr_Occurred", "PyObject_Call"});
  CHECK(names != kCapi);
  std::string table =
      "## Hooked functions\n\n| function | who |\n|---|---|\n| `PyGILState_Ensure` | x |\n\n## Next\n| `dlopen` |\n";
  CHECK(interception_doc_names(table) == std::vector<std::string>{"PyGILState_Ensure"});
  CHECK(as_set(interception_doc_names(table)) != as_set(kGotPatched));
}
