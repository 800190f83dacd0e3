// json_writer: a small JSON emitter into a caller-provided buffer, for code that runs
// inside the process under test (no allocation, no stdio). Commas between members and
// elements are inserted automatically; strings are escaped (control characters, quotes,
// backslashes; invalid UTF-8 bytes become U+FFFD so the output always parses).
// When the buffer fills up, further output is dropped and truncated() turns true; the
// caller decides what to do (the results writer grows its buffer and retries).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gilwatch {

class JsonWriter {
 public:
  JsonWriter(char* buffer, std::size_t capacity) : buf_(buffer), cap_(capacity) {}

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  void key(const char* name);  // inside an object, before its value

  void value(const char* s);  // null pointer writes null
  void value(const char* s, std::size_t length);
  void value(int64_t v);
  void value(uint64_t v);
  void value(int v) { value(static_cast<int64_t>(v)); }
  void value(unsigned v) { value(static_cast<uint64_t>(v)); }
  void value(bool v);
  void null();
  void hex(uintptr_t v);  // "0x..." (addresses exceed what JSON numbers carry exactly)

  std::size_t size() const { return len_; }
  bool truncated() const { return truncated_; }
  const char* data() const { return buf_; }

 private:
  void separator();
  void raw(const char* s, std::size_t n);
  void raw(char c);
  void escaped(const char* s, std::size_t n);

  char* buf_;
  std::size_t cap_;
  std::size_t len_ = 0;
  bool truncated_ = false;
  // One bit per nesting level: does the current container already have an element?
  uint64_t has_element_ = 0;
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace gilwatch
