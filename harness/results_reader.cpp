#include "results_reader.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "describe.h"
#include "gilwatch/duration_buckets.h"
#include "gilwatch/result_format.h"
#include "text_file.h"

namespace gilwatch::harness {

namespace fs = std::filesystem;
namespace rf = gilwatch::result_format;
using nlohmann::json;

namespace {

// A problem in a well-formed JSON document: what is wrong, at which key.
struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A JSON value and the path that led to it, so every complaint can name its key.
class Node {
 public:
  Node(const json& value, std::string path) : value_(value), path_(std::move(path)) {}

  const json& value() const { return value_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError((path_.empty() ? std::string("document") : path_) + ": " + what);
  }

  bool has(const char* key) const { return value_.is_object() && value_.contains(key) && !value_[key].is_null(); }

  Node at(const char* key) const {
    if (!value_.is_object()) fail("expected an object");
    auto it = value_.find(key);
    if (it == value_.end()) throw FormatError("missing key '" + child_path(key) + "'");
    return Node(*it, child_path(key));
  }

  // Elements of an array (required to be one when present).
  std::vector<Node> elements() const {
    if (!value_.is_array()) fail(std::string("expected an array, found ") + value_.type_name());
    std::vector<Node> out;
    for (std::size_t i = 0; i < value_.size(); ++i) out.emplace_back(value_[i], path_ + "[" + std::to_string(i) + "]");
    return out;
  }
  std::vector<Node> elements_of(const char* key) const { return has(key) ? at(key).elements() : std::vector<Node>{}; }

  std::string string() const {
    if (!value_.is_string()) fail(std::string("expected a string, found ") + value_.type_name());
    return value_.get<std::string>();
  }
  std::string string_of(const char* key, const std::string& fallback = "") const {
    return has(key) ? at(key).string() : fallback;
  }

  int64_t integer() const {
    if (!value_.is_number_integer()) fail(std::string("expected an integer, found ") + value_.type_name());
    if (value_.is_number_unsigned() && value_.get<uint64_t>() > uint64_t(INT64_MAX)) fail("integer out of range");
    return value_.get<int64_t>();
  }
  int small_integer() const {
    int64_t v = integer();
    if (v < INT32_MIN || v > INT32_MAX) fail("integer out of range");
    return int(v);
  }
  uint64_t unsigned_integer() const {
    if (!value_.is_number_unsigned()) fail(std::string("expected a non-negative integer, found ") + value_.type_name());
    return value_.get<uint64_t>();
  }

  // Addresses are "0x..." strings (they exceed what JSON numbers carry exactly).
  uint64_t address() const {
    if (value_.is_number_unsigned()) return value_.get<uint64_t>();
    const std::string s = string();
    if (s.size() < 3 || s.size() > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') ||
        s.find_first_not_of("0123456789abcdefABCDEF", 2) != std::string::npos)
      fail("'" + s.substr(0, 40) + "' is not an address (\"0x\" and hex digits)");
    return std::stoull(s.substr(2), nullptr, 16);
  }
  std::vector<uint64_t> addresses() const {
    std::vector<uint64_t> out;
    for (const Node& n : elements()) out.push_back(n.address());
    return out;
  }

