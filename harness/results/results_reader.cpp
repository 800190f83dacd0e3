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
namespace key = gilwatch::result_format::key;
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
  for (const Node& p : owner.elements_of(key::kPythonFrames)) {
    RawPythonFrame frame;
    frame.function = p.string_of(key::kFunction);
    frame.file = p.string_of(key::kFile);
    if (p.has(key::kLine)) frame.line = p.at(key::kLine).small_integer();
    if (p.has(key::kEnteredFromC)) {
      Node n = p.at(key::kEnteredFromC);
      if (!n.value().is_boolean()) n.fail("expected true or false");
      frame.entered_from_c = n.value().get<bool>();
    }
    if (p.has(key::kLoopPc)) frame.loop_pc = p.at(key::kLoopPc).address();
    frames.push_back(std::move(frame));
  }
  return frames;
}

RawFinding read_finding(const Node& f) {
  RawFinding finding;
  finding.kind = f.at(key::kKind).string();
  if (finding.kind.empty()) f.at(key::kKind).fail("empty finding kind");
  finding.summary = f.string_of(key::kSummary);
  for (const Node& l : f.elements_of(key::kLocks)) {
    RawLock lock;
    lock.id = l.at(key::kId).small_integer();
    lock.name = l.string_of(key::kName);
    lock.kind = l.at(key::kKind).string();
    lock.address = l.at(key::kAddress).address();
    if (l.has(key::kFirstSite)) lock.first_site = l.at(key::kFirstSite).addresses();
    for (const RawLock& other : finding.locks)
      if (other.id == lock.id) l.at(key::kId).fail("lock id " + std::to_string(lock.id) + " appears twice");
    finding.locks.push_back(std::move(lock));
  }
  auto known_lock = [&](const Node& n) {
    int id = n.small_integer();
    for (const RawLock& lock : finding.locks)
      if (lock.id == id) return id;
    n.fail("no lock with id " + std::to_string(id) + " in this finding");
  };
  for (const Node& e : f.elements_of(key::kEdges)) {
    RawEdge edge;
    edge.from = known_lock(e.at(key::kFrom));
    edge.to = known_lock(e.at(key::kTo));
    edge.held_mode = e.string_of(key::kHeldMode, rf::kModeWrite);
    edge.acquired_mode = e.string_of(key::kAcquiredMode, rf::kModeWrite);
    if (e.has(key::kThread)) {
      Node t = e.at(key::kThread);
      if (t.has(key::kTid)) edge.tid = t.at(key::kTid).unsigned_integer();
      edge.thread_name = t.string_of(key::kName);
    }
    if (e.has(key::kStack)) edge.stack = e.at(key::kStack).addresses();
    edge.python_frames = read_python_frames(e);
    finding.edges.push_back(std::move(edge));
  }
  for (const Node& t : f.elements_of(key::kThreads)) {
    RawThread thread;
    if (t.has(key::kTid)) thread.tid = t.at(key::kTid).unsigned_integer();
    thread.name = t.string_of(key::kName);
    thread.role = t.string_of(key::kRole);
    if (t.has(key::kWaitsFor)) thread.waits_for = known_lock(t.at(key::kWaitsFor));
    for (const Node& h : t.elements_of(key::kHolds)) thread.holds.push_back(known_lock(h));
    if (t.has(key::kBlockedMs)) thread.blocked_ms = t.at(key::kBlockedMs).unsigned_integer();
    if (t.has(key::kOwnerKnown)) {
      Node n = t.at(key::kOwnerKnown);
      if (!n.value().is_boolean()) n.fail("expected true or false");
      thread.owner_known = n.value().get<bool>();
    }
    if (t.has(key::kStack)) thread.stack = t.at(key::kStack).addresses();
    thread.python_frames = read_python_frames(t);
    finding.threads.push_back(std::move(thread));
  }
  if (f.has(key::kProbable)) {
    Node n = f.at(key::kProbable);
    if (!n.value().is_boolean()) n.fail("expected true or false");
    finding.probable = n.value().get<bool>();
  }
  if (f.has(key::kCount)) finding.occurrences = f.at(key::kCount).unsigned_integer();
  if (f.has(key::kLongestWaitMs)) finding.longest_wait_ms = f.at(key::kLongestWaitMs).unsigned_integer();
  finding.detail = f.string_of(key::kDetail);
  finding.futex_wait = f.string_of(key::kFutexWait);
  if (!finding.futex_wait.empty() && finding.futex_wait != rf::kFutexWaitShort && finding.futex_wait != rf::kFutexWaitLong)
    f.at(key::kFutexWait).fail("expected \"short\" or \"long\"");
  if (f.has(key::kHoldersNeedGil)) {
    Node n = f.at(key::kHoldersNeedGil);
    if (!n.value().is_boolean()) n.fail("expected true or false");
    finding.holders_need_gil = n.value().get<bool>();
  }
  finding.context = f.string_of(key::kContext);
  if (f.has(key::kCycleLength)) finding.cycle_length = f.at(key::kCycleLength).unsigned_integer();
  for (const Node& i : f.elements_of(key::kInstances)) {
    RawInstance instance;
    if (i.has(key::kAddresses)) instance.addresses = i.at(key::kAddresses).addresses();
    for (const Node& tid : i.elements_of(key::kTids)) instance.tids.push_back(tid.unsigned_integer());
    finding.instances.push_back(std::move(instance));
  }
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
  if (!root.has(key::kProfiles)) return profiles;
  Node p = root.at(key::kProfiles);
  profiles.present = true;
  for (const Node& l : p.elements_of(key::kLocks)) {
    RawLockProfile lock;
    lock.kind = l.at(key::kKind).string();
    if (l.has(key::kLocks)) lock.locks = l.at(key::kLocks).unsigned_integer();
    if (l.has(key::kFirstSite)) lock.first_site = l.at(key::kFirstSite).addresses();
    auto counter = [&](const char* key) { return l.has(key) ? l.at(key).unsigned_integer() : uint64_t(0); };
    lock.acquisitions = counter(key::kAcquisitions);
    lock.contended = counter(key::kContended);
    lock.wait_total_ns = counter(key::kWaitTotalNs);
    lock.wait_max_ns = counter(key::kWaitMaxNs);
    lock.holds = counter(key::kHolds);
    lock.hold_total_ns = counter(key::kHoldTotalNs);
    lock.hold_max_ns = counter(key::kHoldMaxNs);
    lock.wait_histogram = read_histogram(l, key::kWaitHistogram);
    lock.hold_histogram = read_histogram(l, key::kHoldHistogram);
    for (const Node& w : l.elements_of(key::kWaiters)) {
      RawLockWaiter waiter;
      if (w.has(key::kTid)) waiter.tid = w.at(key::kTid).unsigned_integer();
      waiter.name = w.string_of(key::kName);
      if (w.has(key::kWaitNs)) waiter.wait_ns = w.at(key::kWaitNs).unsigned_integer();
      if (w.has(key::kStack)) waiter.stack = w.at(key::kStack).addresses();
      lock.waiters.push_back(std::move(waiter));
    }
    profiles.locks.push_back(std::move(lock));
  }
  if (p.has(key::kGil)) {
    Node g = p.at(key::kGil);
    RawGilProfile& gil = profiles.gil;
    gil.present = true;
    gil.observed = g.has(key::kObserved) && g.at(key::kObserved).value().is_boolean() && g.at(key::kObserved).value().get<bool>();
    auto counter = [](const Node& n, const char* key) { return n.has(key) ? n.at(key).unsigned_integer() : uint64_t(0); };
    gil.wall_ns = counter(g, key::kWallNs);
    gil.takes = counter(g, key::kTakes);
    gil.contended_takes = counter(g, key::kContendedTakes);
    gil.held_ns = counter(g, key::kHeldNs);
    gil.waited_ns = counter(g, key::kWaitedNs);
    gil.threads_not_profiled = counter(g, key::kThreadsNotProfiled);
    gil.hold_histogram = read_histogram(g, key::kHoldHistogram);
    gil.wait_histogram = read_histogram(g, key::kWaitHistogram);
    for (const Node& t : g.elements_of(key::kThreads)) {
      RawGilThread thread;
      thread.tid = counter(t, key::kTid);
      thread.name = t.string_of(key::kName);
      thread.takes = counter(t, key::kTakes);
      thread.contended_takes = counter(t, key::kContendedTakes);
      thread.held_ns = counter(t, key::kHeldNs);
      thread.waited_ns = counter(t, key::kWaitedNs);
      thread.longest_hold_ns = counter(t, key::kLongestHoldNs);
      thread.longest_wait_ns = counter(t, key::kLongestWaitNs);
      gil.threads.push_back(std::move(thread));
    }
    for (const Node& n : g.elements_of(key::kSites)) {
      RawGilSite site;
      site.api = n.at(key::kApi).string();
      site.site = n.at(key::kSite).addresses();
      site.calls = counter(n, key::kCalls);
      site.wait_total_ns = counter(n, key::kWaitTotalNs);
      site.wait_max_ns = counter(n, key::kWaitMaxNs);
      site.holds_timed = counter(n, key::kHoldsTimed);
      site.held_total_ns = counter(n, key::kHeldTotalNs);
      site.held_max_ns = counter(n, key::kHeldMaxNs);
      site.sections = counter(n, key::kSections);
      site.released_total_ns = counter(n, key::kReleasedTotalNs);
      site.released_max_ns = counter(n, key::kReleasedMaxNs);
      site.takes_inside = counter(n, key::kTakesInside);
      site.capi_calls_inside = counter(n, key::kCapiCallsInside);
      for (const Node& name : n.elements_of(key::kCapiInside)) site.capi_inside.push_back(name.string());
      gil.sites.push_back(std::move(site));
    }
    gil.sites_not_profiled = counter(g, key::kSitesNotProfiled);
    for (const Node& n : g.elements_of(key::kLongHolds)) {
      RawGilHolder holder;
      if (n.has(key::kSite)) holder.site = n.at(key::kSite).addresses();
      holder.holds = counter(n, key::kHolds);
      holder.held_total_ns = counter(n, key::kHeldTotalNs);
      holder.held_max_ns = counter(n, key::kHeldMaxNs);
      gil.long_holds.push_back(std::move(holder));
    }
  }
  if (p.has(key::kLocksNotListed)) profiles.locks_not_listed = p.at(key::kLocksNotListed).unsigned_integer();
  if (p.has(key::kLocksNotProfiled)) profiles.locks_not_profiled = p.at(key::kLocksNotProfiled).unsigned_integer();
  return profiles;
}

