#include "rules/severity.h"

#include <doctest/doctest.h>

using namespace flinkguard;

TEST_CASE("severities parse, print and order by urgency") {
  for (Severity s : {Severity::kInfo, Severity::kWarning, Severity::kCritical}) {
    CHECK(*ParseSeverity(SeverityName(s)) == s);
  }
  CHECK(Severity::kCritical > Severity::kWarning);
  CHECK(Severity::kWarning > Severity::kInfo);
  auto bad = ParseSeverity("Critical");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().kind == ErrorKind::kInvalid);
  CHECK(bad.error().message.find("'Critical'") != std::string::npos);
}