 private:
  std::string child_path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  const json& value_;
  std::string path_;
};

// "[json.exception.parse_error.101] parse error at line 1, column 9: syntax error ..."
// -> "syntax error ..."
std::string parse_error_reason(const std::string& what) {
  auto column = what.find("column ");
  auto colon = what.find(": ", column == std::string::npos ? 0 : column);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

// The "python_frames" array of an edge or a thread (absent: none).
std::vector<RawPythonFrame> read_python_frames(const Node& owner) {
  std::vector<RawPythonFrame> frames;
  for (const Node& p : owner.elements_of("python_frames")) {
    RawPythonFrame frame;
    frame.function = p.string_of("function");
    frame.file = p.string_of("file");
    if (p.has("line")) frame.line = p.at("line").small_integer();
    frames.push_back(std::move(frame));
  }
  return frames;
}

RawFinding read_finding(const Node& f) {
  RawFinding finding;
  finding.kind = f.at("kind").string();
  if (finding.kind.empty()) f.at("kind").fail("empty finding kind");
  finding.summary = f.string_of("summary");
  for (const Node& l : f.elements_of("locks")) {
    RawLock lock;
    lock.id = l.at("id").small_integer();
    lock.name = l.string_of("name");
    lock.kind = l.at("kind").string();
    lock.address = l.at("address").address();
    if (l.has("first_site")) lock.first_site = l.at("first_site").addresses();
    for (const RawLock& other : finding.locks)
      if (other.id == lock.id) l.at("id").fail("lock id " + std::to_string(lock.id) + " appears twice");
    finding.locks.push_back(std::move(lock));
  }
  auto known_lock = [&](const Node& n) {
    int id = n.small_integer();
    for (const RawLock& lock : finding.locks)
      if (lock.id == id) return id;
    n.fail("no lock with id " + std::to_string(id) + " in this finding");
  };
  for (const Node& e : f.elements_of("edges")) {
    RawEdge edge;
    edge.from = known_lock(e.at("from"));
    edge.to = known_lock(e.at("to"));
    edge.held_mode = e.string_of("held_mode", rf::kModeWrite);
    edge.acquired_mode = e.string_of("acquired_mode", rf::kModeWrite);
    if (e.has("thread")) {
      Node t = e.at("thread");
      if (t.has("tid")) edge.tid = t.at("tid").unsigned_integer();
      edge.thread_name = t.string_of("name");
    }
    if (e.has("stack")) edge.stack = e.at("stack").addresses();
    edge.python_frames = read_python_frames(e);
    finding.edges.push_back(std::move(edge));
  }
  for (const Node& t : f.elements_of("threads")) {
    RawThread thread;
    if (t.has("tid")) thread.tid = t.at("tid").unsigned_integer();
    thread.name = t.string_of("name");
    thread.role = t.string_of("role");
    if (t.has("waits_for")) thread.waits_for = known_lock(t.at("waits_for"));
    for (const Node& h : t.elements_of("holds")) thread.holds.push_back(known_lock(h));
    if (t.has("stack")) thread.stack = t.at("stack").addresses();
    thread.python_frames = read_python_frames(t);
    finding.threads.push_back(std::move(thread));
  }
  if (f.has("probable")) {
    Node n = f.at("probable");
    if (!n.value().is_boolean()) n.fail("expected true or false");
    finding.probable = n.value().get<bool>();
  }
  if (f.has("count")) finding.occurrences = f.at("count").unsigned_integer();
  if (f.has("longest_wait_ms")) finding.longest_wait_ms = f.at("longest_wait_ms").unsigned_integer();
  finding.detail = f.string_of("detail");
  finding.context = f.string_of("context");
  return finding;
}

std::vector<std::pair<int, uint64_t>> read_histogram(const Node& owner, const char* key) {
  std::vector<std::pair<int, uint64_t>> out;
  for (const Node& pair : owner.elements_of(key)) {
    std::vector<Node> parts = pair.elements();
    if (parts.size() != 2) pair.fail("expected [bucket, count]");
    int bucket = parts[0].small_integer();
    if (bucket < 0 || bucket >= duration_buckets::kCount)
      parts[0].fail("bucket " + std::to_string(bucket) + " is out of range");
    out.emplace_back(bucket, parts[1].unsigned_integer());
  }
  return out;
}

RawProfiles read_profiles(const Node& root) {
  RawProfiles profiles;
  if (!root.has("profiles")) return profiles;
  Node p = root.at("profiles");
  profiles.present = true;
  for (const Node& l : p.elements_of("locks")) {
    RawLockProfile lock;
    lock.kind = l.at("kind").string();
    if (l.has("locks")) lock.locks = l.at("locks").unsigned_integer();
    if (l.has("first_site")) lock.first_site = l.at("first_site").addresses();
    auto counter = [&](const char* key) { return l.has(key) ? l.at(key).unsigned_integer() : uint64_t(0); };
    lock.acquisitions = counter("acquisitions");
    lock.contended = counter("contended");
    lock.wait_total_ns = counter("wait_total_ns");
    lock.wait_max_ns = counter("wait_max_ns");
    lock.holds = counter("holds");
    lock.hold_total_ns = counter("hold_total_ns");
    lock.hold_max_ns = counter("hold_max_ns");
    lock.wait_histogram = read_histogram(l, "wait_histogram");
    lock.hold_histogram = read_histogram(l, "hold_histogram");
    for (const Node& w : l.elements_of("waiters")) {
      RawLockWaiter waiter;
      if (w.has("tid")) waiter.tid = w.at("tid").unsigned_integer();
      waiter.name = w.string_of("name");
      if (w.has("wait_ns")) waiter.wait_ns = w.at("wait_ns").unsigned_integer();
      if (w.has("stack")) waiter.stack = w.at("stack").addresses();
      lock.waiters.push_back(std::move(waiter));
    }
    profiles.locks.push_back(std::move(lock));
  }
  if (p.has("gil")) {
    Node g = p.at("gil");
    RawGilProfile& gil = profiles.gil;
    gil.present = true;
    gil.observed = g.has("observed") && g.at("observed").value().is_boolean() && g.at("observed").value().get<bool>();
    auto counter = [](const Node& n, const char* key) { return n.has(key) ? n.at(key).unsigned_integer() : uint64_t(0); };
    gil.wall_ns = counter(g, "wall_ns");
    gil.takes = counter(g, "takes");
    gil.contended_takes = counter(g, "contended_takes");
    gil.held_ns = counter(g, "held_ns");
    gil.waited_ns = counter(g, "waited_ns");
    gil.threads_not_profiled = counter(g, "threads_not_profiled");
    gil.hold_histogram = read_histogram(g, "hold_histogram");
    gil.wait_histogram = read_histogram(g, "wait_histogram");
    for (const Node& t : g.elements_of("threads")) {
      RawGilThread thread;
      thread.tid = counter(t, "tid");
      thread.name = t.string_of("name");
      thread.takes = counter(t, "takes");
      thread.contended_takes = counter(t, "contended_takes");
      thread.held_ns = counter(t, "held_ns");
      thread.waited_ns = counter(t, "waited_ns");
      thread.longest_hold_ns = counter(t, "longest_hold_ns");
      thread.longest_wait_ns = counter(t, "longest_wait_ns");
      gil.threads.push_back(std::move(thread));
    }
    for (const Node& n : g.elements_of("sites")) {
      RawGilSite site;
      site.api = n.at("api").string();
      site.site = n.at("site").addresses();
      site.calls = counter(n, "calls");
      site.wait_total_ns = counter(n, "wait_total_ns");
      site.wait_max_ns = counter(n, "wait_max_ns");
      site.holds_timed = counter(n, "holds_timed");
      site.held_total_ns = counter(n, "held_total_ns");
      site.held_max_ns = counter(n, "held_max_ns");
      site.sections = counter(n, "sections");
      site.released_total_ns = counter(n, "released_total_ns");
      site.released_max_ns = counter(n, "released_max_ns");
      site.takes_inside = counter(n, "takes_inside");
      site.capi_calls_inside = counter(n, "capi_calls_inside");
      for (const Node& name : n.elements_of("capi_inside")) site.capi_inside.push_back(name.string());
      gil.sites.push_back(std::move(site));
    }
    gil.sites_not_profiled = counter(g, "sites_not_profiled");
    for (const Node& n : g.elements_of("long_holds")) {
      RawGilHolder holder;
      if (n.has("site")) holder.site = n.at("site").addresses();
      holder.holds = counter(n, "holds");
      holder.held_total_ns = counter(n, "held_total_ns");
      holder.held_max_ns = counter(n, "held_max_ns");
      gil.long_holds.push_back(std::move(holder));
    }
  }
  if (p.has("locks_not_listed")) profiles.locks_not_listed = p.at("locks_not_listed").unsigned_integer();
  if (p.has("locks_not_profiled")) profiles.locks_not_profiled = p.at("locks_not_profiled").unsigned_integer();
  return profiles;
}

ProcessResults read_document(const Node& root, const std::string& path) {
  if (!root.value().is_object()) root.fail(std::string("expected a JSON object, found ") + root.value().type_name());
  if (!root.has("format")) throw FormatError("not a gilwatch results file (no \"format\" key)");
  std::string format = root.at("format").string();
  if (format != rf::kFormatName)
    throw FormatError("not a gilwatch results file (\"format\" is \"" + format.substr(0, 60) + "\", expected \"" +
                      rf::kFormatName + "\")");
  int64_t version = root.at("version").integer();
  if (version != rf::kVersion)
    throw FormatError("results format version " + std::to_string(version) + " is not supported (this gilwatch reads version " +
                      std::to_string(rf::kVersion) + (version > rf::kVersion ? "; it is older than the library" : "") +
                      ")");

  ProcessResults r;
  report::Process& p = r.process;
  r.reporter = root.string_of("reporter", "library");
  p.pid = root.at("pid").integer();
  if (root.has("ppid")) p.ppid = root.at("ppid").integer();
  for (const Node& a : root.elements_of("argv")) p.argv.push_back(a.string());
  p.exe = root.string_of("exe");
  p.state = root.at("state").string();
  if (p.state != "running" && p.state != "exited")
    root.at("state").fail("\"" + p.state.substr(0, 40) + "\" is neither \"running\" nor \"exited\"");
  if (p.state == "exited" && root.has("exit_status")) p.exit_status = root.at("exit_status").small_integer();
  if (root.has("python")) {
    Node py = root.at("python");
    if (py.has("loaded") && py.at("loaded").value().is_boolean() && py.at("loaded").value().get<bool>())
      p.python_version = py.string_of("version");
    if (py.has("tested") && py.at("tested").value().is_boolean() && !py.at("tested").value().get<bool>())
      p.untested_python = report::python_series(py.string_of("version"));
    if (py.has("free_threaded") && py.at("free_threaded").value().is_boolean())
      p.free_threaded = py.at("free_threaded").value().get<bool>();
    for (const Node& c : py.elements_of("checks_off")) p.checks_off.push_back(c.string());
  }
  if (root.has("untracked_low_stack")) p.untracked_low_stack = root.at("untracked_low_stack").unsigned_integer();
  p.results_file = path;
  for (const Node& m : root.elements_of("modules")) {
    RawModule module;
    module.path = m.at("path").string();
    module.load_bias = m.at("load_bias").address();
    for (const Node& s : m.at("segments").elements()) {
      std::vector<Node> range = s.elements();
      if (range.size() != 2) s.fail("expected [begin, end]");
      module.segments.emplace_back(range[0].address(), range[1].address());
    }
    r.modules.push_back(std::move(module));
  }
  for (const Node& f : root.at("findings").elements()) r.findings.push_back(read_finding(f));
  r.profiles = read_profiles(root);
  return r;
}

// Start time, then pid, from "gilwatch.<pid>.<ns>.json"; files named otherwise last.
struct StartKey {
  bool parsed = false;
  uint64_t ns = 0, pid = 0;
  std::string name;
  bool operator<(const StartKey& o) const {
    if (parsed != o.parsed) return parsed;
    if (parsed && ns != o.ns) return ns < o.ns;
    if (parsed && pid != o.pid) return pid < o.pid;
    return name < o.name;
  }
};

StartKey start_key(const std::string& name) {
  StartKey key;
  key.name = name;
  unsigned long long pid = 0, ns = 0;
  int used = 0;
  if (std::sscanf(name.c_str(), "gilwatch.%llu.%llu.json%n", &pid, &ns, &used) == 2 && std::size_t(used) == name.size()) {
    key.parsed = true;
    key.pid = pid;
    key.ns = ns;
  }
  return key;
}

}  // namespace

bool parse_results(const std::string& text, const std::string& path, ProcessResults* out, std::string* error) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    *error = text.empty() ? "empty file" : "no JSON in the file";
    return false;
  }
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    if (e.byte >= text.size())
      *error = "truncated: the JSON ends at byte " + std::to_string(text.size()) +
               " before the document is complete";
    else
      *error = "corrupt JSON at byte " + std::to_string(e.byte) + ": " + parse_error_reason(e.what());
    return false;
  }
  try {
    *out = read_document(Node(document, ""), path);
    return true;
  } catch (const FormatError& e) {
    *error = e.what();
  } catch (const std::exception& e) {
    *error = std::string("unexpected content: ") + e.what();
  }
  return false;
}

bool read_results_file(const std::string& path, ProcessResults* out, std::string* error) {
  std::string text;
  if (!read_text_file(path, &text, error)) return false;
  return parse_results(text, path, out, error);
}

std::string results_directory(const std::string& dir) {
  std::error_code ec;
  fs::path raw = fs::path(dir) / "raw";
  return fs::is_directory(raw, ec) ? raw.string() : dir;
}

std::vector<std::string> list_results_files(const std::string& dir) {
  fs::path base(results_directory(dir));
  std::vector<std::pair<StartKey, std::string>> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || name.size() <= std::strlen(rf::kFilePrefix) + std::strlen(rf::kFileSuffix) ||
        !name.starts_with(rf::kFilePrefix) || !name.ends_with(rf::kFileSuffix))
      continue;
    files.emplace_back(start_key(name), entry.path().string());
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [key, path] : files) out.push_back(std::move(path));
  return out;
}

}  // namespace gilwatch::harness
