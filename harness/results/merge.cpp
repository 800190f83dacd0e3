#include "merge.h"

#include <algorithm>
#include <map>
#include <set>

#include "describe.h"
#include "futex_rules.h"
#include "gilwatch/duration_buckets.h"
#include "gilwatch/result_format.h"
#include "panic_verdict.h"

namespace gilwatch::harness {

namespace {

const RawModule* module_of(const ProcessResults& p, uint64_t pc) {
  // Newest first: after a dlclose/dlopen the same range belongs to the later object.
  for (auto it = p.modules.rbegin(); it != p.modules.rend(); ++it)
    for (const auto& [begin, end] : it->segments)
      if (pc >= begin && pc < end) return &*it;
  return nullptr;
}

// Captured pcs are return addresses: the call instruction ends just before them, and
// for a call that is the last instruction of an inlined block or of a function, pc
// itself belongs to the next line or even the next function. Looking up pc - 1 names
// the call. (A signal frame's pc is exact; the results format has none yet.)
uint64_t lookup_offset(uint64_t offset) { return offset == 0 ? 0 : offset - 1; }

// Every (module, offset) wanted by any finding, symbolized in one batch per module.
class FrameTable {
 public:
  FrameTable(Symbolizer& symbolizer, std::size_t budget) : symbolizer_(symbolizer), budget_(budget) {}

  void want(const ProcessResults& p, uint64_t pc) {
    const RawModule* m = module_of(p, pc);
    if (!m) return;
    Key key{m->path, lookup_offset(pc - m->load_bias)};
    if (wanted_.size() >= budget_ && !wanted_.count(key)) return;
    wanted_.insert(std::move(key));
  }

  void resolve() {
    std::map<std::string, std::vector<uint64_t>> by_module;
    for (const Key& key : wanted_) by_module[key.first].push_back(key.second);
    for (const auto& [module, offsets] : by_module) {
      auto frames = symbolizer_.symbolize(module, offsets);
      for (std::size_t i = 0; i < offsets.size() && i < frames.size(); ++i)
        resolved_[{module, offsets[i]}] = std::move(frames[i]);
    }
  }

  // The frames at one pc: inlined functions first, then the function that made the call.
  std::vector<report::NativeFrame> frames(const ProcessResults& p, uint64_t pc) const {
    report::NativeFrame base;
    base.pc = pc;
    base.function = "??";
    const RawModule* m = module_of(p, pc);
    if (!m) return {base};
    base.module = m->path;
    base.offset = pc - m->load_bias;
    auto it = resolved_.find({m->path, lookup_offset(base.offset)});
    if (it == resolved_.end() || it->second.empty()) return {base};
    std::vector<report::NativeFrame> out;
    for (const SymbolizedFrame& s : it->second) {
      report::NativeFrame f = base;
      f.function = s.function.empty() ? "??" : s.function;
      f.file = s.file;
      f.line = s.line;
      out.push_back(std::move(f));
    }
    return out;
  }

