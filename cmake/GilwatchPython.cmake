# Python interpreters that the fixture extensions are built for, and the function that
# builds one extension per interpreter.
#
# Discovery (unless GILWATCH_PYTHONS is set):
#   - /usr/bin/python3.11, Debian's interpreter (libpython linked into the executable).
#     If it exists it is required: missing headers are a configure error, because the
#     static-libpython case is the one interception most easily gets wrong.
#   - /root/.pyenv/versions/3.{9,10,11,12,13}.*/bin/python3 (shared libpython), optional:
#     one without headers is skipped with a warning.
# GILWATCH_PYTHONS (a list of interpreter paths) replaces discovery; every listed
# interpreter is then required to work.
#
# For each interpreter this records a tag (debian-3.11, pyenv-3.12, python-3.x for
# others; the patch version is appended when two share a minor version), its version,
# include directory, EXT_SUFFIX and whether libpython is a shared library in the running
# process, and writes them all to ${CMAKE_BINARY_DIR}/scenarios/pythons.json:
#   [{"tag", "interpreter", "version", "shared_libpython", "py_enable_shared",
#     "ext_suffix", "include_dir", "module_dir"}]
#
# `shared_libpython` is measured, not read from the build configuration: Debian's
# sysconfig says Py_ENABLE_SHARED=1 (it ships a libpython3.11.so) while /usr/bin/python3.11
# itself links libpython statically. The query looks for a libpython mapping in the
# interpreter's own /proc/self/maps; Py_ENABLE_SHARED is kept as `py_enable_shared`.
#
# gilwatch_add_python_extension(NAME SOURCES... [DEFINITIONS defs...])
#   Builds NAME<EXT_SUFFIX> for every interpreter into
#   ${CMAKE_BINARY_DIR}/scenarios/python/<tag>/. Extensions never link libpython: they
#   resolve Py* symbols from the interpreter that loads them, as real extensions do.
#   Targets are named pyext_<NAME>_<tag>; an umbrella target pyext_<NAME> builds all.

include_guard(GLOBAL)

find_package(Threads REQUIRED)

set(GILWATCH_PYTHONS "" CACHE STRING
  "Interpreters to build the fixture extensions for (list of paths); empty: discover")

set(_gilwatch_debian_python /usr/bin/python3.11)

# Prints tab-separated: version, include dir, EXT_SUFFIX, shared-in-process, Py_ENABLE_SHARED.
set(_gilwatch_python_query [=[
import os, sys, sysconfig
include = sysconfig.get_paths()["include"]
suffix = sysconfig.get_config_var("EXT_SUFFIX") or ""
with open("/proc/self/maps") as maps:
    in_process = any("/libpython" in line for line in maps)
enable_shared = bool(sysconfig.get_config_var("Py_ENABLE_SHARED"))
has_header = os.path.isfile(os.path.join(include, "Python.h"))
print("\t".join([
    "%d.%d.%d" % sys.version_info[:3], include, suffix,
    "true" if in_process else "false", "true" if enable_shared else "false",
    "true" if has_header else "false"]), end="")
]=])

# Queries one interpreter. On success sets <out>_OK TRUE and <out>_{VERSION,INCLUDE,
# SUFFIX,SHARED,ENABLE_SHARED,HAS_HEADER}; on failure <out>_OK FALSE and <out>_ERROR.
function(_gilwatch_query_python interpreter out)
  execute_process(
    COMMAND "${interpreter}" -I -c "${_gilwatch_python_query}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr
    TIMEOUT 60)
  if(NOT rc EQUAL 0)
    set(${out}_OK FALSE PARENT_SCOPE)
    set(${out}_ERROR "query failed (${rc}): ${stderr}" PARENT_SCOPE)
    return()
  endif()
  string(REPLACE "\t" ";" fields "${stdout}")
  list(LENGTH fields n)
  if(NOT n EQUAL 6)
    set(${out}_OK FALSE PARENT_SCOPE)
    set(${out}_ERROR "unexpected query output: ${stdout}" PARENT_SCOPE)
    return()
  endif()
  list(GET fields 0 version)
  list(GET fields 1 include)
  list(GET fields 2 suffix)
  list(GET fields 3 shared)
  list(GET fields 4 enable_shared)
  list(GET fields 5 has_header)
  set(${out}_OK TRUE PARENT_SCOPE)
  set(${out}_VERSION "${version}" PARENT_SCOPE)
  set(${out}_INCLUDE "${include}" PARENT_SCOPE)
  set(${out}_SUFFIX "${suffix}" PARENT_SCOPE)
  set(${out}_SHARED "${shared}" PARENT_SCOPE)
  set(${out}_ENABLE_SHARED "${enable_shared}" PARENT_SCOPE)
  set(${out}_HAS_HEADER "${has_header}" PARENT_SCOPE)
endfunction()

