// Unit tests of the symbolizer (harness/results/symbolizer) on a built fixture
// (fixtures/symbolizer_fixture.c): the same shared object with DWARF and .symtab, and
// stripped to .dynsym alone, as Debian's interpreter is.
#include "report_side_fixtures.h"

namespace {

// The fixture loaded (the copy with symbols: offsets are the same in both) and the
// offsets of what the tests look up, as merge computes them: pc - load bias, and for a
// return address, minus one (the call instruction).
struct LoadedFixture {
  void* handle = nullptr;
  uint64_t base = 0;

  LoadedFixture() {
    handle = dlopen(GILWATCH_SYMBOLIZER_FIXTURE, RTLD_NOW | RTLD_LOCAL);
    REQUIRE(handle != nullptr);
    Dl_info info{};
    REQUIRE(dladdr(symbol("fixture_exported_first"), &info) != 0);
    base = reinterpret_cast<uint64_t>(info.dli_fbase);
  }
  ~LoadedFixture() { dlclose(handle); }

  void* symbol(const char* name) const {
    void* s = dlsym(handle, name);
    REQUIRE(s != nullptr);
    return s;
  }
  uint64_t offset_of(const char* name) const { return reinterpret_cast<uint64_t>(symbol(name)) - base; }
  // Calls `name(int)` and returns the lookup offset of the return address it recorded.
  uint64_t call_site_in(const char* name) const {
    auto function = reinterpret_cast<int (*)(int)>(symbol(name));
    CHECK(function(2) != 0);
    uint64_t pc = *static_cast<uintptr_t*>(symbol("fixture_return_address"));
    return pc - base - 1;
  }
  uint64_t gap_function() const {
    auto where = reinterpret_cast<uintptr_t (*)()>(symbol("fixture_gap_address"));
    return where() - base;
  }
};

}  // namespace

TEST_CASE("a stripped object's address between its exported symbols gets no name", "[symbolizer]") {
  LoadedFixture fixture;
  uint64_t in_gap = fixture.call_site_in("fixture_call_gap");
  // The address really is past the exported function before it (whose symbol ends
  // before the internal function starts): a nearest-symbol lookup would misname it.
  REQUIRE(in_gap > fixture.gap_function());
  REQUIRE(fixture.gap_function() > fixture.offset_of("fixture_exported_first"));
  DwflSymbolizer symbolizer;
  auto stripped = symbolizer.symbolize(GILWATCH_SYMBOLIZER_FIXTURE_STRIPPED, {in_gap, fixture.gap_function() + 1});
  REQUIRE(stripped.size() == 2);
  for (const auto& frames : stripped) {
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].function == "??");
    CHECK(frames[0].file.empty());
  }
  // Its twin: the copy with .symtab and DWARF knows the function, file and line.
  auto full = symbolizer.symbolize(GILWATCH_SYMBOLIZER_FIXTURE, {in_gap});
  REQUIRE(full.size() == 1);
  REQUIRE(full[0].size() == 1);
  CHECK(full[0][0].function == "fixture_internal_in_gap");
  CHECK(report::base_name(full[0][0].file) == "symbolizer_fixture.c");
  CHECK(full[0][0].line == 23);
}

TEST_CASE("a stripped object's address inside an exported symbol gets that symbol's name", "[symbolizer]") {
  LoadedFixture fixture;
  uint64_t inside = fixture.offset_of("fixture_exported_first") + 1;
  DwflSymbolizer symbolizer;
  auto frames = symbolizer.symbolize(GILWATCH_SYMBOLIZER_FIXTURE_STRIPPED, {inside, fixture.offset_of("fixture_calls_inlined")});
  REQUIRE(frames.size() == 2);
  REQUIRE(frames[0].size() == 1);
  CHECK(frames[0][0].function == "fixture_exported_first");
  CHECK(frames[0][0].file.empty());  // no DWARF left
  CHECK(frames[0][0].line == 0);
  CHECK(frames[1][0].function == "fixture_calls_inlined");
}

