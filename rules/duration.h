#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "rules/error.h"

namespace flinkguard {

using Duration = std::chrono::milliseconds;

// Parses a duration written as one or more <integer><unit> terms, units ms, s, m, h, d
// (e.g. "500ms", "10s", "5m", "1h30m", "2d"). Whitespace around the text is ignored; a bare
// number, a negative value, an unknown unit, a repeated or out-of-order unit, or a value that
// overflows 64-bit milliseconds is an Error of kind kInvalid whose message says what was
// expected and what was found.
Result<Duration> ParseDuration(std::string_view text);

// Formats a duration in the largest units that represent it exactly ("1h30m", "500ms", "0s"),
// so that ParseDuration(FormatDuration(d)) == d for every d >= 0.
std::string FormatDuration(Duration d);

}  // namespace flinkguard
