#include "rules/duration.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <limits>

namespace flinkguard {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t ms;
};

// Ordered largest first; terms must appear in this order, each at most once.
constexpr std::array<Unit, 5> kUnits{{{"d", 86'400'000},
                                      {"h", 3'600'000},
                                      {"m", 60'000},
                                      {"s", 1'000},
                                      {"ms", 1}}};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

Error Bad(std::string_view text, std::string_view why) {
  return Error::Invalid("expected a duration such as 500ms, 10s, 5m, 1h or 1h30m; found '" +
                        std::string(text) + "' (" + std::string(why) + ")");
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  const std::string_view s = Trim(text);
  if (s.empty()) return Fail(Bad(text, "empty"));
  std::int64_t total = 0;
  std::size_t next_unit = 0;  // index in kUnits the next term may use, at the earliest
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '-') return Fail(Bad(text, "negative durations are not allowed"));
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return Fail(Bad(text, "a number must come first"));
    std::int64_t value = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      const int digit = s[i] - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
        return Fail(Bad(text, "too large"));
      }
      value = value * 10 + digit;
      ++i;
    }
    std::size_t j = i;
    while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
    const std::string_view unit = s.substr(i, j - i);
    if (unit.empty()) return Fail(Bad(text, "missing unit: use ms, s, m, h or d"));
    std::size_t u = 0;
    while (u < kUnits.size() && kUnits[u].name != unit) ++u;
    if (u == kUnits.size()) {
      return Fail(Bad(text, "unknown unit '" + std::string(unit) + "': use ms, s, m, h or d"));
    }
    if (u < next_unit) return Fail(Bad(text, "units must go from largest to smallest, once each"));
    next_unit = u + 1;
    if (value > (std::numeric_limits<std::int64_t>::max() - total) / kUnits[u].ms) {
      return Fail(Bad(text, "too large"));
    }
    total += value * kUnits[u].ms;
    i = j;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  for (const Unit& unit : kUnits) {
    if (ms >= unit.ms) {
      out += std::to_string(ms / unit.ms);
      out += unit.name;
      ms %= unit.ms;
    }
  }
  return out;
}

}  // namespace flinkguard
