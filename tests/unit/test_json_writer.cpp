#include <catch2/catch.hpp>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "json_writer.h"

using namespace gilwatch;

TEST_CASE("the JSON writer produces what a real parser reads back", "[json_writer]") {
  char buf[1024];
  JsonWriter w(buf, sizeof(buf));
  w.begin_object();
  w.key("name");
  w.value("quote\" backslash\\ newline\n tab\t bell\x07 <script>");
  w.key("n");
  w.value(int64_t(-42));
  w.key("big");
  w.value(uint64_t(18446744073709551615ULL));
  w.key("addr");
  w.hex(0x7fffdeadbeefULL);
  w.key("list");
  w.begin_array();
  w.value(true);
  w.null();
  w.begin_object();
  w.end_object();
  w.begin_array();
  w.end_array();
  w.end_array();
  w.end_object();
  REQUIRE_FALSE(w.truncated());
  auto j = nlohmann::json::parse(std::string(buf, w.size()));
  CHECK(j["name"] == "quote\" backslash\\ newline\n tab\t bell\x07 <script>");
  CHECK(j["n"] == -42);
  CHECK(j["big"] == 18446744073709551615ULL);
  CHECK(j["addr"] == "0x7fffdeadbeef");
  CHECK(j["list"].size() == 4);
  CHECK(j["list"][1].is_null());
}

TEST_CASE("invalid UTF-8 from the process under test still yields valid JSON", "[json_writer]") {
  char buf[256];
  JsonWriter w(buf, sizeof(buf));
  w.begin_array();
  w.value("ok \xc3\xa9 bad \xff\xfe end \xe2\x82");
  w.end_array();
  auto j = nlohmann::json::parse(std::string(buf, w.size()));
  CHECK(j[0] == "ok \xc3\xa9 bad \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd\xef\xbf\xbd");
}

TEST_CASE("a full buffer is reported as truncated, never overrun", "[json_writer]") {
  char buf[16 + 8];
  std::memset(buf, 'Z', sizeof(buf));
  JsonWriter w(buf, 16);
  w.begin_array();
  w.value("this string is longer than the buffer");
  w.end_array();
  CHECK(w.truncated());
  CHECK(w.size() <= 16);
  CHECK(buf[16] == 'Z');
}
