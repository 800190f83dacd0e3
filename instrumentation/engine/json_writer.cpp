#include "json_writer.h"

#include "number_format.h"

#include <cstring>

namespace gilwatch {

void JsonWriter::raw(const char* s, std::size_t n) {
  if (truncated_ || len_ + n > cap_) {
    truncated_ = true;
    return;
  }
  std::memcpy(buf_ + len_, s, n);
  len_ += n;
}

void JsonWriter::raw(char c) { raw(&c, 1); }

void JsonWriter::separator() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ > 0) {
    uint64_t bit = uint64_t(1) << ((depth_ - 1) & 63);
    if (has_element_ & bit) raw(',');
    has_element_ |= bit;
  }
}

void JsonWriter::begin_object() {
  separator();
  raw('{');
  ++depth_;
  has_element_ &= ~(uint64_t(1) << ((depth_ - 1) & 63));
}

void JsonWriter::end_object() {
  raw('}');
  if (depth_ > 0) --depth_;
}

void JsonWriter::begin_array() {
  separator();
  raw('[');
  ++depth_;
  has_element_ &= ~(uint64_t(1) << ((depth_ - 1) & 63));
}

void JsonWriter::end_array() {
  raw(']');
  if (depth_ > 0) --depth_;
}

void JsonWriter::key(const char* name) {
  separator();
  raw('"');
  escaped(name, std::strlen(name));
  raw("\":", 2);
  after_key_ = true;
}

void JsonWriter::value(const char* s) {
  if (!s) {
    null();
    return;
  }
  value(s, std::strlen(s));
}

void JsonWriter::value(const char* s, std::size_t length) {
  separator();
  raw('"');
  escaped(s, length);
  raw('"');
}

void JsonWriter::value(int64_t v) {
  separator();
  if (v < 0) raw('-');
  char digits[20];
  raw(digits, format_decimal(v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v), digits));
}

void JsonWriter::value(uint64_t v) {
  separator();
  char digits[20];
  raw(digits, format_decimal(v, digits));
}

void JsonWriter::value(bool v) {
  separator();
  if (v)
    raw("true", 4);
  else
    raw("false", 5);
}

void JsonWriter::null() {
  separator();
  raw("null", 4);
}

void JsonWriter::hex(uintptr_t v) {
  separator();
  char digits[16];
  raw("\"0x", 3);
  raw(digits, format_hex(v, digits));
  raw('"');
}

namespace {

// Length of the valid UTF-8 sequence starting at s (1..4), or 0 if invalid.
std::size_t utf8_sequence(const unsigned char* s, std::size_t left) {
  unsigned char c = s[0];
  std::size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n > left) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

void JsonWriter::escaped(const char* s, std::size_t n) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s);
  for (std::size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      raw('\\');
      raw(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      switch (c) {
        case '\n': raw("\\n", 2); break;
        case '\t': raw("\\t", 2); break;
        case '\r': raw("\\r", 2); break;
        default: {
          char u[6] = {'\\', 'u', '0', '0', "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]};
          raw(u, 6);
        }
      }
      ++i;
    } else if (c < 0x80) {
      raw(static_cast<char>(c));
      ++i;
    } else {
      std::size_t len = utf8_sequence(p + i, n - i);
      if (len == 0) {
        raw("\xef\xbf\xbd", 3);  // U+FFFD
        ++i;
      } else {
        raw(s + i, len);
        i += len;
      }
    }
  }
}

}  // namespace gilwatch
