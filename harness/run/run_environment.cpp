#include "run_environment.h"

#include <filesystem>
#include <stdexcept>

namespace gilwatch::harness {

namespace fs = std::filesystem;

namespace {

std::size_t row_of(const std::string& key) {
  const OptionInfo* row = find_option(key.c_str());
  if (!row) throw std::logic_error("no GILWATCH_OPTIONS key '" + key + "'");
  return static_cast<std::size_t>(row - kOptionTable);
}

}  // namespace

void LibraryFlags::set(const std::string& key, std::string value) { values[row_of(key)] = std::move(value); }

const std::optional<std::string>& LibraryFlags::get(const std::string& key) const { return values[row_of(key)]; }

std::string compose_options(const char* user_options, const LibraryFlags& flags) {
  std::vector<std::string> entries = {kRunDefaultOptions};
  if (user_options && *user_options) entries.emplace_back(user_options);
  entries.push_back("out_dir=" + flags.out_dir);
  for (std::size_t i = 0; i < kOptionCount; ++i)
    if (flags.values[i]) entries.push_back(std::string(kOptionTable[i].key) + "=" + *flags.values[i]);
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
