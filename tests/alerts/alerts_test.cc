#include "alerts/alerts.h"

#include <doctest/doctest.h>

using namespace flinkguard;

TEST_CASE("a receiver gets alerts at or above its minimum severity") {
  CHECK(SeverityPasses(Severity::kCritical, Severity::kWarning));
  CHECK(SeverityPasses(Severity::kWarning, Severity::kWarning));
  CHECK_FALSE(SeverityPasses(Severity::kInfo, Severity::kWarning));
}
