#include "rules/job_status.h"

#include <doctest/doctest.h>

#include <string>

using namespace flinkguard;

TEST_CASE("every Flink job status round-trips through its name") {
  const char* names[] = {"INITIALIZING", "CREATED",  "RUNNING",    "FAILING",
                         "FAILED",       "CANCELLING", "CANCELED", "FINISHED",
                         "RESTARTING",   "SUSPENDED",  "RECONCILING"};
  for (const char* n : names) {
    auto s = ParseJobStatus(n);
    REQUIRE(s.has_value());
    CHECK(std::string(JobStatusName(*s)) == n);
  }
  CHECK_FALSE(ParseJobStatus("CANCELING").has_value());  // task spelling, not a job state
  CHECK_FALSE(ParseJobStatus("running").has_value());
  CHECK_FALSE(ParseJobStatus("").has_value());
}

TEST_CASE("only FAILED, CANCELED and FINISHED are globally terminal") {
  CHECK(IsGloballyTerminal(JobStatus::kFailed));
  CHECK(IsGloballyTerminal(JobStatus::kCanceled));
  CHECK(IsGloballyTerminal(JobStatus::kFinished));
  CHECK_FALSE(IsGloballyTerminal(JobStatus::kSuspended));
  CHECK_FALSE(IsGloballyTerminal(JobStatus::kRestarting));
  CHECK_FALSE(IsGloballyTerminal(JobStatus::kRunning));
}
