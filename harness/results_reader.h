// results_reader: reads the per-process results files written by libgilwatch.so
// (format: instrumentation/include/gilwatch/result_format.h) into raw structs. Frames
// are still raw addresses here; merge + symbolizer turn them into the report model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model.h"

namespace gilwatch::harness {

struct RawModule {
  std::string path;
  uint64_t load_bias = 0;
  std::vector<std::pair<uint64_t, uint64_t>> segments;
};

struct RawPythonFrame {
  std::string function, file;
  int line = 0;
};

struct RawEdge {
  int from = 0, to = 0;
  std::string held_mode, acquired_mode;
  uint64_t tid = 0;
  std::string thread_name;
  std::vector<uint64_t> stack;
  std::vector<RawPythonFrame> python_frames;
};

struct RawLock {
  int id = 0;
  std::string name, kind;
  uint64_t address = 0;
  std::vector<uint64_t> first_site;
};

struct RawFinding {
  std::string kind, summary;
  std::vector<RawLock> locks;
  std::vector<RawEdge> edges;
};

struct ProcessResults {
  report::Process process;
  std::vector<RawModule> modules;
  std::vector<RawFinding> findings;
};

// Reads one results file. On failure returns false and sets `error` to a message that
// names what is wrong (parse position, missing key, unknown format or version).
bool read_results_file(const std::string& path, ProcessResults* out, std::string* error);

// Lists the results files in a directory: DIR/raw/gilwatch.*.json when DIR is an output
// directory, else DIR/gilwatch.*.json. Sorted by name.
std::vector<std::string> list_results_files(const std::string& dir);

}  // namespace gilwatch::harness
