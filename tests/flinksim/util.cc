#include "tests/flinksim/util.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace flinksim {

std::optional<int64_t> ParseDurationMs(std::string_view text) {
  std::string s = Trim(text);
  if (s.empty()) return std::nullopt;
  size_t pos = 0;
  while (pos < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '.')) {
    ++pos;
  }
  if (pos == 0) return std::nullopt;
  double value = 0;
  try {
    value = std::stod(s.substr(0, pos));
  } catch (...) {
    return std::nullopt;
  }
  std::string unit = ToLower(Trim(s.substr(pos)));
  double factor = 0;
  if (unit.empty() || unit == "ms" || unit == "milli" || unit == "millis" ||
      unit == "millisecond" || unit == "milliseconds") {
    factor = 1;
  } else if (unit == "s" || unit == "sec" || unit == "secs" || unit == "second" ||
             unit == "seconds") {
    factor = 1000;
  } else if (unit == "m" || unit == "min" || unit == "mins" || unit == "minute" ||
             unit == "minutes") {
    factor = 60'000;
  } else if (unit == "h" || unit == "hour" || unit == "hours") {
    factor = 3'600'000;
  } else if (unit == "d" || unit == "day" || unit == "days") {
    factor = 86'400'000;
  } else {
    return std::nullopt;
  }
  double ms = value * factor;
  if (!(ms >= 0) || ms > 9.0e15) return std::nullopt;
  return static_cast<int64_t>(std::llround(ms));
}

std::string FormatDurationMs(int64_t ms) {
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + " h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + " min";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

std::string Rng::Hex(int chars) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(static_cast<size_t>(chars));
  uint64_t bits = 0;
  int left = 0;
  for (int i = 0; i < chars; ++i) {
    if (left == 0) {
      bits = engine_();
      left = 16;
    }
    out.push_back(kDigits[bits & 0xF]);
    bits >>= 4;
    --left;
  }
  return out;
}

int64_t Rng::Between(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  return dist(engine_);
}

double Rng::Unit() {
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  return dist(engine_);
}

std::string Rng::Uuid() {
  std::string h = Hex(32);
  h[12] = '4';
  static constexpr char kVariant[] = "89ab";
  h[16] = kVariant[static_cast<size_t>(engine_() % 4)];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

std::string StableHex32(std::string_view text) {
  auto fnv = [&](uint64_t basis) {
    uint64_t h = basis;
    for (char c : text) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ULL;
    }
    // Final avalanche so short, similar inputs do not share prefixes.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
  };
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx",
                static_cast<unsigned long long>(fnv(0xcbf29ce484222325ULL)),
                static_cast<unsigned long long>(fnv(0x84222325cbf29ce4ULL)));
  return std::string(buf, 32);
}

bool IsHex32(std::string_view text) {
  return text.size() == 32 && std::all_of(text.begin(), text.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string ToUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view text) {
  size_t b = 0;
  size_t e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  return std::string(text.substr(b, e - b));
}

std::vector<std::string> Split(std::string_view text, char sep, bool skip_empty) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    std::string piece = Trim(text.substr(start, end - start));
    if (!piece.empty() || !skip_empty) out.push_back(std::move(piece));
    start = end + 1;
  }
  return out;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string MetricOperatorName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == ' ' || c == '.' || c == ':' || c == ',') c = '_';
  }
  if (out.size() > 80) out.resize(80);
  return out;
}

std::string PrometheusLabelValue(std::string_view value) {
  std::string out(value);
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != ':' && c != '_') c = '_';
  }
  return out;
}

std::string JavaDoubleToString(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  std::array<char, 64> buf{};
  auto res = std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::scientific);
  std::string sci(buf.data(), res.ptr);
  // sci looks like "-1.234e+12" or "5e-04": collect the digits and the decimal exponent.
  bool negative = !sci.empty() && sci[0] == '-';
  size_t epos = sci.find('e');
  std::string mant = sci.substr(negative ? 1 : 0, epos - (negative ? 1 : 0));
  int exp10 = std::stoi(sci.substr(epos + 1));
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits.push_back(c);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = negative ? "-" : "";
  double mag = std::fabs(d);
  if (mag >= 1e-3 && mag < 1e7) {
    // Plain notation; the decimal point sits after digit index exp10.
    if (exp10 >= 0) {
      size_t int_len = static_cast<size_t>(exp10) + 1;
      std::string int_part = digits.substr(0, std::min(int_len, digits.size()));
      while (int_part.size() < int_len) int_part.push_back('0');
      std::string frac = digits.size() > int_len ? digits.substr(int_len) : "0";
      out += int_part + "." + frac;
    } else {
      out += "0." + std::string(static_cast<size_t>(-exp10 - 1), '0') + digits;
    }
  } else {
    out += digits.substr(0, 1) + "." + (digits.size() > 1 ? digits.substr(1) : "0") + "E" +
           std::to_string(exp10);
  }
  return out;
}

std::string LocalPathFromUri(std::string_view uri) {
  std::string s(uri);
  if (StartsWith(s, "file://")) {
    s = s.substr(7);
    // file://host/path is not supported; file:///path gives "/path".
    if (!StartsWith(s, "/")) s = "/" + s;
  } else if (StartsWith(s, "file:")) {
    s = s.substr(5);
  }
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string FileUri(std::string_view local_path) { return "file:" + std::string(local_path); }

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ExceptionSpec ParseExceptionSpec(std::string_view text) {
  std::string s = Trim(text);
  size_t colon = s.find(':');
  std::string head = colon == std::string::npos ? s : s.substr(0, colon);
  bool looks_like_class =
      !head.empty() && head.find(' ') == std::string::npos && head.find('.') != std::string::npos;
  if (looks_like_class) {
    std::string msg = colon == std::string::npos ? "" : Trim(s.substr(colon + 1));
    return {head, msg};
  }
  return {"java.lang.RuntimeException", s};
}

std::string JavaStackTrace(const std::string& class_name, const std::string& message,
                           const std::vector<std::string>& frames, const std::string& cause) {
  std::string out = class_name;
  if (!message.empty()) out += ": " + message;
  out += "\n";
  for (const auto& f : frames) out += "\tat " + f + "\n";
  if (!cause.empty()) out += "Caused by: " + cause;
  return out;
}

std::string Base64Encode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t n = (static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8) |
                 static_cast<uint32_t>(static_cast<unsigned char>(data[i + 2]));
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2) n |= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WriteWholeFile(const std::string& path, std::string_view content) {
  std::error_code ec;
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return false;
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return static_cast<bool>(out);
}

}  // namespace flinksim
