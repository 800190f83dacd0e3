// The report side: reading per-process results, merging, symbolizer output parsing and
// HTML escaping — with hand-written inputs, no process under test needed.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "findings_json.h"
#include "html_report.h"
#include "merge.h"
#include "results_reader.h"
#include "symbolizer.h"

using namespace gilwatch;
using namespace gilwatch::harness;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/gilwatch-unit-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

// A results file as libgilwatch.so writes it: an ABBA between two mutexes in `pid`.
nlohmann::json abba_results(int pid, const std::string& thread_name = "worker") {
  nlohmann::json edge0 = {{"from", 0}, {"to", 1}, {"held_mode", "write"}, {"acquired_mode", "write"},
                          {"thread", {{"tid", pid + 1}, {"name", thread_name}}},
                          {"stack", nlohmann::json::array({"0x401010", "0x401020"})}, {"python_frames", nlohmann::json::array()}};
  nlohmann::json edge1 = edge0;
  edge1["from"] = 1;
  edge1["to"] = 0;
  edge1["thread"]["tid"] = pid + 2;
  edge1["stack"] = nlohmann::json::array({"0x401030"});
  edge1["python_frames"] = {{{"function", "register_tasks"}, {"file", "drive.py"}, {"line", 12}}};
  return {{"format", "gilwatch-process-results"},
          {"version", 1},
          {"pid", pid},
          {"ppid", 1},
          {"argv", {"./abba"}},
          {"exe", "/bin/abba"},
          {"state", "exited"},
          {"exit_status", 0},
          {"python", {{"loaded", false}}},
          {"modules", {{{"path", "/bin/abba"}, {"load_bias", "0x400000"}, {"segments", nlohmann::json::array({nlohmann::json::array({"0x401000", "0x402000"})})}}}},
          {"findings",
           {{{"kind", "lock-order-inversion"},
             {"summary", "x"},
             {"locks",
              {{{"id", 0}, {"name", ""}, {"kind", "mutex"}, {"address", "0x5000"}, {"first_site", {"0x401010"}}},
               {{"id", 1}, {"name", ""}, {"kind", "mutex"}, {"address", "0x5040"}, {"first_site", {"0x401030"}}}}},
             {"edges", {edge0, edge1}}}}},
          {"stats", {{"locks_tracked", 2}}}};
}

class FakeSymbolizer final : public Symbolizer {
 public:
  int calls = 0;
  std::vector<std::vector<SymbolizedFrame>> symbolize(const std::string& module,
                                                      const std::vector<uint64_t>& offsets) override {
    ++calls;
    std::vector<std::vector<SymbolizedFrame>> out;
    for (uint64_t off : offsets) {
      // Lookups use the call site (return address - 1).
      std::string name = off == 0x100f ? "take_a_then_b" : off == 0x102f ? "take_b_then_a" : "caller";
      out.push_back({{name, "abba.c", int(off & 0xff)}});
    }
    return out;
  }
};

}  // namespace

TEST_CASE("a results file written by the library reads back with every field", "[results_reader]") {
  TempDir dir;
  std::string path = dir.write("gilwatch.10.1.json", abba_results(10).dump());
  ProcessResults r;
  std::string error;
  REQUIRE(read_results_file(path, &r, &error));
  CHECK(r.process.pid == 10);
  CHECK(r.process.state == "exited");
  CHECK(r.process.has_exit_status);
  REQUIRE(r.modules.size() == 1);
  CHECK(r.modules[0].load_bias == 0x400000);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].edges.size() == 2);
  CHECK(r.findings[0].edges[1].python_frames[0].function == "register_tasks");
}

TEST_CASE("truncated, foreign and future results files are refused with a reason", "[results_reader]") {
  TempDir dir;
  ProcessResults r;
  std::string error;
  std::string text = abba_results(10).dump();
  SECTION("truncated") {
    CHECK_FALSE(read_results_file(dir.write("gilwatch.1.json", text.substr(0, text.size() / 2)), &r, &error));
    CHECK(error.find("truncated") != std::string::npos);
  }
  SECTION("not ours") {
    CHECK_FALSE(read_results_file(dir.write("gilwatch.2.json", R"({"format":"other"})"), &r, &error));
    CHECK(error.find("not a gilwatch results file") != std::string::npos);
  }
  SECTION("newer version") {
    auto j = abba_results(10);
    j["version"] = 99;
    CHECK_FALSE(read_results_file(dir.write("gilwatch.3.json", j.dump()), &r, &error));
    CHECK(error.find("99") != std::string::npos);
  }
  SECTION("missing key") {
    auto j = abba_results(10);
    j.erase("findings");
    CHECK_FALSE(read_results_file(dir.write("gilwatch.4.json", j.dump()), &r, &error));
    CHECK(error.find("findings") != std::string::npos);
  }
}

TEST_CASE("results files are found in DIR/raw or DIR itself", "[results_reader]") {
  TempDir dir;
  fs::create_directories(dir.path / "raw");
  std::ofstream(dir.path / "raw" / "gilwatch.1.2.json") << "{}";
  std::ofstream(dir.path / "raw" / "other.json") << "{}";
  CHECK(list_results_files(dir.path.string()).size() == 1);
  CHECK(list_results_files((dir.path / "raw").string()).size() == 1);
}