 private:
  using Key = std::pair<std::string, uint64_t>;  // module path, lookup offset
  Symbolizer& symbolizer_;
  std::size_t budget_;
  std::set<Key> wanted_;
  std::map<Key, std::vector<SymbolizedFrame>> resolved_;
};

// A stack as the report shows it: symbolized, and without gilwatch's own frames — the
// hooks at the top and the thread-start trampoline further down are not the code under
// test and only lengthen what a reader has to skip.
std::vector<report::NativeFrame> stack_frames(const FrameTable& table, const ProcessResults& p,
                                              const std::vector<uint64_t>& pcs) {
  std::vector<report::NativeFrame> out;
  for (uint64_t pc : pcs)
    for (report::NativeFrame& f : table.frames(p, pc)) {
      if (is_gilwatch_module(f.module)) continue;
      out.push_back(std::move(f));
    }
  return out;
}

// The futex word a short gil-held-blocking wait was for, as its waiter's frames name it.
std::string short_wait_lock_name(const report::Finding& f) {
  for (const report::Thread& t : f.threads)
    if (const report::Lock* word = futex_rules::futex_word_of(f, t)) return word->name;
  return "";
}

report::Finding build_finding(const RawFinding& raw, const ProcessResults& p, const FrameTable& table) {
  report::Finding f;
  f.kind = raw.kind;
  f.severity = report::kind_info(raw.kind).severity;
  f.pids.push_back(p.process.pid);
  for (const RawLock& rl : raw.locks) {
    report::Lock l;
    l.id = rl.id;
    l.name = rl.name;
    l.kind = rl.kind;
    l.address = rl.address;
    l.first_site = stack_frames(table, p, rl.first_site);
    f.locks.push_back(std::move(l));
  }
  for (const RawEdge& re : raw.edges) {
    report::Thread t;
    t.tid = re.tid;
    t.name = re.thread_name;
    const report::Lock* from = report::find_lock(f, re.from);
    const report::Lock* to = report::find_lock(f, re.to);
    if (from && to) t.role = report::thread_role(*from, re.held_mode, *to, re.acquired_mode);
    t.native_frames = stack_frames(table, p, re.stack);
    for (const RawPythonFrame& py : re.python_frames)
      t.python_frames.push_back({py.function, py.file, py.line, py.entered_from_c, py.loop_pc});
    f.edges.push_back({re.from, re.to, re.held_mode, re.acquired_mode, int(f.threads.size())});
    f.threads.push_back(std::move(t));
  }
  for (const RawThread& rt : raw.threads) {
    report::Thread t;
    t.tid = rt.tid;
    t.name = rt.name;
    t.role = rt.role;
    t.waits_for = rt.waits_for;
    t.holds = rt.holds;
    t.owner_known = rt.owner_known;
    t.blocked_ms = rt.blocked_ms;
    t.native_frames = stack_frames(table, p, rt.stack);
    for (const RawPythonFrame& py : rt.python_frames)
      t.python_frames.push_back({py.function, py.file, py.line, py.entered_from_c, py.loop_pc});
    f.threads.push_back(std::move(t));
  }
  f.probable = raw.probable;
  f.occurrences = raw.occurrences;
  f.longest_wait_ms = raw.longest_wait_ms;
  f.detail = raw.detail;
  if (raw.cycle_length > f.locks.size()) f.cycle_length = raw.cycle_length;
  if (raw.kind == result_format::kLockOrderInversion && !f.locks.empty())
    f.summary = "lock-order inversion (potential deadlock): " + report::cycle_text(f);
  else
    f.summary = raw.summary.empty() ? report::kind_info(raw.kind).title : raw.summary;
  // A futex word has no type the library can see; the frames of the thread waiting on
  // it say which lock implementation it belongs to (docs/futex-locks.md).
  futex_rules::name_futex_waits(f);
  f.signature = finding_signature(f);
  f.legacy_signature = legacy_finding_signature(f);
  return f;
}

}  // namespace

std::string stable_function_name(const std::string& function) {
  std::string name = function;
  // C++ clones as the demangler names them: "f(int) [clone .isra.0]".
  for (std::size_t clone; (clone = name.find(" [clone .")) != std::string::npos;) {
    std::size_t close = name.find(']', clone);
    name.erase(clone, close == std::string::npos ? std::string::npos : close - clone + 1);
  }
  // C clones keep the suffix in the symbol: "f.isra.0", "f.constprop.0.cold". Whether
  // the compiler clones a function depends on its callers, not on the function.
  for (const char* suffix : {".isra.", ".constprop.", ".part.", ".cold", ".lto_priv.", ".localalias"}) {
    std::size_t at = name.find(suffix);
    if (at != std::string::npos && at > 0) name.erase(at);
  }
  return name;
}

bool is_gilwatch_module(const std::string& path) {
  std::string base = report::base_name(path);
  return base.rfind("libgilwatch", 0) == 0 && base.find(".so") != std::string::npos;
}

namespace {

// Where a thread was: its innermost frame past the language runtime's own frames (a Rust
// panic's unwinding path, a futex lock's slow path: the same for every site), by stable
// function name, or for a frame without symbols by module and offset. `depth` frames
// from there, innermost first: the second is the call one frame up, which tells apart
// the callers of one helper that takes the locks (lock_pair(a, b)).
std::string code_at(const std::vector<report::NativeFrame>& frames, std::size_t depth) {
  if (frames.empty()) return "?";
  std::size_t program = report::first_program_frame(frames);
  if (program >= frames.size()) program = 0;
  std::string out;
  for (std::size_t i = program; i < frames.size() && i < program + depth; ++i) {
    const report::NativeFrame& f = frames[i];
    std::string name;
    if (f.function != "??" && !f.function.empty())
      name = stable_function_name(f.function);
    else  // no symbols: the offset in the object is still the same code in every process
      name = f.module.empty() ? std::string("?") : report::base_name(f.module) + "+" + report::hex(f.offset);
    out += (out.empty() ? "" : "<") + name;
  }
  return out;
}

std::string lock_name_key(const report::Lock& lock) {
  return lock.name.empty() ? lock.kind : lock.kind + ":" + lock.name;
}

// What every finding without a cycle is keyed by, besides its kind: its detail and where
// its threads were (and, with `lock_sites`, where its locks were taken).
std::string places_signature(const report::Finding& f, bool lock_sites) {
  // The summary names thread ids and addresses, which differ from run to run; what
  // identifies the bug is the kind, its detail and where its threads were. A thread
  // known only by name (a leaked thread, a crash's faulthandler dump) says where through
  // its innermost Python frame, or not at all: how many such threads a run had must not
  // split the finding.
  std::vector<std::string> places;
  for (const report::Thread& t : f.threads) {
    if (!t.native_frames.empty())
      places.push_back(code_at(t.native_frames, 1));
    else if (!t.python_frames.empty())
      places.push_back("py:" + t.python_frames.front().function);
  }
  if (lock_sites)
    for (const report::Lock& l : f.locks) places.push_back("lock:" + lock_class(l));
  std::sort(places.begin(), places.end());
  places.erase(std::unique(places.begin(), places.end()), places.end());
  std::string joined = (f.probable ? "probable\n" : "") + f.detail + "\n";
  for (const std::string& place : places) joined += place + "\n";
  return f.kind + "\n" + joined;
}

// The cycle's parts rotated to the smallest, so the cycle closed from another edge
// matches too.
std::string canonical_cycle(const report::Finding& f, const std::vector<std::string>& parts) {
  std::string best;
  for (std::size_t start = 0; start < parts.size(); ++start) {
    std::string rotation;
    for (std::size_t i = 0; i < parts.size(); ++i) rotation += parts[(start + i) % parts.size()] + "\n";
    if (start == 0 || rotation < best) best = rotation;
  }
  return f.kind + "\n" + best;
}

const report::Thread* edge_thread(const report::Finding& f, const report::Edge& e) {
  if (e.thread_index < 0 || std::size_t(e.thread_index) >= f.threads.size()) return nullptr;
  return &f.threads[std::size_t(e.thread_index)];
}

}  // namespace

std::string lock_class(const report::Lock& lock) {
  std::string key = lock_name_key(lock);
  if (lock.kind == result_format::kLockKindGil) return key;  // one lock (per interpreter)
  if (lock.first_site.empty()) return "";
  return key + "@" + code_at(lock.first_site, 1);
}

bool has_lock_sites(const std::string& kind) {
  return kind == result_format::kAbandonedLock || kind == result_format::kForkWithLockHeld;
}

std::string finding_signature(const report::Finding& f) {
  if (f.edges.empty()) return places_signature(f, has_lock_sites(f.kind));
  // A cycle is keyed by its lock classes when they tell its locks apart: the same classes
  // in the same order are the same bug, on whichever instances and at whichever sites
  // the orders were taken (as lockdep's classes group them). When two of its locks are
  // of one class (both first taken in one helper), or a lock has no class (a futex word),
  // the classes cannot say which bug this is, and where each edge was taken, with the
  // call one frame up, joins the key.
  std::vector<std::string> classes;
  bool distinct = true;
  for (const report::Edge& e : f.edges) {
    const report::Lock* lock = report::find_lock(f, e.from);
    std::string c = lock ? lock_class(*lock) : "";
    distinct = distinct && !c.empty() && std::find(classes.begin(), classes.end(), c) == classes.end();
    // Without a class the lock still has a kind (and name), which tells cycles apart.
    if (c.empty()) c = lock ? lock_name_key(*lock) : "?";
    classes.push_back(c);
  }
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < f.edges.size(); ++i) {
    const report::Edge& e = f.edges[i];
    std::string part = classes[i] + ">" + classes[(i + 1) % classes.size()];
    if (!distinct) {
      const report::Thread* t = edge_thread(f, e);
      part += "@" + (t ? code_at(t->native_frames, 2) : std::string("?"));
    }
    parts.push_back(part);
  }
  return canonical_cycle(f, parts);
}

