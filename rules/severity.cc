#include "rules/severity.h"

#include <string>

namespace flinkguard {

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kCritical: return "critical";
  }
  return "unknown";
}

Result<Severity> ParseSeverity(std::string_view text) {
  if (text == "info") return Severity::kInfo;
  if (text == "warning") return Severity::kWarning;
  if (text == "critical") return Severity::kCritical;
  return Fail(Error::Invalid("expected one of info, warning, critical; found '" +
                             std::string(text) + "'"));
}

}  // namespace flinkguard
