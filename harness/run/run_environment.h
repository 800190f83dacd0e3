// run_environment: what `gilwatch run` puts in the environment of the command it runs —
// LD_PRELOAD with the library, GILWATCH_OPTIONS with the user's options plus the keys
// its flags set. Pure functions, so the composition is unit-tested without running
// anything.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "gilwatch/options.h"

namespace gilwatch::harness {

// The keys the flags of `gilwatch run` and `gilwatch stress` set (library_flags.h), and
// out_dir. Unset keys add nothing, so the user's own GILWATCH_OPTIONS (or the library
// default) decides.
struct LibraryFlags {
  std::string out_dir;  // out_dir=..., always set: where `run` reads results
  // By row of kOptionTable (gilwatch/options.def).
  std::array<std::optional<std::string>, kOptionCount> values;
  // `key` must be a row of the table.
  void set(const std::string& key, std::string value);
  const std::optional<std::string>& get(const std::string& key) const;
};

// Keys `gilwatch run` sets before the user's options, which may override them: the
// library's own stderr report is unsymbolized and `run` prints the symbolized one after
// the command ends, so by default the library stays quiet.
inline constexpr const char* kRunDefaultOptions = "report_stderr=0";

// kRunDefaultOptions, then `user_options` (GILWATCH_OPTIONS as found, may be null), then
// the flags' keys; later keys win. Empty entries are dropped.
std::string compose_options(const char* user_options, const LibraryFlags& flags);

// `library` first (so gilwatch's hooks are found before other preloaded objects'), then
// the existing LD_PRELOAD (may be null).
std::string compose_preload(const std::string& library, const char* existing_preload);

// The library `run` preloads: GILWATCH_LIBRARY when set and not empty, else
// <directory of self_exe>/../lib/libgilwatch.so. Made absolute: the command may chdir
// before it starts children, and the loader resolves LD_PRELOAD in each of them.
std::string library_path(const char* env_library, const std::string& self_exe);

// The running gilwatch executable (/proc/self/exe), or "" when unknown.
std::string self_executable();

// Whether `path` can be preloaded: an existing regular file whose path LD_PRELOAD can
// carry (the loader splits the list on ':' and spaces). On failure, a message.
bool check_library(const std::string& path, std::string* error);

// GILWATCH_OPTIONS separates entries with ':' and has no escape for it.
bool path_fits_options(const std::string& path);

// `environment` (NAME=value strings) with each of `overrides` (NAME, value) replacing the
// variable of that name or appended.
std::vector<std::string> with_variables(const std::vector<std::string>& environment,
                                        const std::vector<std::pair<std::string, std::string>>& overrides);

}  // namespace gilwatch::harness