void add_instance(report::Finding* finding, report::Instance instance) {
  for (const report::Instance& known : finding->instances)
    if (known.pid == instance.pid && known.addresses == instance.addresses) return;
  if (finding->instances.size() >= kMaxInstancesListed) {
    ++finding->instances_not_listed;
    return;
  }
  finding->instances.push_back(std::move(instance));
}

std::string legacy_finding_signature(const report::Finding& f) {
  if (f.edges.empty()) return places_signature(f, false);
  std::vector<std::string> parts;
  for (const report::Edge& e : f.edges) {
    const report::Lock* from = report::find_lock(f, e.from);
    const report::Lock* to = report::find_lock(f, e.to);
    const report::Thread* t = edge_thread(f, e);
    // Modes are left out on purpose: the library reports the first mode pair it saw,
    // which can differ from run to run for the same code.
    parts.push_back((from ? lock_name_key(*from) : "?") + ">" + (to ? lock_name_key(*to) : "?") + "@" +
                    (t ? code_at(t->native_frames, 1) : std::string("?")));
  }
  return canonical_cycle(f, parts);
}

namespace {

// A profile row's key: the lock kind and where its locks were first taken, by function
// and line when symbolized (so the same code in several processes is one row), else by
// module and offset.
std::string contention_key(const std::string& kind, const std::vector<report::NativeFrame>& site) {
  if (site.empty()) return kind + "\n?";
  const report::NativeFrame& f = site.front();
  if (!f.function.empty() && f.function != "??")
    return kind + "\n" + f.function + "\n" + f.file + ":" + std::to_string(f.line);
  return kind + "\n" + f.module + "+" + std::to_string(f.offset);
}

// A total and a maximum merged into another pair.
void add_durations(uint64_t& total, uint64_t& max, uint64_t other_total, uint64_t other_max) {
  total += other_total;
  max = std::max(max, other_max);
}

void add_histogram(std::vector<uint64_t>& into, const std::vector<std::pair<int, uint64_t>>& buckets) {
  into.resize(duration_buckets::kCount, 0);
  for (auto [bucket, count] : buckets) into[bucket] += count;
}

void merge_profiles(const std::vector<ProcessResults>& processes, const FrameTable& table, report::Profiles* out) {
  constexpr std::size_t kWaitersKept = 5;
  std::map<std::string, std::size_t> row_of, gil_site_of, gil_holder_of;
  for (const ProcessResults& p : processes) {
    if (!p.profiles.present) continue;
    ++out->processes;
    out->locks_not_listed += p.profiles.locks_not_listed;
    out->locks_not_profiled += p.profiles.locks_not_profiled;
    if (p.profiles.gil.present && p.profiles.gil.observed) {
      const RawGilProfile& g = p.profiles.gil;
      report::GilProfileSummary& gil = out->gil;
      ++gil.processes;
      gil.wall_ns += g.wall_ns;
      gil.takes += g.takes;
      gil.contended_takes += g.contended_takes;
      gil.held_ns += g.held_ns;
      gil.waited_ns += g.waited_ns;
      gil.threads_not_profiled += g.threads_not_profiled;
      add_histogram(gil.hold_histogram, g.hold_histogram);
      add_histogram(gil.wait_histogram, g.wait_histogram);
      for (const RawGilThread& t : g.threads)
        gil.threads.push_back({p.process.pid, t.tid, t.name, t.takes, t.contended_takes, t.held_ns, t.waited_ns,
                               t.longest_hold_ns, t.longest_wait_ns, g.wall_ns});
    }
    if (p.profiles.gil.present) {
      for (const RawGilHolder& raw : p.profiles.gil.long_holds) {
        std::vector<report::NativeFrame> site = stack_frames(table, p, raw.site);
        auto [it, added] = gil_holder_of.emplace(contention_key("held", site), out->gil.long_holds.size());
        if (added) {
          out->gil.long_holds.emplace_back();
          out->gil.long_holds.back().site = site;
        }
        report::GilHolder& row = out->gil.long_holds[it->second];
        row.holds += raw.holds;
        add_durations(row.held_total_ns, row.held_max_ns, raw.held_total_ns, raw.held_max_ns);
      }
      out->gil.sites_not_profiled += p.profiles.gil.sites_not_profiled;
      for (const RawGilSite& raw : p.profiles.gil.sites) {
        std::vector<report::NativeFrame> site = stack_frames(table, p, raw.site);
        auto [it, added] = gil_site_of.emplace(contention_key(raw.api, site), out->gil.sites.size());
        if (added) {
          out->gil.sites.emplace_back();
          out->gil.sites.back().api = raw.api;
          out->gil.sites.back().site = site;
        }
        report::GilSite& row = out->gil.sites[it->second];
        row.calls += raw.calls;
        add_durations(row.wait_total_ns, row.wait_max_ns, raw.wait_total_ns, raw.wait_max_ns);
        row.holds_timed += raw.holds_timed;
        add_durations(row.held_total_ns, row.held_max_ns, raw.held_total_ns, raw.held_max_ns);
        row.sections += raw.sections;
        add_durations(row.released_total_ns, row.released_max_ns, raw.released_total_ns, raw.released_max_ns);
        row.takes_inside += raw.takes_inside;
        row.capi_calls_inside += raw.capi_calls_inside;
        for (const std::string& name : raw.capi_inside)
          if (std::find(row.capi_inside.begin(), row.capi_inside.end(), name) == row.capi_inside.end())
            row.capi_inside.push_back(name);
      }
    }
    for (const RawLockProfile& l : p.profiles.locks) {
      std::vector<report::NativeFrame> site = stack_frames(table, p, l.first_site);
      std::string name;
      if (l.kind == result_format::kLockKindFutex) {
        // Where a futex word was "taken" is inside the lock implementation; its waiters'
        // stacks say which implementation and which code of the program waited.
        if (!l.waiters.empty()) {
          std::vector<report::NativeFrame> waiter = stack_frames(table, p, l.waiters.front().stack);
          name = report::futex_lock_name(waiter);
          std::size_t program = report::first_program_frame(waiter);
          if (program < waiter.size()) site.assign(waiter.begin() + long(program), waiter.end());
        }
        // A parked thread, a channel, a condition or a runtime waiting for work: waits,
        // but not for a lock.
        if (!report::futex_name_is_lock(name)) continue;
      }
      if (l.kind == "pymutex") {
        // The call into PyMutex_Lock is made by the inline function of CPython's header
        // that the extension's own call expanded to: the extension's frame is next.
        auto program = std::find_if(site.begin(), site.end(), [](const report::NativeFrame& f) {
          return f.file.find("/include/python3") == std::string::npos;
        });
        if (program != site.end()) site.erase(site.begin(), program);
      }
      auto [it, added] = row_of.emplace(contention_key(l.kind + name, site), out->locks.size());
      if (added) {
        out->locks.emplace_back();
        out->locks.back().kind = l.kind;
        out->locks.back().name = name;
        out->locks.back().site = site;
      }
      report::LockContention& row = out->locks[it->second];
      row.locks += int(l.locks);
      row.acquisitions += l.acquisitions;
      row.contended += l.contended;
      add_durations(row.wait_total_ns, row.wait_max_ns, l.wait_total_ns, l.wait_max_ns);
      row.holds += l.holds;
      add_durations(row.hold_total_ns, row.hold_max_ns, l.hold_total_ns, l.hold_max_ns);
      add_histogram(row.wait_histogram, l.wait_histogram);
      add_histogram(row.hold_histogram, l.hold_histogram);
      for (const RawLockWaiter& w : l.waiters)
        row.waiters.push_back({p.process.pid, w.tid, w.name, w.wait_ns, stack_frames(table, p, w.stack)});
      std::stable_sort(row.waiters.begin(), row.waiters.end(),
                       [](const report::LockWaiter& a, const report::LockWaiter& b) { return a.wait_ns > b.wait_ns; });
      if (row.waiters.size() > kWaitersKept) row.waiters.resize(kWaitersKept);
    }
  }
  std::stable_sort(out->gil.long_holds.begin(), out->gil.long_holds.end(),
                   [](const report::GilHolder& a, const report::GilHolder& b) { return a.held_total_ns > b.held_total_ns; });
  std::stable_sort(out->gil.sites.begin(), out->gil.sites.end(),
                   [](const report::GilSite& a, const report::GilSite& b) { return a.calls > b.calls; });
  std::stable_sort(out->gil.threads.begin(), out->gil.threads.end(),
                   [](const report::GilThread& a, const report::GilThread& b) { return a.held_ns > b.held_ns; });
  std::stable_sort(out->locks.begin(), out->locks.end(), [](const report::LockContention& a, const report::LockContention& b) {
    if (a.wait_total_ns != b.wait_total_ns) return a.wait_total_ns > b.wait_total_ns;
    return a.acquisitions > b.acquisitions;
  });
}

// The lock instances a raw finding was seen on: its own locks, then the further ones the
// library listed for it (the same cycle closed again on other instances). The GIL has
// no address worth listing.
std::vector<report::Instance> instances_of(const RawFinding& raw, const report::Finding& f, int64_t pid) {
  std::vector<report::Instance> out;
  report::Instance first;
  first.pid = pid;
  for (const report::Lock& l : f.locks)
    if (l.kind != result_format::kLockKindGil) first.addresses.push_back(l.address);
  if (first.addresses.empty()) return out;
  for (const report::Thread& t : f.threads) first.tids.push_back(t.tid);
  out.push_back(std::move(first));
  for (const RawInstance& ri : raw.instances) {
    report::Instance instance;
    instance.pid = pid;
    for (std::size_t i = 0; i < ri.addresses.size() && i < raw.locks.size(); ++i)
      if (raw.locks[i].kind != result_format::kLockKindGil) instance.addresses.push_back(ri.addresses[i]);
    instance.tids = ri.tids;
    out.push_back(std::move(instance));
  }
  return out;
}

}  // namespace

