// results_json: the library's per-process results file (format and keys:
// gilwatch/result_format.h), the parts that need nothing of the running process: the
// document's head from plain values, and the "findings" entries from the detector's
// records — a lock-order cycle (Finding) or any other finding (EventFinding), with their
// locks, threads, raw stacks and Python frames. It decides nothing about what is a
// finding (the detector does); preload/output/results_file.cpp gathers the process's values,
// writes the sections that read live state (modules, python, profiles, stats) and the
// file. Callers of the findings writers hold the detector's lock. No allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "detector.h"
#include "json_writer.h"
#include "text_buffer.h"

namespace gilwatch {

// The process a results document describes, as results_file.cpp reads it from /proc.
struct DocumentHead {
  int64_t pid = 0, ppid = 0;
  const char* argv = "";  // the arguments, each ended by '\0' (as /proc/self/cmdline)
  std::size_t argv_size = 0;
  const char* exe = "";
  std::size_t exe_size = 0;
  bool exited = false;  // state "exited" (the final write) rather than "running"
  int exit_status = 0;  // written when exited
};

// Opens the document's object and writes its head: format, version, pid, ppid, argv,
// exe, state and exit_status. The caller writes the rest and closes the object.
void begin_results_document(JsonWriter& w, const DocumentHead& head);

// "the GIL", "the GIL of interpreter 0x...", "rwlock 0x..." — as summaries and stderr say it.
void describe_lock(TextBuffer& t, const FindingLock& lock);
// A cycle's locks, "A -> B -> ... -> A"; a cut cycle says so and how many are left out.
void describe_cycle(TextBuffer& t, const Finding& f);

// An array of the interned native stack `stack_id`'s return addresses ("0x...").
void write_stack_json(JsonWriter& w, const Detector& d, uint32_t stack_id);

// One object per finding; `context` (what the process was doing, "" for none) is written
// when not empty, up to `context_size` bytes.
void write_results_json(JsonWriter& w, const Detector& d, const Finding& f, const char* context,
                        std::size_t context_size);
void write_event_json(JsonWriter& w, const Detector& d, const EventFinding& e, const char* context,
                      std::size_t context_size);

// The "findings" key and array: every cycle, then every event. `finding_context(i)` and
// `event_context(i)` give the context of each (never null).
using ContextOf = const char* (*)(std::size_t index);
void write_findings_json(JsonWriter& w, const Detector& d, std::size_t context_size, ContextOf finding_context,
                         ContextOf event_context);

}  // namespace gilwatch
