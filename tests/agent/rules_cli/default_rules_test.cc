#include <doctest/doctest.h>

#include <string>

#include "agent/config.h"
#include "rules/rule_engine.h"
#include "tests/agent/config_test_helpers.h"

namespace flinkguard {
namespace {

constexpr const char* kNoRules = R"(region: test
clusters:
  - name: a
    url: http://127.0.0.1:8081
jobs:
  - name: orders
    cluster: a
    jar: /opt/orders.jar
    rules:
      qps-drop:
        enabled: false
)";

TEST_CASE("a config without a rules key gets the built-in default rules, compiled") {
  const ConfigLoadResult loaded =
      LoadConfigFromString(kNoRules, "test.yaml", "", testing::FakeEnvironment());
  REQUIRE(loaded.ok());
  const Config& config = *loaded.config;
  CHECK(config.default_rules);
  REQUIRE(config.FindRule("job-failed") != nullptr);
  CHECK(config.FindRule("job-failed")->action == RuleAction::kRecover);
  CHECK(config.FindRule("restart-loop")->action == RuleAction::kRecover);
  CHECK(config.FindRule("checkpoints-stuck")->action == RuleAction::kRecover);
  CHECK(config.FindRule("qps-drop")->action == RuleAction::kAlert);
  CHECK(config.FindRule("qps-drop")->for_duration == std::chrono::minutes{10});
  CHECK(config.FindRule("cluster-unreachable")->action == RuleAction::kAlert);
  CHECK(config.FindRule("backpressure-high")->action == RuleAction::kAlert);
  CHECK(config.FindRule("tasks-not-running")->for_duration > Duration{0});
  // A job's override of a default rule refers to a rule that exists.
  CHECK(ToRuleSpec(*config.FindRule("qps-drop"), config.jobs).disabled_for.count("orders") == 1);
  for (const RuleConfig& rule : config.rules) {
    CAPTURE(rule.name);
    CHECK(CompileRule(ToRuleSpec(rule, config.jobs), CustomSignalNames(config)).has_value());
  }
  CHECK(SummarizeConfig(config).find("(the built-in defaults)") != std::string::npos);
}

TEST_CASE("an empty rules list means no rules, not the defaults") {
  const ConfigLoadResult loaded = LoadConfigFromString(
      "region: test\nclusters:\n  - name: a\n    url: http://127.0.0.1:8081\nrules: []\n",
      "test.yaml", "", testing::FakeEnvironment());
  REQUIRE(loaded.ok());
  CHECK_FALSE(loaded.config->default_rules);
  CHECK(loaded.config->rules.empty());
}

TEST_CASE("a rules file with a broken condition names the rule, the line and the column") {
  const RulesLoadResult loaded = LoadRulesFromString(
      "rules:\n  - name: bad\n    when: increase(restart, 10m) > 5\n", "broken.yaml",
      testing::FakeEnvironment(), {});
  CHECK_FALSE(loaded.ok());
  REQUIRE(loaded.problems.size() == 1);
  CHECK(loaded.problems[0].file == "broken.yaml");
  CHECK(loaded.problems[0].line == 3);
  CHECK(loaded.problems[0].column == 20);  // the 'r' of restart
  CHECK(loaded.problems[0].message.find("rule bad") != std::string::npos);
}

}  // namespace
}  // namespace flinkguard