function(_gilwatch_discover_pythons)
  set(candidates "")   # list of "path|required"
  if(GILWATCH_PYTHONS)
    foreach(path IN LISTS GILWATCH_PYTHONS)
      list(APPEND candidates "${path}|REQUIRED")
    endforeach()
  else()
    if(EXISTS "${_gilwatch_debian_python}")
      list(APPEND candidates "${_gilwatch_debian_python}|REQUIRED")
    endif()
    foreach(minor 9 10 11 12 13)
      file(GLOB found LIST_DIRECTORIES false "/root/.pyenv/versions/3.${minor}.*/bin/python3")
      list(SORT found COMPARE NATURAL)
      foreach(path IN LISTS found)
        list(APPEND candidates "${path}|OPTIONAL")
      endforeach()
    endforeach()
  endif()

  set(tags "")
  set(json_entries "")
  foreach(candidate IN LISTS candidates)
    string(REPLACE "|" ";" parts "${candidate}")
    list(GET parts 0 path)
    list(GET parts 1 requirement)

    set(problem "")
    if(NOT EXISTS "${path}")
      set(problem "does not exist")
    else()
      _gilwatch_query_python("${path}" q)
      if(NOT q_OK)
        set(problem "${q_ERROR}")
      elseif(NOT q_HAS_HEADER)
        set(problem "has no headers (Python.h not in ${q_INCLUDE}); on Debian install python3.11-dev")
      elseif(q_SUFFIX STREQUAL "")
        set(problem "reports no EXT_SUFFIX")
      endif()
    endif()
    if(problem)
      if(requirement STREQUAL "REQUIRED")
        message(FATAL_ERROR "gilwatch: interpreter ${path} ${problem}")
      endif()
      message(WARNING "gilwatch: skipping interpreter ${path}: ${problem}")
      continue()
    endif()

    string(REGEX MATCH "^[0-9]+\\.[0-9]+" minor_version "${q_VERSION}")
    if(path STREQUAL _gilwatch_debian_python)
      set(origin debian)
    elseif(path MATCHES "/\\.pyenv/versions/")
      set(origin pyenv)
    else()
      set(origin python)
    endif()
    set(tag "${origin}-${minor_version}")
    if(tag IN_LIST tags)
      set(tag "${origin}-${q_VERSION}")
    endif()
    if(tag IN_LIST tags)
      message(FATAL_ERROR "gilwatch: interpreter ${path} listed twice (tag ${tag})")
    endif()
    list(APPEND tags "${tag}")

    set(module_dir "${CMAKE_BINARY_DIR}/scenarios/python/${tag}")
    set_property(GLOBAL APPEND PROPERTY GILWATCH_PYTHON_TAGS "${tag}")
    set_property(GLOBAL PROPERTY "GILWATCH_PYTHON_${tag}_INTERPRETER" "${path}")
    set_property(GLOBAL PROPERTY "GILWATCH_PYTHON_${tag}_INCLUDE" "${q_INCLUDE}")
    set_property(GLOBAL PROPERTY "GILWATCH_PYTHON_${tag}_SUFFIX" "${q_SUFFIX}")
    set_property(GLOBAL PROPERTY "GILWATCH_PYTHON_${tag}_MODULE_DIR" "${module_dir}")

    string(CONCAT entry
      "  {\"tag\": \"${tag}\", \"interpreter\": \"${path}\", \"version\": \"${q_VERSION}\", "
      "\"shared_libpython\": ${q_SHARED}, \"py_enable_shared\": ${q_ENABLE_SHARED}, "
      "\"ext_suffix\": \"${q_SUFFIX}\", \"include_dir\": \"${q_INCLUDE}\", "
      "\"module_dir\": \"${module_dir}\"}")
    list(APPEND json_entries "${entry}")
    message(STATUS "gilwatch: Python ${q_VERSION} (${tag}, shared libpython: ${q_SHARED}): ${path}")
  endforeach()

  if(NOT tags)
    message(WARNING "gilwatch: no Python interpreter with headers found; "
      "the fixture extensions and the registry tests are not built")
  endif()

  list(JOIN json_entries ",\n" body)
  if(body STREQUAL "")
    set(json "[]\n")
  else()
    set(json "[\n${body}\n]\n")
  endif()
  # file(CONFIGURE) only rewrites when the content changes, so reconfiguring does not
  # touch the timestamp of an unchanged file.
  file(CONFIGURE OUTPUT "${CMAKE_BINARY_DIR}/scenarios/pythons.json" CONTENT "${json}" @ONLY)
endfunction()

_gilwatch_discover_pythons()
get_property(GILWATCH_PYTHON_TAGS GLOBAL PROPERTY GILWATCH_PYTHON_TAGS)
set(GILWATCH_PYTHONS_JSON "${CMAKE_BINARY_DIR}/scenarios/pythons.json")

function(gilwatch_add_python_extension name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;DEFINITIONS")
  set(sources ${arg_UNPARSED_ARGUMENTS} ${arg_SOURCES})
  if(NOT sources)
    message(FATAL_ERROR "gilwatch_add_python_extension(${name}): no sources")
  endif()

  add_custom_target(pyext_${name})
  get_property(tags GLOBAL PROPERTY GILWATCH_PYTHON_TAGS)
  foreach(tag IN LISTS tags)
    get_property(include GLOBAL PROPERTY "GILWATCH_PYTHON_${tag}_INCLUDE")
    get_property(suffix GLOBAL PROPERTY "GILWATCH_PYTHON_${tag}_SUFFIX")
    get_property(module_dir GLOBAL PROPERTY "GILWATCH_PYTHON_${tag}_MODULE_DIR")

    set(target pyext_${name}_${tag})
    add_library(${target} MODULE ${sources})
    target_include_directories(${target} PRIVATE "${include}")
    target_compile_definitions(${target} PRIVATE ${arg_DEFINITIONS})
    # -g always: reports name the fixture's functions, whatever the build type.
    # Frame pointers make the fixtures' stacks easy to walk for any unwinder.
    target_compile_options(${target} PRIVATE -g -fno-omit-frame-pointer -fvisibility=hidden
      -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
    target_link_libraries(${target} PRIVATE Threads::Threads)
    set_target_properties(${target} PROPERTIES
      OUTPUT_NAME "${name}"
      PREFIX ""
      SUFFIX "${suffix}"
      # The generator expression keeps multi-config generators from adding a
      # per-configuration subdirectory: tests look for the file at exactly this path.
      LIBRARY_OUTPUT_DIRECTORY "$<1:${module_dir}>"
      C_VISIBILITY_PRESET hidden)
    add_dependencies(pyext_${name} ${target})
  endforeach()
endfunction()

