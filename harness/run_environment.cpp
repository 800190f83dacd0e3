#include "run_environment.h"

#include <filesystem>

namespace gilwatch::harness {

namespace fs = std::filesystem;

std::string compose_options(const char* user_options, const LibraryFlags& flags) {
  std::vector<std::string> entries = {kRunDefaultOptions};
  if (user_options && *user_options) entries.emplace_back(user_options);
  entries.push_back("out_dir=" + flags.out_dir);
  if (flags.exitcode) entries.push_back("exitcode=" + std::to_string(*flags.exitcode));
  if (flags.stack_depth) entries.push_back("stack_depth=" + std::to_string(*flags.stack_depth));
  if (flags.no_python_frames) entries.push_back("python_frames=0");
  if (flags.verbosity) entries.push_back("verbosity=" + std::to_string(*flags.verbosity));
  if (flags.deadlock_ms) entries.push_back("deadlock_ms=" + std::to_string(*flags.deadlock_ms));
  if (flags.deadlock_exitcode) entries.push_back("deadlock_exitcode=" + std::to_string(*flags.deadlock_exitcode));
  if (flags.gil_blocking_ms) entries.push_back("gil_blocking_ms=" + std::to_string(*flags.gil_blocking_ms));
  if (flags.no_capi_checks) entries.push_back("capi_checks=0");
  if (flags.profile) entries.push_back("profile=1");
  std::string text;
  for (const std::string& e : entries) {
    // Trim the user's leading/trailing separators so no empty entries appear.
    std::size_t begin = e.find_first_not_of(':');
    if (begin == std::string::npos) continue;
    std::size_t end = e.find_last_not_of(':');
    text += (text.empty() ? "" : ":") + e.substr(begin, end - begin + 1);
  }
  return text;
}

std::string compose_preload(const std::string& library, const char* existing_preload) {
  if (!existing_preload || !*existing_preload) return library;
  return library + ":" + existing_preload;
}

std::string library_path(const char* env_library, const std::string& self_exe) {
  fs::path path;
  if (env_library && *env_library)
    path = env_library;
  else
    path = fs::path(self_exe).parent_path().parent_path() / "lib" / "libgilwatch.so";
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  return (ec ? path : absolute).lexically_normal().string();
}

std::string self_executable() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : self.string();
}

std::string findings_doc_url(const std::string& self_exe) {
  if (self_exe.empty()) return "";
  fs::path bin = fs::path(self_exe).parent_path();
  for (const fs::path& candidate : {bin.parent_path().parent_path() / "docs" / "findings.md",
                                    bin.parent_path() / "share" / "doc" / "gilwatch" / "findings.md"}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return "file://" + candidate.lexically_normal().string();
  }
  return "";
}

bool check_library(const std::string& path, std::string* error) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    *error = "preload library not found at '" + path + "' (build it, or point GILWATCH_LIBRARY at it)";
    return false;
  }
  if (!fs::is_regular_file(path, ec)) {
    *error = "preload library '" + path + "' is not a regular file";
    return false;
  }
  if (path.find_first_of(": \t") != std::string::npos) {
    *error = "preload library path '" + path + "' contains ':' or a space, which LD_PRELOAD cannot carry";
    return false;
  }
  return true;
}

bool path_fits_options(const std::string& path) { return path.find(':') == std::string::npos; }

std::vector<std::string> with_variables(const std::vector<std::string>& environment,
                                        const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> out;
  out.reserve(environment.size() + overrides.size());
  for (const std::string& entry : environment) {
    bool replaced = false;
    for (const auto& [name, value] : overrides)
      if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 && entry[name.size()] == '=')
        replaced = true;
    if (!replaced) out.push_back(entry);
  }
  for (const auto& [name, value] : overrides) out.push_back(name + "=" + value);
  return out;
}

}  // namespace gilwatch::harness