ProcessResults read_document(const Node& root, const std::string& path) {
  if (!root.value().is_object()) root.fail(std::string("expected a JSON object, found ") + root.value().type_name());
  if (!root.has(key::kFormat)) throw FormatError(std::string("not a gilwatch results file (no \"") + key::kFormat + "\" key)");
  std::string format = root.at(key::kFormat).string();
  if (format != rf::kFormatName)
    throw FormatError("not a gilwatch results file (\"format\" is \"" + format.substr(0, 60) + "\", expected \"" +
                      rf::kFormatName + "\")");
  int64_t version = root.at(key::kVersion).integer();
  if (version != rf::kVersion)
    throw FormatError("results format version " + std::to_string(version) + " is not supported (this gilwatch reads version " +
                      std::to_string(rf::kVersion) + (version > rf::kVersion ? "; it is older than the library" : "") +
                      ")");

  ProcessResults r;
  report::Process& p = r.process;
  r.reporter = root.string_of(key::kReporter, rf::kReporterLibrary);
  p.pid = root.at(key::kPid).integer();
  if (root.has(key::kPpid)) p.ppid = root.at(key::kPpid).integer();
  for (const Node& a : root.elements_of(key::kArgv)) p.argv.push_back(a.string());
  p.exe = root.string_of(key::kExe);
  p.state = root.at(key::kState).string();
  if (p.state != rf::kStateRunning && p.state != rf::kStateExited)
    root.at(key::kState).fail("\"" + p.state.substr(0, 40) + "\" is neither \"running\" nor \"exited\"");
  if (p.state == rf::kStateExited && root.has(key::kExitStatus)) p.exit_status = root.at(key::kExitStatus).small_integer();
  if (root.has(key::kPython)) {
    Node py = root.at(key::kPython);
    if (py.has(key::kLoaded) && py.at(key::kLoaded).value().is_boolean() && py.at(key::kLoaded).value().get<bool>())
      p.python_version = py.string_of(key::kVersion);
    if (py.has(key::kTested) && py.at(key::kTested).value().is_boolean() && !py.at(key::kTested).value().get<bool>())
      p.untested_python = report::python_series(py.string_of(key::kVersion));
    if (py.has(key::kFreeThreaded) && py.at(key::kFreeThreaded).value().is_boolean())
      p.free_threaded = py.at(key::kFreeThreaded).value().get<bool>();
    for (const Node& c : py.elements_of(key::kChecksOff)) p.checks_off.push_back(c.string());
  }
  if (root.has(key::kUntrackedLowStack)) p.untracked_low_stack = root.at(key::kUntrackedLowStack).unsigned_integer();
  for (const Node& c : root.elements_of(key::kCapacityWarnings)) {
    report::CapacityWarning w;
    w.capacity = c.at(key::kCapacity).string();
    w.limit = c.at(key::kLimit).unsigned_integer();
    w.lost = c.at(key::kLost).unsigned_integer();
    w.lost_what = c.string_of(key::kLostWhat);
    p.capacity_warnings.push_back(std::move(w));
  }
  p.results_file = path;
  for (const Node& m : root.elements_of(key::kModules)) {
    RawModule module;
    module.path = m.at(key::kPath).string();
    module.load_bias = m.at(key::kLoadBias).address();
    for (const Node& s : m.at(key::kSegments).elements()) {
      std::vector<Node> range = s.elements();
      if (range.size() != 2) s.fail("expected [begin, end]");
      module.segments.emplace_back(range[0].address(), range[1].address());
    }
    r.modules.push_back(std::move(module));
  }
  for (const Node& f : root.at(key::kFindings).elements()) r.findings.push_back(read_finding(f));
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