TEST_CASE("the same inversion in several processes merges into one finding with a count", "[merge]") {
  std::vector<ProcessResults> processes(3);
  std::string error;
  TempDir dir;
  for (int i = 0; i < 3; ++i)
    REQUIRE(read_results_file(dir.write("gilwatch." + std::to_string(i) + ".json", abba_results(100 + i).dump()),
                              &processes[std::size_t(i)], &error));
  FakeSymbolizer symbolizer;
  report::Report report;
  merge_results(processes, symbolizer, MergeOptions{}, &report);
  REQUIRE(report.findings.size() == 1);
  const report::Finding& f = report.findings[0];
  CHECK(f.count == 3);
  CHECK(f.pids == std::vector<int64_t>{100, 101, 102});
  CHECK(symbolizer.calls == 1);  // one batch per module
  REQUIRE(f.threads.size() == 2);
  CHECK(f.threads[0].native_frames.front().function == "take_a_then_b");
  CHECK(f.threads[0].role == "took mutex 0x5040 while holding mutex 0x5000");
  CHECK(f.threads[1].python_frames.front().function == "register_tasks");
  CHECK(f.summary.find("first taken in take_a_then_b") != std::string::npos);
}

TEST_CASE("a cycle closed from another edge has the same signature", "[merge]") {
  report::Finding a;
  a.kind = "lock-order-inversion";
  a.locks = {{0, "", "mutex", 0x10, {}}, {1, "GIL", "gil", 0, {}}};
  report::Thread t1, t2;
  t1.native_frames = {{1, "m", 1, "f1", "", 0}};
  t2.native_frames = {{2, "m", 2, "f2", "", 0}};
  a.threads = {t1, t2};
  a.edges = {{0, 1, "write", "write", 0}, {1, 0, "write", "write", 1}};
  report::Finding b = a;
  std::swap(b.threads[0], b.threads[1]);
  b.edges = {{1, 0, "write", "write", 0}, {0, 1, "write", "write", 1}};
  CHECK(finding_signature(a) == finding_signature(b));
  report::Finding c = a;
  c.threads[0].native_frames[0].function = "elsewhere";
  CHECK(finding_signature(a) != finding_signature(c));
}

TEST_CASE("addr2line output with inlined frames splits per address", "[symbolizer]") {
  std::string output =
      "0x0000000000001234\n"
      "inner_inlined\n"
      "/src/a.c:10\n"
      "outer\n"
      "/src/a.c:20 (discriminator 2)\n"
      "0x0000000000005678\n"
      "??\n"
      "??:0\n";
  auto frames = parse_addr2line_output(output, 3);
  REQUIRE(frames.size() == 3);
  REQUIRE(frames[0].size() == 2);
  CHECK(frames[0][0].function == "inner_inlined");
  CHECK(frames[0][0].line == 10);
  CHECK(frames[0][1].file == "/src/a.c");
  CHECK(frames[0][1].line == 20);
  CHECK(frames[1][0].function == "??");
  CHECK(frames[1][0].file.empty());
  CHECK(frames[2][0].function == "??");  // missing output is unknown, not a crash
}

TEST_CASE("names from the process under test are escaped in the HTML report", "[html]") {
  report::Report r;
  r.command = {"python3", "<img src=x onerror=alert(2)>"};
  report::Finding f;
  f.kind = "lock-order-inversion";
  f.summary = "s";
  f.locks = {{0, "", "mutex", 0x10, {}}, {1, "GIL", "gil", 0, {}}};
  report::Thread t;
  t.name = "<script>alert(1)</script>";
  t.native_frames = {{1, "/lib/<b>.so", 1, "f<T>&", "a\"b.c", 3}};
  t.python_frames = {{"<lambda>", "x.py", 1}};
  f.threads = {t};
  f.edges = {{0, 1, "write", "write", 0}};
  r.findings = {f};
  std::string html = report::render_html(r, "test");
  CHECK(html.find("<script>alert(1)</script>") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("<img src=x") == std::string::npos);
  CHECK(html.find("f&lt;T&gt;&amp;") != std::string::npos);
  CHECK(html.find("&lt;lambda&gt;") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);  // no scripts at all
}

TEST_CASE("findings.json carries the contract's keys", "[findings_json]") {
  report::Report r;
  r.command = {"x"};
  r.has_exit_status = true;
  report::Finding f;
  f.kind = "lock-order-inversion";
  f.summary = "s";
  f.severity = "error";
  f.pids = {7};
  f.locks = {{0, "GIL", "gil", 0, {}}};
  report::Thread t;
  t.native_frames = {{0x10, "m", 0x10, "fn", "f.c", 3}};
  f.threads = {t};
  r.findings = {f};
  auto j = report::to_findings_json(r, "0.1.0");
  REQUIRE(j["findings"].size() == 1);
  const auto& jf = j["findings"][0];
  for (const char* key : {"kind", "summary", "threads", "locks", "count", "pids", "edges", "severity"})
    CHECK(jf.contains(key));
  CHECK(jf["threads"][0]["native_frames"][0]["function"] == "fn");
  CHECK(jf["threads"][0]["python_frames"].is_array());
  CHECK(jf["locks"][0]["name"] == "GIL");
}
