#include "results_reader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gilwatch/result_format.h"

namespace gilwatch::harness {

namespace fs = std::filesystem;
namespace rf = gilwatch::result_format;
using nlohmann::json;

namespace {

uint64_t parse_address(const json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  const std::string& s = value.get_ref<const std::string&>();
  std::size_t used = 0;
  uint64_t v = std::stoull(s, &used, 16);
  if (used != s.size()) throw std::invalid_argument("bad address '" + s + "'");
  return v;
}

std::vector<uint64_t> parse_addresses(const json& array) {
  std::vector<uint64_t> out;
  for (const json& v : array) out.push_back(parse_address(v));
  return out;
}

}  // namespace

bool read_results_file(const std::string& path, ProcessResults* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open";
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  json j = json::parse(buffer.str(), nullptr, false);
  if (j.is_discarded()) {
    // Re-parse with exceptions to get the position of the problem.
    try {
      json reparsed = json::parse(buffer.str());
      (void)reparsed;
    } catch (const json::parse_error& e) {
      *error = std::string("not valid JSON (truncated or corrupt): ") + e.what();
      return false;
    }
    *error = "not valid JSON";
    return false;
  }
  try {
    if (!j.is_object() || j.value("format", "") != rf::kFormatName) {
      *error = std::string("not a gilwatch results file (\"format\" is not \"") + rf::kFormatName + "\")";
      return false;
    }
    int version = j.at("version").get<int>();
    if (version != rf::kVersion) {
      *error = "results format version " + std::to_string(version) + " is not supported (this gilwatch reads " +
               std::to_string(rf::kVersion) + ")";
      return false;
    }
    ProcessResults r;
    r.process.pid = j.at("pid").get<int64_t>();
    r.process.ppid = j.value("ppid", int64_t(0));
    r.process.argv = j.value("argv", std::vector<std::string>{});
    r.process.exe = j.value("exe", "");
    r.process.state = j.at("state").get<std::string>();
    if (j.contains("exit_status") && j["exit_status"].is_number_integer()) {
      r.process.has_exit_status = true;
      r.process.exit_status = j["exit_status"].get<int>();
    }
    if (j.contains("python") && j["python"].value("loaded", false))
      r.process.python_version = j["python"].value("version", "");
    r.process.results_file = path;
    for (const json& m : j.value("modules", json::array())) {
      RawModule module;
      module.path = m.at("path").get<std::string>();
      module.load_bias = parse_address(m.at("load_bias"));
      for (const json& s : m.at("segments")) module.segments.emplace_back(parse_address(s.at(0)), parse_address(s.at(1)));
      r.modules.push_back(std::move(module));
    }
    for (const json& f : j.at("findings")) {
      RawFinding finding;
      finding.kind = f.at("kind").get<std::string>();
      finding.summary = f.value("summary", "");
      for (const json& l : f.value("locks", json::array())) {
        RawLock lock;
        lock.id = l.at("id").get<int>();
        lock.name = l.value("name", "");
        lock.kind = l.at("kind").get<std::string>();
        lock.address = parse_address(l.at("address"));
        lock.first_site = parse_addresses(l.value("first_site", json::array()));
        finding.locks.push_back(std::move(lock));
      }
      for (const json& e : f.value("edges", json::array())) {
        RawEdge edge;
        edge.from = e.at("from").get<int>();
        edge.to = e.at("to").get<int>();
        edge.held_mode = e.value("held_mode", "write");
        edge.acquired_mode = e.value("acquired_mode", "write");
        const json& t = e.at("thread");
        edge.tid = t.value("tid", uint64_t(0));
        edge.thread_name = t.value("name", "");
        edge.stack = parse_addresses(e.value("stack", json::array()));
        for (const json& p : e.value("python_frames", json::array()))
          edge.python_frames.push_back({p.value("function", ""), p.value("file", ""), p.value("line", 0)});
        finding.edges.push_back(std::move(edge));
      }
      r.findings.push_back(std::move(finding));
    }
    *out = std::move(r);
    return true;
  } catch (const std::exception& e) {
    *error = std::string("malformed results: ") + e.what();
    return false;
  }
}

std::vector<std::string> list_results_files(const std::string& dir) {
  fs::path base(dir);
  if (fs::is_directory(base / "raw")) base /= "raw";
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.rfind(rf::kFilePrefix, 0) == 0 && name.size() > 5 &&
        name.compare(name.size() - 5, 5, rf::kFileSuffix) == 0)
      files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace gilwatch::harness