TEST_CASE("an inlined call is its own frame, innermost first, with the call's line", "[symbolizer]") {
  LoadedFixture fixture;
  uint64_t in_inlined = fixture.call_site_in("fixture_calls_inlined");
  DwflSymbolizer symbolizer;
  auto frames = symbolizer.symbolize(GILWATCH_SYMBOLIZER_FIXTURE, {in_inlined});
  REQUIRE(frames.size() == 1);
  REQUIRE(frames[0].size() == 2);
  CHECK(frames[0][0].function == "fixture_inlined_step");
  CHECK(report::base_name(frames[0][0].file) == "symbolizer_fixture.c");
  CHECK(frames[0][0].line == 28);
  CHECK(frames[0][1].function == "fixture_calls_inlined");
  CHECK(report::base_name(frames[0][1].file) == "symbolizer_fixture.c");
  CHECK(frames[0][1].line == 33);
  // Stripped, the same address is the exported function that holds it, one frame.
  auto stripped = symbolizer.symbolize(GILWATCH_SYMBOLIZER_FIXTURE_STRIPPED, {in_inlined});
  REQUIRE(stripped[0].size() == 1);
  CHECK(stripped[0][0].function == "fixture_calls_inlined");
}

extern "C" __attribute__((noinline, used)) int gilwatch_unit_symbolizer_marker(int x) {
  asm volatile("" ::: "memory");
  return x * 3 + 1;
}

namespace gilwatch_unit {
__attribute__((noinline, used)) int symbolizer_cpp_marker(int x, const char* s) {
  asm volatile("" ::: "memory");
  return x + (s ? 1 : 0);
}
}  // namespace gilwatch_unit

TEST_CASE("this test binary is symbolized, C++ demangled, and a missing module shrugged at", "[symbolizer]") {
  Dl_info info{};
  void* address = reinterpret_cast<void*>(&gilwatch_unit_symbolizer_marker);
  REQUIRE(dladdr(address, &info) != 0);
  uint64_t base = reinterpret_cast<uint64_t>(info.dli_fbase);
  uint64_t offset = reinterpret_cast<uint64_t>(address) - base;
  uint64_t cpp = reinterpret_cast<uint64_t>(&gilwatch_unit::symbolizer_cpp_marker) - base;
  std::string self = fs::read_symlink("/proc/self/exe").string();
  DwflSymbolizer symbolizer;
  auto frames = symbolizer.symbolize(self, {offset + 4, cpp + 1});
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].front().function == "gilwatch_unit_symbolizer_marker");
  CHECK(report::base_name(frames[0].front().file) == "test_symbolizer.cpp");
  CHECK(frames[0].front().line > 0);
  CHECK(frames[1].back().function == "gilwatch_unit::symbolizer_cpp_marker(int, char const*)");
  auto missing = symbolizer.symbolize("/nonexistent/lib.so", {0x10, 0x20});
  REQUIRE(missing.size() == 2);
  CHECK(missing[1].front().function == "??");
  auto not_elf = symbolizer.symbolize(GILWATCH_SOURCE_DIR "/README.md", {0x10});
  REQUIRE(not_elf.size() == 1);
  CHECK(not_elf[0].front().function == "??");
}

TEST_CASE("C++ and both Rust manglings are demangled; other names stay", "[symbolizer]") {
  CHECK(demangle("_ZN5outer5innerEv") == "outer::inner()");
  CHECK(demangle("_ZN3foo3barIiEEvT_") == "void foo::bar<int>(int)");
  // Rust legacy: an Itanium name whose last segment is the hash, printed without it.
  CHECK(demangle("_ZN3std3sys4sync6rwlock5futex6RwLock15write_contended17h9f84bd0d6f56b9a1E") ==
        "std::sys::sync::rwlock::futex::RwLock::write_contended");
  CHECK(demangle("_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure$u7d$$u7d$$GT$"
                 "17h9f84bd0d6f56b9a1E") == "core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>");
  // Rust v0.
  CHECK(demangle("_RNvCs1234_7mycrate3foo") == "mycrate::foo");
  CHECK(demangle("_RNvNtCs1234_7mycrate6module8function") == "mycrate::module::function");
  CHECK(demangle("PyInit_posix") == "PyInit_posix");
  CHECK(demangle("registry_store.isra.0") == "registry_store.isra.0");
}
