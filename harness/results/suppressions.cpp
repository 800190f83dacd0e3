#include "suppressions.h"

#include <algorithm>

#include "describe.h"
#include "text_file.h"

namespace gilwatch::harness {

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matching with one backtrack point: the last '*' seen.
  std::size_t p = 0, t = 0, star = std::string_view::npos, star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t]) && pattern[p] != '*') {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {

std::string_view trimmed(std::string_view s) {
  const char* kSpace = " \t\r\f\v";
  std::size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  std::size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

bool is_known_kind(const std::string& kind) {
  std::vector<std::string> kinds = report::known_kinds();
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

std::string known_kinds_text() {
  std::string text;
  for (const std::string& k : report::known_kinds()) text += (text.empty() ? "" : ", ") + k;
  return text;
}

}  // namespace

bool parse_suppressions(const std::string& text, const std::string& file_name, std::vector<SuppressionRule>* rules,
                        std::string* error) {
  return for_each_meaningful_line(text, [&](int line_number, std::string_view line) {
    auto fail = [&](const std::string& reason) {
      *error = file_name + ":" + std::to_string(line_number) + ": " + reason;
      return false;
    };
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      return fail("expected KIND:PATTERN (e.g. lock-order-inversion:libfoo.so), got '" + std::string(line) + "'");
    std::string kind(trimmed(line.substr(0, colon)));
    std::string pattern(trimmed(line.substr(colon + 1)));
    if (kind.empty()) return fail("no finding kind before ':' (use '*' for every kind)");
    if (kind != "*" && !is_known_kind(kind))
      return fail("unknown finding kind '" + kind + "' (known: " + known_kinds_text() + ", or *)");
    if (pattern.empty()) return fail("empty pattern after '" + kind + ":'");
    rules->push_back({kind, pattern, file_name, line_number});
    return true;
  });
}

bool load_suppressions(const std::string& path, std::vector<SuppressionRule>* rules, std::string* error) {
  std::string text, read_error;
  if (!read_text_file(path, &text, &read_error)) {
    *error = "cannot read suppressions file " + path + ": " + read_error;
    return false;
  }
  return parse_suppressions(text, path, rules, error);
}

namespace {

// The names a pattern is tried against, for one thread: each frame's function, module
// and source file (the last two as full path and file name).
std::vector<std::string> frame_names(const report::Thread& t) {
  std::vector<std::string> names;
  auto add_path = [&](const std::string& path) {
    if (path.empty()) return;
    names.push_back(path);
    std::string base = report::base_name(path);
    if (base != path) names.push_back(base);
  };
  for (const report::NativeFrame& f : t.native_frames) {
    if (!f.function.empty() && f.function != "??") names.push_back(f.function);
    add_path(f.module);
    add_path(f.file);
  }
  for (const report::PythonFrame& f : t.python_frames) {
    if (!f.function.empty()) names.push_back(f.function);
    add_path(f.file);
  }
  return names;
}

}  // namespace

std::optional<report::Suppression> match_suppression(const report::Finding& finding,
                                                     const std::vector<SuppressionRule>& rules) {
  std::vector<std::string> names;
  for (const report::Thread& t : finding.threads) {
    std::vector<std::string> more = frame_names(t);
    names.insert(names.end(), more.begin(), more.end());
  }
  for (const SuppressionRule& rule : rules) {
    if (rule.kind != "*" && rule.kind != finding.kind) continue;
    for (const std::string& name : names)
      if (glob_match(rule.pattern, name)) return report::Suppression{rule.text(), rule.file, rule.line, name};
  }
  return std::nullopt;
}

}  // namespace gilwatch::harness
