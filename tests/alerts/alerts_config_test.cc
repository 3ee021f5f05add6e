// The alerts section of the config: the mapping form with routes and intervals, what the agent
// builds from it, and bad input reported at file:line with what is wrong (never a secret).

#include <doctest/doctest.h>

#include "agent/alert_wiring.h"
#include "tests/agent/config_test_helpers.h"

using namespace flinkguard;
using namespace flinkguard::testing;

TEST_CASE("alerts as a mapping: receivers, routes, group and repeat intervals") {
  const ConfigLoadResult r =
      LoadYaml(std::string(kMinimal) +
                   "alerts:\n"
                   "  group_interval: 2m\n"
                   "  repeat_interval: 1h\n"
                   "  receivers:\n"
                   "    - {type: alertmanager, name: am, url: 'http://am:9093'}\n"
                   "    - {type: webhook, name: hook, url: 'http://h/x', "
                   "repeat_interval: 30m}\n"
                   "    - {type: pagerduty, name: pd, routing_key_env: PD, "
                   "url: 'http://127.0.0.1:9/v2/enqueue'}\n"
                   "  routes:\n"
                   "    - {receivers: [pd], min_severity: critical, "
                   "rules: ['job-*'], jobs: ['ads-*'], match: {team: ads}}\n"
                   "    - {receivers: [am, hook]}\n",
               FakeEnvironment({{"PD", "0123456789abcdef0123456789abcdef"}}));
  INFO(AllProblems(r));
  REQUIRE(r.ok());
  const Config& c = *r.config;
  CHECK(c.alert_routing.group_interval == std::chrono::minutes(2));
  CHECK(c.alert_routing.repeat_interval == std::chrono::hours(1));
  REQUIRE(c.alert_routing.routes.size() == 2);
  CHECK(c.alert_routing.routes[0].min_severity == Severity::kCritical);
  CHECK(c.alert_routing.routes[0].match == std::map<std::string, std::string>{{"team", "ads"}});
  CHECK(c.alerts[2].url->Reveal() == "http://127.0.0.1:9/v2/enqueue");

  const AlertPolicy p = AlertPolicyFrom(c);
  REQUIRE(p.receivers.size() == 3);
  CHECK(p.receivers[0].repeat_interval_ms == 60'000);       // Alertmanager's default
  CHECK(p.receivers[1].repeat_interval_ms == 30 * 60'000);  // its own
  CHECK(p.receivers[2].repeat_interval_ms == 3'600'000);    // alerts.repeat_interval
  CHECK(p.group_interval_ms == 120'000);
  CHECK(p.cluster_urls.at("a") == "http://jm-a:8081");
  CHECK(p.instance == "agent-host-1");

  // The formatted config (check-config --print) loads back to the same routing.
  const ConfigLoadResult again =
      LoadYaml(FormatConfig(c), FakeEnvironment({{"PD", "0123456789abcdef0123456789abcdef"}}));
  INFO(AllProblems(again));
  // Secrets print as *** and do not load back; the routing part must.
  for (const ConfigProblem& problem : again.problems) {
    CHECK_MESSAGE(problem.key.find("routes") == std::string::npos, FormatProblem(problem));
  }
}

TEST_CASE("bad alert config is reported at file:line: unknown type, missing receiver, bad URL") {
  const ConfigLoadResult r =
      LoadYaml(std::string(kMinimal) +
                   "alerts:\n"
                   "  receivers:\n"
                   "    - {type: pagerduty, name: pagerduty, routing_key_env: PD}\n"
                   "    - {type: sms, name: phone}\n"
                   "    - {type: webhook, name: hook, url: 'ftp://h/x?token=s3cret'}\n"
                   "  routes:\n"
                   "    - {receivers: [pagerdty]}\n"
                   "    - {receivers: [hook], colour: red}\n"
                   "  repeat_interval: 0s\n",
               FakeEnvironment({{"PD", "k"}}));
  CHECK_FALSE(r.ok());
  const ConfigProblem type = OnlyProblemAt(r, "alerts.receivers[1].type");
  CHECK(type.line == 7);
  CHECK(Contains(type.message, "expected one of webhook, alertmanager, slack, pagerduty, command"));
  CHECK(Contains(FormatProblem(type), "test.yaml:7:"));

  const ConfigProblem url = OnlyProblemAt(r, "alerts.receivers[2].url");
  CHECK(url.line == 8);
  CHECK(Contains(url.message,
                 "expected an http(s) URL in the value (not shown: it may hold a token)"));
  CHECK_FALSE(Contains(AllProblems(r), "s3cret"));

  const ConfigProblem route = OnlyProblemAt(r, "alerts.routes[0].receivers");
  CHECK(route.line == 10);
  CHECK(route.message == "no alert receiver named 'pagerdty'; did you mean 'pagerduty'?");
  CHECK(Contains(OnlyProblemAt(r, "alerts.routes[1].colour").message, "unknown key"));
  CHECK(Contains(OnlyProblemAt(r, "alerts.repeat_interval").message, "greater than 0s"));
}

TEST_CASE("the list form of alerts still works and routes need the mapping form") {
  const ConfigLoadResult r =
      LoadYaml(std::string(kMinimal) +
               "alerts:\n"
               "  - {type: webhook, url: 'http://h/x', repeat_interval: 10m}\n");
  INFO(AllProblems(r));
  REQUIRE(r.ok());
  CHECK(r.config->alerts.at(0).repeat_interval == std::chrono::minutes(10));
  CHECK(r.config->alert_routing.routes.empty());
  const ConfigLoadResult bad = LoadYaml(std::string(kMinimal) +
                                        "alerts:\n"
                                        "  routes: [{receivers: [x]}]\n");
  CHECK(OnlyProblemAt(bad, "alerts.receivers").message == "missing required key 'receivers'");
  CHECK(OnlyProblemAt(bad, "alerts.routes[0].receivers").message == "no alert receiver named 'x'");
}
