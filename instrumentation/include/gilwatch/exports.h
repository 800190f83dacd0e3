// The C functions libgilwatch.so exports for the Python side (pyhooks/gilwatch/_native.py
// finds them with ctypes in the running process; no-ops there without the library).
// Names and signatures are a contract: _native.py declares the same argtypes/restype.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// What the process is doing now (the pytest plugin passes the running test's node id;
// null or "" clears it). Findings reported from now on carry it as "context".
void gilwatch_set_context(const char* context);

// Findings this process has reported by itself (all but those only the command judges).
unsigned long gilwatch_reported_finding_count();

// Rewrites this process's results file now (state "running"); returns the finding count.
unsigned long gilwatch_flush_results();

// The interpreter's exit has begun (atexit): later GIL takes are finalization attaches.
void gilwatch_python_exit_begun();

// Records a thread-leak finding for threads `tids` (each with the stack it is parked in);
// 1 when it did, 0 when it cannot (the caller then reports the leak itself).
int gilwatch_report_leaked_threads(const int* tids, int count, const char* summary, const char* detail);

#ifdef __cplusplus
}
#endif
