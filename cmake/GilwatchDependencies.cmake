# The libraries the gilwatch command and its library are built with, found once here, so
# that a build from the sdist on a machine without one of them stops with one message
# that names every missing piece and the package that provides it.
#
# What the wheel carries (docs/install.md): fmt and toml++ are used header-only, so the
# command does not load libfmt or libtomlplusplus; oneTBB stays a shared library, which
# `auditwheel repair` copies into the wheel. CLI11 and nlohmann_json are header-only
# anyway. elfutils' libdw (the symbolizer's libdwfl) stays shared like oneTBB and is
# copied into the wheel with what it loads (libelf, liblzma, libbz2; zlib is the system's); libiberty
# (demangling) is only a static archive. The same choice holds for every build, so the
# command a developer tests is the one the wheel ships.
#
# Provides: gilwatch::fmt, gilwatch::toml (header-only interface targets), TBB::tbb,
# CLI11::CLI11, nlohmann_json::nlohmann_json, Threads::Threads, gilwatch::dw (libdw and
# its headers), gilwatch::iberty (libiberty's demangler).

include_guard(GLOBAL)

set(_gilwatch_missing "")

# gilwatch_find_dependency(<package> <what> <where to get it>)
# find_package(<package> CONFIG QUIET); when not found, records "<what>: <where>".
macro(gilwatch_find_dependency package what where)
  find_package(${package} QUIET)
  if(NOT ${package}_FOUND)
    list(APPEND _gilwatch_missing "${what} (CMake package ${package}): ${where}")
  endif()
endmacro()

gilwatch_find_dependency(Threads "POSIX threads" "the C library's development files (Debian/Ubuntu: libc6-dev)")
gilwatch_find_dependency(fmt "fmt" "install libfmt-dev (Debian/Ubuntu) or fmt-devel (Fedora)")
gilwatch_find_dependency(TBB "oneTBB" "install libtbb-dev (Debian/Ubuntu) or tbb-devel (Fedora)")
gilwatch_find_dependency(tomlplusplus "toml++"
  "install libtomlplusplus-dev (Debian/Ubuntu) or tomlplusplus-devel (Fedora)")
gilwatch_find_dependency(CLI11 "CLI11" "install libcli11-dev (Debian/Ubuntu) or cli11-devel (Fedora)")
gilwatch_find_dependency(nlohmann_json "nlohmann/json"
  "install nlohmann-json3-dev (Debian/Ubuntu) or json-devel (Fedora)")

# elfutils and libiberty ship no CMake package: their headers and libraries by name.
find_path(GILWATCH_LIBDWFL_INCLUDE elfutils/libdwfl.h)
find_library(GILWATCH_LIBDW dw)
find_library(GILWATCH_LIBELF elf)
if(NOT GILWATCH_LIBDWFL_INCLUDE OR NOT GILWATCH_LIBDW OR NOT GILWATCH_LIBELF)
  list(APPEND _gilwatch_missing
    "elfutils libdw and libelf (elfutils/libdwfl.h, libdw.so, libelf.so): install libdw-dev (Debian/Ubuntu) or elfutils-devel (Fedora)")
endif()
find_path(GILWATCH_LIBIBERTY_INCLUDE libiberty/demangle.h)
find_library(GILWATCH_LIBIBERTY NAMES libiberty.a iberty)
if(NOT GILWATCH_LIBIBERTY_INCLUDE OR NOT GILWATCH_LIBIBERTY)
  list(APPEND _gilwatch_missing
    "libiberty (libiberty/demangle.h, libiberty.a): install libiberty-dev (Debian/Ubuntu) or binutils-devel (Fedora)")
endif()

if(_gilwatch_missing)
  list(JOIN _gilwatch_missing "\n  - " _gilwatch_missing_text)
  message(FATAL_ERROR
    "gilwatch: cannot build, not found:\n"
    "  - ${_gilwatch_missing_text}\n"
    "Install them (scripts/install-deps.sh does on Debian), or point CMAKE_PREFIX_PATH at "
    "their installation, and build again. A prebuilt manylinux wheel needs none of them.")
endif()

# fmt without libfmt.so: the compiled part goes into each object that uses it.
add_library(gilwatch_fmt INTERFACE)
add_library(gilwatch::fmt ALIAS gilwatch_fmt)
if(TARGET fmt::fmt-header-only)
  target_link_libraries(gilwatch_fmt INTERFACE fmt::fmt-header-only)
else()
  get_target_property(_gilwatch_fmt_include fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
  target_include_directories(gilwatch_fmt INTERFACE ${_gilwatch_fmt_include})
  target_compile_definitions(gilwatch_fmt INTERFACE FMT_HEADER_ONLY=1)
endif()

# toml++ without libtomlplusplus.so: its headers only, in header-only mode (Debian's
# tomlplusplus::tomlplusplus target links the shared library and says TOML_HEADER_ONLY=0).
add_library(gilwatch_toml INTERFACE)
add_library(gilwatch::toml ALIAS gilwatch_toml)
get_target_property(_gilwatch_toml_include tomlplusplus::tomlplusplus INTERFACE_INCLUDE_DIRECTORIES)
target_include_directories(gilwatch_toml INTERFACE ${_gilwatch_toml_include})
target_compile_definitions(gilwatch_toml INTERFACE TOML_HEADER_ONLY=1)

add_library(gilwatch_dw INTERFACE)
add_library(gilwatch::dw ALIAS gilwatch_dw)
target_include_directories(gilwatch_dw SYSTEM INTERFACE ${GILWATCH_LIBDWFL_INCLUDE})
# Only libdw: the symbolizer calls no libelf function itself (libdw loads libelf).
target_link_libraries(gilwatch_dw INTERFACE ${GILWATCH_LIBDW})

add_library(gilwatch_iberty INTERFACE)
add_library(gilwatch::iberty ALIAS gilwatch_iberty)
target_include_directories(gilwatch_iberty SYSTEM INTERFACE ${GILWATCH_LIBIBERTY_INCLUDE})
target_link_libraries(gilwatch_iberty INTERFACE ${GILWATCH_LIBIBERTY})
