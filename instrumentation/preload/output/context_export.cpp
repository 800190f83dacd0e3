// context_export: what the process is doing now (the running test: the pytest plugin calls
// gilwatch_set_context, gilwatch/exports.h), and the context each finding carries — the
// one current when it was reported. A seqlock keeps a reader from copying a half-written
// context; it never blocks the caller. Decides nothing about findings.
#include <atomic>
#include <cstring>

#include "detector.h"
#include "gilwatch/exports.h"
#include "results_parts.h"
#include "results_writer.h"

namespace gilwatch::preload {

namespace {

char g_context[kContextSize];
std::atomic<uint32_t> g_context_sequence{0};  // odd while g_context is being written
char g_finding_contexts[Detector::kMaxFindings][kContextSize];
char g_event_contexts[Detector::kMaxEvents][kContextSize];

void copy_context(char* out) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    uint32_t before = g_context_sequence.load(std::memory_order_acquire);
    if (before & 1) continue;
    std::memcpy(out, g_context, kContextSize);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (g_context_sequence.load(std::memory_order_relaxed) == before) {
      out[kContextSize - 1] = '\0';
      return;
    }
  }
  out[0] = '\0';  // the context kept changing: better none than a torn one
}

}  // namespace

const char* finding_context(std::size_t i) { return i < Detector::kMaxFindings ? g_finding_contexts[i] : ""; }
const char* event_context(std::size_t i) { return i < Detector::kMaxEvents ? g_event_contexts[i] : ""; }

void note_context_of_new_findings(std::size_t first, std::size_t count, std::size_t first_event,
                                  std::size_t event_count) {
  char context[kContextSize];
  copy_context(context);
  for (std::size_t i = first; i < count && i < Detector::kMaxFindings; ++i)
    std::memcpy(g_finding_contexts[i], context, kContextSize);
  for (std::size_t i = first_event; i < event_count && i < Detector::kMaxEvents; ++i)
    std::memcpy(g_event_contexts[i], context, kContextSize);
}

}  // namespace gilwatch::preload

// Exported: what the process is doing now (the pytest plugin passes the running test's
// node id; null or "" clears it). Findings reported from now on carry it.
extern "C" __attribute__((visibility("default"))) void gilwatch_set_context(const char* context) {
  using namespace gilwatch::preload;
  g_context_sequence.fetch_add(1, std::memory_order_acq_rel);
  std::size_t n = context ? strnlen(context, kContextSize - 1) : 0;
  if (n) std::memcpy(g_context, context, n);
  g_context[n] = '\0';
  g_context_sequence.fetch_add(1, std::memory_order_release);
}

