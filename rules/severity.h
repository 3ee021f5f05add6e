#pragma once

#include <string_view>

#include "rules/error.h"

namespace flinkguard {

// How urgent a finding is; ordered so that `a >= b` means "at least as urgent as b".
enum class Severity { kInfo = 0, kWarning = 1, kCritical = 2 };

// "info", "warning" or "critical".
const char* SeverityName(Severity s);

// Parses "info", "warning" or "critical" (exact, lower case). Anything else is kInvalid with a
// message listing the accepted values.
Result<Severity> ParseSeverity(std::string_view text);

}  // namespace flinkguard
