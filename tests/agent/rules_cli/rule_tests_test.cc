#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "agent/rule_tests.h"
#include "tests/agent/config_test_helpers.h"
#include "tests/support/test_support.h"

namespace flinkguard {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST_CASE("the shipped default-rules.test.yaml passes against the default rules") {
  const RuleTestOutcome o =
      RunRuleTestFile(std::string(FLINKGUARD_SOURCE_DIR) + "/packaging/rules/default-rules.test.yaml",
                      testing::FakeEnvironment());
  INFO(o.report);
  CHECK(o.ok());
  CHECK(o.expectations >= 30);
  CHECK(o.report.find("SUCCESS") != std::string::npos);
}

TEST_CASE("an expectation not met is reported with its line, the test, the rule and the reason") {
  testing::TempDir dir("rule-tests");
  Write(dir.File("t.yaml"), R"(interval: 1m
tests:
  - name: wrong
    jobs:
      j:
        series:
          status: "RUNNING FAILED"
    expect:
      - {at: 1m, rule: job-failed, job: j, state: firing}
      - {at: 1m, rule: job-failed, job: j, state: inactive}
      - {at: 1m, job: j, plan: fresh}
)");
  const RuleTestOutcome o = RunRuleTestFile(dir.File("t.yaml"), testing::FakeEnvironment());
  CHECK_FALSE(o.ok());
  CHECK_FALSE(o.file_error);
  CHECK(o.expectations == 3);
  CHECK(o.failures == 2);
  CHECK(o.report.find(dir.File("t.yaml") + ":10:9: test \"wrong\" at 1m: rule job-failed, job j: "
                      "expected inactive, got firing (status = FAILED == FAILED)") !=
        std::string::npos);
  // No restore point and fresh state not allowed: the planner refuses.
  CHECK(o.report.find(":11:9: test \"wrong\" at 1m: plan, job j: expected fresh, got refused, "
                      "no-restore-point") != std::string::npos);
  CHECK(o.report.find("FAILED: 2 of 3 expectations not met") != std::string::npos);
}

TEST_CASE("a broken rule file is an error naming the rule, the line and the column") {
  testing::TempDir dir("rule-tests");
  Write(dir.File("rules.yaml"), "rules:\n  - name: ok\n    when: status == FAILED\n"
                                "  - name: typo\n    when: increase(restart, 10m) > 5\n");
  Write(dir.File("t.yaml"),
        "rule_files: [rules.yaml]\ntests:\n  - jobs: {j: {series: {status: RUNNING}}}\n");
  const RuleTestOutcome o = RunRuleTestFile(dir.File("t.yaml"), testing::FakeEnvironment());
  CHECK(o.file_error);
  CHECK(o.report.find(dir.File("rules.yaml") + ":5:20: rules[1].when: rule typo: unknown signal "
                      "'restart'") != std::string::npos);
}

TEST_CASE("a series value of the wrong type is an error at its position") {
  testing::TempDir dir("rule-tests");
  Write(dir.File("t.yaml"),
        "tests:\n  - jobs: {j: {series: {status: \"RUNNING x2 BROKEN\"}}}\n");
  const RuleTestOutcome o = RunRuleTestFile(dir.File("t.yaml"), testing::FakeEnvironment());
  CHECK(o.file_error);
  CHECK(o.report.find("series status: 'BROKEN' is not a job status") != std::string::npos);
}

}  // namespace
}  // namespace flinkguard
