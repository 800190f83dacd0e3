#include "baseline.h"

#include <map>

#include "describe.h"
#include "text_file.h"

namespace gilwatch::harness {

namespace {

bool is_fingerprint(const std::string& word) {
  return word.size() == 16 && word.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// One line of text: a summary with a newline or a control character would break the
// file's one-finding-per-line shape.
std::string one_line(const std::string& text) {
  std::string out;
  for (unsigned char c : text) out += c < 0x20 || c == 0x7f ? ' ' : char(c);
  return out;
}

}  // namespace

bool parse_baseline(const std::string& text, const std::string& file_name, Baseline* baseline, std::string* error) {
  baseline->file = file_name;
  return for_each_meaningful_line(text, [&](int line_number, std::string_view line) {
    std::string word(line.substr(0, line.find_first_of(" \t")));
    if (!is_fingerprint(word)) {
      *error = file_name + ":" + std::to_string(line_number) +
               ": expected a fingerprint (16 lowercase hex digits) at the start of the line, got '" + word +
               "' (write the file with 'gilwatch report DIR --write-baseline FILE')";
      return false;
    }
    baseline->fingerprints.insert(word);
    return true;
  });
}

bool load_baseline(const std::string& path, Baseline* baseline, std::string* error) {
  std::string text, read_error;
  if (!read_text_file(path, &text, &read_error)) {
    *error = "cannot read baseline file " + path + ": " + read_error;
    return false;
  }
  return parse_baseline(text, path, baseline, error);
}

std::string render_baseline(const report::Report& report) {
  std::map<std::string, std::string> lines;  // by fingerprint
  for (const auto* findings : {&report.findings, &report.baselined})
    for (const report::Finding& f : *findings)
      lines.emplace(report::fingerprint(f), report::fingerprint(f) + " " + one_line(f.kind) + " " + one_line(f.summary));
  std::string out =
      "# gilwatch baseline: FINGERPRINT KIND SUMMARY, one known finding per line.\n"
      "# 'gilwatch run|stress|report --baseline FILE' reports only findings not listed here;\n"
      "# only the fingerprint counts. Delete a line to have that finding reported again.\n";
  for (const auto& [fp, line] : lines) out += line + "\n";
  return out;
}

}  // namespace gilwatch::harness