void merge_results(const std::vector<ProcessResults>& processes, Symbolizer& symbolizer,
                   const MergeOptions& options, report::Report* out) {
  // Symbolize everything first, in finding order, so the budget favours earlier findings.
  FrameTable table(symbolizer, options.max_symbolized_frames);
  for (const ProcessResults& p : processes)
    for (const RawFinding& f : p.findings) {
      for (const RawEdge& e : f.edges)
        for (uint64_t pc : e.stack) table.want(p, pc);
      for (const RawLock& l : f.locks)
        for (uint64_t pc : l.first_site) table.want(p, pc);
      for (const RawThread& t : f.threads)
        for (uint64_t pc : t.stack) table.want(p, pc);
    }
  for (const ProcessResults& p : processes) {
    for (const RawGilSite& g : p.profiles.gil.sites)
      for (uint64_t pc : g.site) table.want(p, pc);
    for (const RawGilHolder& h : p.profiles.gil.long_holds)
      for (uint64_t pc : h.site) table.want(p, pc);
  }
  for (const ProcessResults& p : processes)
    for (const RawLockProfile& l : p.profiles.locks) {
      for (uint64_t pc : l.first_site) table.want(p, pc);
      for (const RawLockWaiter& w : l.waiters)
        for (uint64_t pc : w.stack) table.want(p, pc);
    }
  table.resolve();
  merge_profiles(processes, table, &out->profiles);

  std::map<std::string, std::size_t> index_by_signature;
  std::map<std::size_t, std::set<std::size_t>> processes_by_finding;
  for (std::size_t pi = 0; pi < processes.size(); ++pi) {
    const ProcessResults& p = processes[pi];
    // pyhooks and harness files add findings to a process the library describes.
    if (p.reporter == "library") out->processes.push_back(p.process);
    for (const RawFinding& raw : p.findings) {
      report::Finding f = build_finding(raw, p, table);
      if (f.kind == result_format::kLockOrderInversion) {
        if (!futex_rules::futex_cycle_stands(f)) continue;
        f.summary = "lock-order inversion (potential deadlock): " + report::cycle_text(f);
        f.signature = finding_signature(f);
        f.legacy_signature = legacy_finding_signature(f);
      }
      if (f.kind == result_format::kGilHeldBlocking && raw.futex_wait == result_format::kFutexWaitShort) {
        // A futex wait with the GIL held shorter than gil_blocking_ms (docs/futex-locks.md):
        // left out unless the word's holders need the GIL. The profile still counts it.
        if (futex_rules::judge_short_futex_wait(short_wait_lock_name(f), raw.holders_need_gil) == futex_rules::ShortWait::kLeaveOut) continue;
        f.detail = result_format::kDetailFutexWait;
        f.signature = finding_signature(f);
        f.legacy_signature = legacy_finding_signature(f);
      }
      // A native thread's panic caught by a catch_unwind of its own is handled (panic_rules.h).
      if (f.kind == result_format::kRustPanic && f.detail == result_format::kDetailNativeThreadPanic &&
          !native_thread_panic_stands(f))
        continue;
      if (f.kind == result_format::kRustPanic && f.detail == result_format::kDetailNativeThreadPanic)
        word_native_thread_panic(f);
      std::vector<report::Instance> instances = instances_of(raw, f, p.process.pid);
      auto [it, added] = index_by_signature.emplace(f.signature, out->findings.size());
      if (added) out->findings.push_back(std::move(f));
      for (report::Instance& instance : instances) add_instance(&out->findings[it->second], std::move(instance));
      // Count processes, not reports: one process can report the same code twice (for
      // two instances of the same locks).
      if (!added) {
        report::Finding& existing = out->findings[it->second];
        existing.occurrences += raw.occurrences;
        if (raw.longest_wait_ms && (!existing.longest_wait_ms || *raw.longest_wait_ms > *existing.longest_wait_ms))
          existing.longest_wait_ms = raw.longest_wait_ms;
      }
      if (!raw.context.empty()) {
        std::vector<std::string>& contexts = out->findings[it->second].contexts;
        if (std::find(contexts.begin(), contexts.end(), raw.context) == contexts.end()) contexts.push_back(raw.context);
      }
      if (p.run) {
        std::vector<report::RunRef>& runs = out->findings[it->second].runs;
        if (std::find(runs.begin(), runs.end(), *p.run) == runs.end()) runs.push_back(*p.run);
      }
      if (processes_by_finding[it->second].insert(pi).second && !added) {
        report::Finding& existing = out->findings[it->second];
        ++existing.count;
        existing.pids.push_back(p.process.pid);
      }
    }
  }
}

}  // namespace gilwatch::harness
