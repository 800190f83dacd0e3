// results_parts: what the files behind results_writer.h share (results_writer.h is the one
// header the rest of the library uses). Each file does one job:
//   results_file.cpp    the per-process results file: the loaded objects, the document
//                       around the findings (engine/results_json.h), the atomic rewrite
//   profile_json.cpp    the document's "profiles" section (the profile option)
//   stderr_text.cpp     findings as sanitizer-style text on fd 2 (through stderr_text.h)
//   profile_summary.cpp the profile in a few lines on fd 2 at exit
//   context_export.cpp  gilwatch_set_context and the context each finding carries
// Runs inside the process under test: raw syscalls, mmap'd buffers, no stdio, no malloc.
#pragma once

#include <cstddef>
#include <cstdint>

#include "json_writer.h"

namespace gilwatch::preload {

// results_file.cpp: the results file's path ("" before init_results_file or without
// out_dir), and the loaded object an address falls in (its base name and load bias;
// false when none).
const char* results_path();
bool module_of_address(uintptr_t pc, const char** base_name, uintptr_t* load_bias);

// profile_json.cpp: the "profiles" key and object. Caller holds the detector's lock.
void write_profiles_json(JsonWriter& w);

// profile_summary.cpp: the profile in a few lines on stderr (nothing without the profile option).
void print_profile_summary();

// context_export.cpp: the context of finding i and event i ("" when none); their size.
inline constexpr std::size_t kContextSize = 160;
const char* finding_context(std::size_t i);
const char* event_context(std::size_t i);

}  // namespace gilwatch::preload
