#include "merge.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace gilwatch::harness {

namespace {

bool is_own_module(const std::string& path) {
  auto slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return base.rfind("libgilwatch", 0) == 0;
}

const RawModule* module_of(const ProcessResults& p, uint64_t pc) {
  for (auto it = p.modules.rbegin(); it != p.modules.rend(); ++it)
    for (const auto& [begin, end] : it->segments)
      if (pc >= begin && pc < end) return &*it;
  return nullptr;
}

using SymbolKey = std::pair<std::string, uint64_t>;  // module, lookup offset

class FrameTable {
 public:
  FrameTable(Symbolizer& symbolizer, std::size_t budget) : symbolizer_(symbolizer), budget_(budget) {}

  void want(const ProcessResults& p, uint64_t pc) {
    const RawModule* m = module_of(p, pc);
    if (!m || pending_.size() >= budget_) return;
    // Return addresses point after the call; look up the call itself.
    pending_.insert({m->path, pc - m->load_bias - 1});
  }

  void resolve() {
    std::map<std::string, std::vector<uint64_t>> by_module;
    for (const auto& [module, offset] : pending_) by_module[module].push_back(offset);
    for (const auto& [module, offsets] : by_module) {
      auto frames = symbolizer_.symbolize(module, offsets);
      for (std::size_t i = 0; i < offsets.size() && i < frames.size(); ++i) resolved_[{module, offsets[i]}] = frames[i];
    }
  }

  // Frames for one pc: inlined frames first, then the function containing the call.
  std::vector<report::NativeFrame> frames(const ProcessResults& p, uint64_t pc) const {
    report::NativeFrame base;
    base.pc = pc;
    base.function = "??";
    const RawModule* m = module_of(p, pc);
    if (!m) return {base};
    base.module = m->path;
    base.offset = pc - m->load_bias;
    auto it = resolved_.find({m->path, base.offset - 1});
    if (it == resolved_.end()) return {base};
    std::vector<report::NativeFrame> out;
    for (const SymbolizedFrame& s : it->second) {
      report::NativeFrame f = base;
      f.function = s.function;
      f.file = s.file;
      f.line = s.line;
      out.push_back(std::move(f));
    }
    return out;
  }

 private:
  Symbolizer& symbolizer_;
  std::size_t budget_;
  std::set<SymbolKey> pending_;
  std::map<SymbolKey, std::vector<SymbolizedFrame>> resolved_;
};

std::vector<report::NativeFrame> stack_frames(const FrameTable& table, const ProcessResults& p,
                                              const std::vector<uint64_t>& pcs) {
  std::vector<report::NativeFrame> out;
  for (uint64_t pc : pcs) {
    for (report::NativeFrame& f : table.frames(p, pc)) {
      if (is_own_module(f.module)) continue;  // hooks and the thread trampoline
      out.push_back(std::move(f));
    }
  }
  return out;
}

std::string lock_label(const report::Lock& lock) {
  std::string label = report::describe_lock(lock);
  if (lock.kind != "gil" && !lock.first_site.empty() && lock.first_site.front().function != "??")
    label += " (first taken in " + lock.first_site.front().function + ")";
  return label;
}

}  // namespace

std::string finding_signature(const report::Finding& f) {
  std::vector<std::string> parts;
  for (const report::Edge& e : f.edges) {
    auto lock_key = [&](int id) {
      for (const report::Lock& l : f.locks)
        if (l.id == id) return l.kind + "/" + l.name;
      return std::string("?");
    };
    std::string where = "?";
    if (e.thread_index >= 0 && std::size_t(e.thread_index) < f.threads.size()) {
      const report::Thread& t = f.threads[std::size_t(e.thread_index)];
      if (!t.native_frames.empty()) where = t.native_frames.front().function;
      if (where == "??" && !t.native_frames.empty())
        where = fmt::format("{}+{:#x}", t.native_frames.front().module, t.native_frames.front().offset);
    }
    parts.push_back(lock_key(e.from) + ">" + lock_key(e.to) + "@" + where + "/" + e.held_mode + e.acquired_mode);
  }
  // Canonical rotation: the same cycle closed from another edge compares equal.
  std::string best;
  for (std::size_t start = 0; start < parts.size(); ++start) {
    std::string s;
    for (std::size_t i = 0; i < parts.size(); ++i) s += parts[(start + i) % parts.size()] + ";";
    if (best.empty() || s < best) best = s;
  }
  return f.kind + "|" + best;
}

void merge_results(const std::vector<ProcessResults>& processes, Symbolizer& symbolizer,
                   const MergeOptions& options, report::Report* out) {
  FrameTable table(symbolizer, options.max_symbolized_frames);
  for (const ProcessResults& p : processes) {
    out->processes.push_back(p.process);
    for (const RawFinding& f : p.findings) {
      for (const RawLock& l : f.locks)
        for (uint64_t pc : l.first_site) table.want(p, pc);
      for (const RawEdge& e : f.edges)
        for (uint64_t pc : e.stack) table.want(p, pc);
    }
  }
  table.resolve();

  std::map<std::string, std::size_t> index_by_signature;
  for (const ProcessResults& p : processes) {
    for (const RawFinding& raw : p.findings) {
      report::Finding f;
      f.kind = raw.kind;
      f.severity = "error";
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
      auto lock_by_id = [&](int id) -> const report::Lock* {
        for (const report::Lock& l : f.locks)
          if (l.id == id) return &l;
        return nullptr;
      };
      for (const RawEdge& re : raw.edges) {
        report::Thread t;
        t.tid = re.tid;
        t.name = re.thread_name;
        const report::Lock* from = lock_by_id(re.from);
        const report::Lock* to = lock_by_id(re.to);
        if (from && to)
          t.role = fmt::format("took {}{} while holding {}{}", report::describe_lock(*to),
                               to->kind == "rwlock" ? " (" + re.acquired_mode + ")" : "",
                               report::describe_lock(*from),
                               from->kind == "rwlock" ? " (" + re.held_mode + ")" : "");
        t.native_frames = stack_frames(table, p, re.stack);
        for (const RawPythonFrame& py : re.python_frames) t.python_frames.push_back({py.function, py.file, py.line});
        report::Edge e;
        e.from = re.from;
        e.to = re.to;
        e.held_mode = re.held_mode;
        e.acquired_mode = re.acquired_mode;
        e.thread_index = static_cast<int>(f.threads.size());
        f.threads.push_back(std::move(t));
        f.edges.push_back(e);
      }
      if (f.kind == "lock-order-inversion" && !f.locks.empty()) {
        std::string cycle;
        for (const report::Lock& l : f.locks) cycle += lock_label(l) + " -> ";
        cycle += report::describe_lock(f.locks.front());
        f.summary = "lock-order inversion (potential deadlock): " + cycle;
      } else {
        f.summary = raw.summary;
      }
      f.signature = finding_signature(f);
      auto it = index_by_signature.find(f.signature);
      if (it != index_by_signature.end()) {
        report::Finding& existing = out->findings[it->second];
        ++existing.count;
        existing.pids.push_back(p.process.pid);
        continue;
      }
      index_by_signature[f.signature] = out->findings.size();
      out->findings.push_back(std::move(f));
    }
  }
}

}  // namespace gilwatch::harness
