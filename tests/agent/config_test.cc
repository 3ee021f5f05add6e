#include "agent/config.h"

#include <doctest/doctest.h>

#include <cstdlib>

#include "agent/wiring.h"
#include "tests/agent/config_test_helpers.h"
#include "tests/support/test_support.h"

using namespace flinkguard;
using namespace flinkguard::testing;
using namespace std::chrono_literals;

namespace {

// Secrets used by the full config; none of them may ever show up in output.
constexpr std::string_view kPassword = "s3cr3t-Passw0rd";
constexpr std::string_view kToken = "tok-9f8e7d6c5b4a";
constexpr std::string_view kDigest = "flinkguard:zk-digest-pw";
constexpr std::string_view kSlackUrl = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
constexpr std::string_view kRoutingKey = "R0UT1NGKEY0123456789abcdef";

struct FullConfig {
  TempDir dir{"flinkguard-config-test"};
  std::string yaml;
  ConfigEnvironment env;

  FullConfig() {
    WriteFile(dir.File("flink.password"), std::string(kPassword) + "\n");
    WriteFile(dir.File("zk.digest"), kDigest);
    WriteFile(dir.File("ca.pem"), "-----BEGIN CERTIFICATE-----\n");
    WriteFile(dir.File("client.pem"), "cert");
    WriteFile(dir.File("client.key"), "key");
    WriteFile(dir.File("slack.url"), std::string(kSlackUrl) + "\n");
    env = FakeEnvironment(
        {{"FLINK_C_TOKEN", std::string(kToken)}, {"PD_ROUTING_KEY", std::string(kRoutingKey)}},
        "host-a");
    yaml = R"(region: us-east-1
agent:
  poll_interval: 15s
  listen: 0.0.0.0:9400
  state_dir: /srv/flinkguard
  dry_run: true
  log_level: debug
  instance_id: fg-1
  max_concurrent_recoveries: 2
ha:
  zookeeper: "zk1:2181,zk2:2182"
  root: /flinkguard/us-east-1
  session_timeout: 20s
  auth_file: zk.digest
tsdb:
  prometheus: "http://prometheus:9090/"
  timeout: 3s
  job_label: flink_job
clusters:
  - name: yarn-a
    url: "http://jm-a:8081"
    az: us-east-1a
    timeout: 7s
    connect_timeout: 1s
    auth: {type: basic, username: fg, password_file: flink.password}
  - name: yarn-b
    url: "https://jm-b"
    tls: {ca_file: ca.pem, cert_file: client.pem, key_file: client.key, verify: false}
  - name: k8s_c
    url: "https://[::1]:8443/flink/"
    auth: {type: bearer, token_env: FLINK_C_TOKEN}
jobs:
  - name: ads-spend-aggregator
    cluster: yarn-a
    failover: [yarn-b, k8s_c]
    jar: /srv/jobs/ads-spend-1.4.2.jar
    entry_class: com.example.AdsSpend
    args: ["--env", "prod", ""]
    parallelism: 8
    savepoint_dir: s3://bucket/savepoints/ads-spend
    labels: {team: ads, tier: "1"}
    signals: {qps: 'sum(rate(x{job_name="ads"}[1m]))'}
    recovery:
      allow_fresh_state: true
      allow_non_restored_state: true
      max_recoveries: 4
      window: 2h
      max_checkpoint_age: 90m
      cooldown: 2m
      stable_after: 10m
      verify_timeout: 3m
      stop_with_savepoint: true
    rules:
      qps-drop: {enabled: false}
  - name: Clickstream Sessionizer v2
    cluster: yarn-b
    jar: /srv/jobs/click.jar
rules:
  - {name: job-failed, when: "status == FAILED", action: recover, severity: critical}
  - name: qps-drop
    when: qps < 0.2 * avg_over_time(qps, 1h)
    for: 10m
    keep_firing_for: 5m
    action: alert
    labels: {team: ads}
    annotations: {summary: "QPS dropped"}
    jobs: ["ads-*", "click?"]
alerts:
  - {type: alertmanager, url: "http://alertmanager:9093"}
  - {type: pagerduty, routing_key_env: PD_ROUTING_KEY, min_severity: critical}
  - {type: slack, name: oncall, url_file: slack.url, timeout: 3s, min_severity: warning}
  - {type: command, command: ["/usr/local/bin/notify", "--to", "ops"]}
  - {type: webhook, url: "https://hooks.example.com/flink?team=ads"}
)";
  }

  ConfigLoadResult Load() const { return LoadYaml(yaml, env, dir.path()); }
};

}  // namespace

TEST_CASE("a full config loads into the right values") {
  FullConfig f;
  const ConfigLoadResult r = f.Load();
  INFO("problems:\n" << AllProblems(r));
  REQUIRE(r.ok());
  CHECK(r.problems.empty());
  const Config& c = *r.config;
  CHECK(c.source == "test.yaml");
  CHECK(c.region == "us-east-1");

  CHECK(c.agent.poll_interval == 15s);
  CHECK(c.agent.listen == HostPort{"0.0.0.0", 9400});
  CHECK(c.agent.state_dir == "/srv/flinkguard");
  CHECK(c.agent.dry_run);
  CHECK(c.agent.log_level == LogLevel::kDebug);
  CHECK(c.agent.instance_id == "fg-1");
  CHECK(c.agent.max_concurrent_recoveries == 2);

  REQUIRE(c.ha.has_value());
  CHECK(c.ha->zookeeper == std::vector<HostPort>{{"zk1", 2181}, {"zk2", 2182}});
  CHECK(c.ha->connect_string == "zk1:2181,zk2:2182");
  CHECK(c.ha->root == "/flinkguard/us-east-1");
  CHECK(c.ha->session_timeout == 20s);
  REQUIRE(c.ha->digest_auth.has_value());
  CHECK(c.ha->digest_auth->Reveal() == kDigest);
  CHECK(c.ha->digest_auth->origin() == "file " + f.dir.File("zk.digest"));

  REQUIRE(c.tsdb.has_value());
  CHECK(c.tsdb->prometheus.ToString() == "http://prometheus:9090");
  CHECK(c.tsdb->prometheus.port == 9090);
  CHECK(c.tsdb->timeout == 3s);
  CHECK(c.tsdb->job_label == "flink_job");

  REQUIRE(c.clusters.size() == 3);
  const ClusterConfig& a = c.clusters[0];
  CHECK(a.name == "yarn-a");
  CHECK(a.url.scheme == "http");
  CHECK(a.url.host == "jm-a");
  CHECK(a.url.port == 8081);
  CHECK(a.az == "us-east-1a");
  CHECK(a.timeout == 7s);
  CHECK(a.connect_timeout == 1s);
  CHECK_FALSE(a.tls.has_value());
  REQUIRE(a.auth.has_value());
  CHECK(a.auth->type == ClusterAuthType::kBasic);
  CHECK(a.auth->username == "fg");
  CHECK(a.auth->password.Reveal() == kPassword);  // trailing newline trimmed
  const ClusterConfig& b = c.clusters[1];
  CHECK(b.url.port == 443);
  CHECK_FALSE(b.url.explicit_port);
  CHECK(b.az.empty());
  CHECK(b.timeout == 5s);          // default
  CHECK(b.connect_timeout == 2s);  // default
  REQUIRE(b.tls.has_value());
  CHECK(b.tls->ca_file == f.dir.File("ca.pem"));  // resolved against the base directory
  CHECK(b.tls->cert_file == f.dir.File("client.pem"));
  CHECK(b.tls->key_file == f.dir.File("client.key"));
  CHECK_FALSE(b.tls->verify);
  const ClusterConfig& k = c.clusters[2];
  CHECK(k.url.host == "::1");
  CHECK(k.url.path == "/flink");
  CHECK(k.url.ToString() == "https://[::1]:8443/flink");
  REQUIRE(k.auth.has_value());
  CHECK(k.auth->type == ClusterAuthType::kBearer);
  CHECK(k.auth->token.Reveal() == kToken);
  CHECK(k.auth->token.origin() == "env FLINK_C_TOKEN");

  REQUIRE(c.jobs.size() == 2);
  const JobConfig& j = c.jobs[0];
  CHECK(j.name == "ads-spend-aggregator");
  CHECK(j.cluster == "yarn-a");
  CHECK(j.failover == std::vector<std::string>{"yarn-b", "k8s_c"});
  CHECK(j.jar == "/srv/jobs/ads-spend-1.4.2.jar");
  CHECK(j.entry_class == "com.example.AdsSpend");
  CHECK(j.args == std::vector<std::string>{"--env", "prod", ""});
  CHECK(j.parallelism == 8);
  CHECK(j.savepoint_dir == "s3://bucket/savepoints/ads-spend");
  CHECK(j.labels == std::map<std::string, std::string>{{"team", "ads"}, {"tier", "1"}});
  REQUIRE(j.signals.count("qps") == 1);
  CHECK(j.signals.at("qps").text == "sum(rate(x{job_name=\"ads\"}[1m]))");
  CHECK(j.recovery.allow_fresh_state);
  CHECK(j.recovery.allow_non_restored_state);
  CHECK(j.recovery.max_recoveries == 4);
  CHECK(j.recovery.window == 2h);
  CHECK(j.recovery.max_checkpoint_age == std::optional<Duration>(90min));
  CHECK(j.recovery.cooldown == 2min);
  CHECK(j.recovery.stable_after == 10min);
  CHECK(j.recovery.verify_timeout == 3min);
  CHECK(j.recovery.stop_with_savepoint);
  REQUIRE(j.rules.count("qps-drop") == 1);
  CHECK_FALSE(j.rules.at("qps-drop").enabled);

  const JobConfig& j2 = c.jobs[1];
  CHECK(j2.name == "Clickstream Sessionizer v2");
  CHECK(j2.failover.empty());
  CHECK_FALSE(j2.parallelism.has_value());
  CHECK(j2.entry_class.empty());
  CHECK(j2.savepoint_dir.empty());
  // Recovery defaults.
  CHECK_FALSE(j2.recovery.allow_fresh_state);
  CHECK_FALSE(j2.recovery.allow_non_restored_state);
  CHECK(j2.recovery.max_recoveries == 3);
  CHECK(j2.recovery.window == 1h);
  CHECK_FALSE(j2.recovery.max_checkpoint_age.has_value());
  CHECK(j2.recovery.cooldown == 1min);
  CHECK(j2.recovery.stable_after == 5min);
  CHECK(j2.recovery.verify_timeout == 5min);
  CHECK_FALSE(j2.recovery.stop_with_savepoint);

  REQUIRE(c.rules.size() == 2);
  CHECK(c.rules[0].name == "job-failed");
  CHECK(c.rules[0].when.text == "status == FAILED");
  CHECK(c.rules[0].action == RuleAction::kRecover);
  CHECK(c.rules[0].severity == Severity::kCritical);
  CHECK(c.rules[0].for_duration == 0s);  // default
  CHECK(c.rules[0].keep_firing_for == 0s);
  CHECK(c.rules[0].jobs.empty());  // every job
  const RuleConfig& q = c.rules[1];
  CHECK(q.when.text == "qps < 0.2 * avg_over_time(qps, 1h)");
  CHECK(q.for_duration == 10min);
  CHECK(q.keep_firing_for == 5min);
  CHECK(q.severity == Severity::kWarning);  // default
  CHECK(q.action == RuleAction::kAlert);
  CHECK(q.labels.at("team") == "ads");
  CHECK(q.annotations.at("summary") == "QPS dropped");
  CHECK(q.jobs == std::vector<std::string>{"ads-*", "click?"});

  REQUIRE(c.alerts.size() == 5);
  CHECK(c.alerts[0].type == AlertReceiverType::kAlertmanager);
  CHECK(c.alerts[0].name == "alertmanager-0");  // default: type-index
  REQUIRE(c.alerts[0].url.has_value());
  CHECK(c.alerts[0].url->Reveal() == "http://alertmanager:9093");
  CHECK(c.alerts[0].timeout == 10s);
  CHECK(c.alerts[0].min_severity == Severity::kInfo);
  CHECK(c.alerts[1].type == AlertReceiverType::kPagerDuty);
  CHECK(c.alerts[1].name == "pagerduty-1");
  REQUIRE(c.alerts[1].routing_key.has_value());
  CHECK(c.alerts[1].routing_key->Reveal() == kRoutingKey);
  CHECK(c.alerts[1].min_severity == Severity::kCritical);
  CHECK(c.alerts[2].type == AlertReceiverType::kSlack);
  CHECK(c.alerts[2].name == "oncall");
  CHECK(c.alerts[2].url->Reveal() == kSlackUrl);
  CHECK(c.alerts[2].timeout == 3s);
  CHECK(c.alerts[3].type == AlertReceiverType::kCommand);
  CHECK(c.alerts[3].command == std::vector<std::string>{"/usr/local/bin/notify", "--to", "ops"});
  CHECK(c.alerts[4].type == AlertReceiverType::kWebhook);

  CHECK(c.FindCluster("yarn-b") == &c.clusters[1]);
  CHECK(c.FindCluster("nope") == nullptr);
  CHECK(c.FindJob("Clickstream Sessionizer v2") == &c.jobs[1]);
  CHECK(c.FindRule("qps-drop") == &c.rules[1]);
  CHECK(SummarizeConfig(c) == "region us-east-1, 3 clusters, 2 jobs, 2 rules, 5 alert receivers");
}

TEST_CASE("a minimal config gets every default") {
  const ConfigLoadResult r = LoadYaml(kMinimal, FakeEnvironment({}, "box-7"));
  INFO(AllProblems(r));
  REQUIRE(r.ok());
  const Config& c = *r.config;
  CHECK(c.agent.poll_interval == 10s);
  CHECK(c.agent.listen == HostPort{"127.0.0.1", 9310});
  CHECK(c.agent.state_dir == "/var/lib/flinkguard");
  CHECK_FALSE(c.agent.dry_run);
  CHECK(c.agent.log_level == LogLevel::kInfo);
  CHECK(c.agent.instance_id == "box-7");  // the host name
  CHECK(c.agent.max_concurrent_recoveries == 5);
  CHECK_FALSE(c.ha.has_value());
  CHECK_FALSE(c.tsdb.has_value());
  CHECK(c.jobs.empty());
  CHECK(c.default_rules);  // no `rules` key: the built-in table
  CHECK(c.rules.size() == 10);
  CHECK(c.alerts.empty());
  CHECK(SummarizeConfig(c) ==
        "region r1, 1 cluster, 0 jobs, 10 rules (the built-in defaults), 0 alert receivers");

  const ConfigLoadResult t = LoadYaml(std::string(kMinimal) + "tsdb: {prometheus: 'http://p'}\n");
  REQUIRE(t.ok());
  CHECK(t.config->tsdb->timeout == 5s);
  CHECK(t.config->tsdb->job_label == "job_name");
  CHECK(t.config->tsdb->prometheus.port == 80);
  const ConfigLoadResult h =
      LoadYaml(std::string(kMinimal) + "ha: {zookeeper: 'zk:2181', root: /fg}\n");
  REQUIRE(h.ok());
  CHECK(h.config->ha->session_timeout == 10s);
  CHECK_FALSE(h.config->ha->digest_auth.has_value());
}

TEST_CASE("a cluster's own observer cadence: metric_fetch_interval and detail_every") {
  const ConfigLoadResult r = LoadYaml(
      "region: r\n"
      "clusters:\n"
      "  - {name: a, url: 'http://jm-a:8081', metric_fetch_interval: 30s, detail_every: 6}\n"
      "  - {name: b, url: 'http://jm-b:8081'}\n");
  INFO(AllProblems(r));
  REQUIRE(r.ok());
  const ClusterConfig& a = r.config->clusters[0];
  CHECK(a.metric_fetch_interval == 30s);
  CHECK(a.detail_every == 6);
  const ClusterConfig& b = r.config->clusters[1];  // the agent-wide values
  CHECK_FALSE(b.metric_fetch_interval.has_value());
  CHECK_FALSE(b.detail_every.has_value());
  const std::vector<ObservedCluster> observed = ObservedClustersFrom(*r.config);
  REQUIRE(observed.size() == 2);
  CHECK(observed[0].metric_fetch_interval_ms == 30'000);
  CHECK(observed[0].detail_every == 6);
  CHECK_FALSE(observed[1].metric_fetch_interval_ms.has_value());
  CHECK_FALSE(observed[1].detail_every.has_value());
  const std::string formatted = FormatConfig(*r.config);
  CHECK(Contains(formatted, "metric_fetch_interval: 30s"));
  CHECK(Contains(formatted, "detail_every: 6"));

  const ConfigLoadResult bad = LoadYaml(
      "region: r\n"
      "clusters:\n"
      "  - {name: a, url: 'http://jm-a:8081', metric_fetch_interval: 0s, detail_every: 0}\n"
      "  - {name: b, url: 'http://jm-b:8081', metric_fetch_interval: soon, detail_every: 101}\n");
  CHECK_FALSE(bad.ok());
  CHECK(OnlyProblemAt(bad, "clusters[0].metric_fetch_interval").message ==
        "expected a duration greater than 0s; found '0s'");
  CHECK(OnlyProblemAt(bad, "clusters[0].detail_every").message ==
        "expected a whole number from 1 to 100; found '0'");
  CHECK(Contains(OnlyProblemAt(bad, "clusters[1].metric_fetch_interval").message,
                 "found 'soon'"));
  CHECK(OnlyProblemAt(bad, "clusters[1].detail_every").message ==
        "expected a whole number from 1 to 100; found '101'");
}

TEST_CASE("an unknown key is reported at its position with a suggestion when close") {
  const ConfigLoadResult r = LoadYaml(std::string(kMinimal) +
                                      "agent:\n"
                                      "  poll_intervl: 10s\n"
                                      "  frobnicate: 1\n");
  CHECK_FALSE(r.ok());
  const ConfigProblem p = OnlyProblemAt(r, "agent.poll_intervl");
  CHECK(p.file == "test.yaml");
  CHECK(p.line == 5);
  CHECK(p.column == 3);
  CHECK(Contains(p.message, "unknown key 'poll_intervl'; did you mean 'poll_interval'?"));
  CHECK(FormatProblem(p) ==
        "test.yaml:5:3: agent.poll_intervl: unknown key 'poll_intervl'; did you mean "
        "'poll_interval'?");
  // Nothing close: no guess, the list of keys instead.
  const ConfigProblem far = OnlyProblemAt(r, "agent.frobnicate");
  CHECK(far.line == 6);
  CHECK_FALSE(Contains(far.message, "did you mean"));
  CHECK(Contains(far.message, "expected one of poll_interval, listen"));

  // At the top level and inside list items too.
  const ConfigLoadResult top = LoadYaml(std::string(kMinimal) + "cluster: []\n");
  CHECK(Contains(OnlyProblemAt(top, "cluster").message, "did you mean 'clusters'?"));
  const ConfigLoadResult item =
      LoadYaml("region: r\nclusters:\n  - {name: a, url: 'http://x', timout: 5s}\n");
  const ConfigProblem ip = OnlyProblemAt(item, "clusters[0].timout");
  CHECK(ip.line == 3);
  CHECK(ip.column == 32);
  CHECK(Contains(ip.message, "did you mean 'timeout'?"));
}

TEST_CASE("a key repeated in one mapping is an error") {
  // yaml-cpp keeps both entries; the loader reports the second.
  const ConfigLoadResult r = LoadYaml(std::string(kMinimal) +
                                      "agent:\n"
                                      "  dry_run: false\n"
                                      "  dry_run: true\n"
                                      "region: r2\n");
  CHECK_FALSE(r.ok());
  const ConfigProblem p = OnlyProblemAt(r, "agent.dry_run");
  CHECK(p.line == 6);
  CHECK(p.column == 3);
  CHECK(Contains(p.message, "duplicate key 'dry_run' (first at line 5)"));
  const ConfigProblem top = OnlyProblemAt(r, "region");
  CHECK(top.line == 7);
  CHECK(Contains(top.message, "first at line 1"));
  // Free-form maps too.
  const ConfigLoadResult labels = LoadYaml(std::string(kMinimal) +
                                           "rules:\n"
                                           "  - {name: x, when: 'a > 1', labels: {t: a, t: b}}\n");
  CHECK(Contains(OnlyProblemAt(labels, "rules[0].labels.t").message, "duplicate key 't'"));
}

TEST_CASE("wrong types are reported with what was expected and what was found") {
  const ConfigLoadResult r =
      LoadYaml(std::string(kMinimal) +
               "agent:\n"                            // 4
               "  dry_run: yes\n"                    // 5
               "  max_concurrent_recoveries: 2.5\n"  // 6
               "  log_level: [info]\n"               // 7
               "  state_dir:\n"                      // 8
               "jobs:\n"                             // 9
               "  - name: j\n"                       // 10
               "    cluster: a\n"                    // 11
               "    jar: /x.jar\n"                   // 12
               "    parallelism: \"8\"\n"            // 13
               "    args: --env\n"                   // 14
               "    recovery: {allow_fresh_state: 'true', stop_with_savepoint: True}\n"
               "    labels: [a, b]\n"  // 16
               "rules: {name: x}\n");  // 17
  CHECK_FALSE(r.ok());
  const auto dry = OnlyProblemAt(r, "agent.dry_run");
  CHECK(dry.line == 5);
  CHECK(dry.column == 12);
  CHECK(dry.message == "expected true or false; found 'yes'");
  CHECK(OnlyProblemAt(r, "agent.max_concurrent_recoveries").message ==
        "expected a whole number from 1 to 10000; found '2.5'");
  CHECK(Contains(OnlyProblemAt(r, "agent.log_level").message, "found a list"));
  const auto empty = OnlyProblemAt(r, "agent.state_dir");
  CHECK(empty.message == "expected a string; found an empty value");
  CHECK(empty.line == 8);  // placed at the key: the value has no position of its own
  CHECK(empty.column == 3);
  CHECK(OnlyProblemAt(r, "jobs[0].parallelism").message ==
        "expected a whole number from 1 to 32768; found the quoted string '8'");
  CHECK(OnlyProblemAt(r, "jobs[0].args").message == "expected a list; found '--env'");
  CHECK(OnlyProblemAt(r, "jobs[0].recovery.allow_fresh_state").message ==
        "expected true or false; found the quoted string 'true'");
  CHECK(OnlyProblemAt(r, "jobs[0].recovery.stop_with_savepoint").message ==
        "expected true or false; found 'True'");
  CHECK(OnlyProblemAt(r, "jobs[0].labels").message == "expected a mapping; found a list");
  const auto rules = OnlyProblemAt(r, "rules");
  CHECK(rules.message == "expected a list; found a mapping");
  CHECK(rules.line == 17);

  const ConfigLoadResult range =
      LoadYaml(std::string(kMinimal) + "agent: {max_concurrent_recoveries: 0}\n");
  CHECK(OnlyProblemAt(range, "agent.max_concurrent_recoveries").message ==
        "expected a whole number from 1 to 10000; found '0'");
}

TEST_CASE("durations are checked for syntax and range") {
  const ConfigLoadResult r = LoadYaml(
      "region: r\n"
      "agent: {poll_interval: 500ms}\n"
      "clusters:\n"
      "  - name: a\n"
      "    url: http://jm:8081\n"
      "    timeout: ten\n"
      "    connect_timeout: 0s\n"
      "rules:\n"
      "  - {name: x, when: a, for: 10}\n");
  CHECK_FALSE(r.ok());
  const auto ten = OnlyProblemAt(r, "clusters[0].timeout");
  CHECK(ten.line == 6);
  CHECK(ten.column == 14);
  CHECK(Contains(ten.message, "expected a duration such as 500ms, 10s, 5m, 1h"));
  CHECK(Contains(ten.message, "found 'ten'"));
  CHECK(OnlyProblemAt(r, "agent.poll_interval").message ==
        "expected a duration of at least 1s; found '500ms'");
  CHECK(OnlyProblemAt(r, "clusters[0].connect_timeout").message ==
        "expected a duration greater than 0s; found '0s'");
  CHECK(Contains(OnlyProblemAt(r, "rules[0].for").message, "missing unit"));

  const ConfigLoadResult order = LoadYaml(
      "region: r\n"
      "clusters:\n"
      "  - {name: a, url: 'http://jm:8081', timeout: 1s, connect_timeout: 3s}\n");
  CHECK(OnlyProblemAt(order, "clusters[0].connect_timeout").message ==
        "connect_timeout (3s) must not exceed timeout (1s)");
}

TEST_CASE("URLs must be http or https with a host, and never carry credentials") {
  const ConfigLoadResult r = LoadYaml(
      "region: r\n"
      "clusters:\n"
      "  - {name: a, url: 'jm-a:8081'}\n"
      "  - {name: b, url: 'ftp://jm-b'}\n"
      "  - {name: c, url: 'http://:8081'}\n"
      "  - {name: d, url: 'http://jm-d:99999'}\n"
      "  - {name: e, url: 'http://admin:hunter2@jm-e:8081'}\n"
      "tsdb: {prometheus: 'prometheus:9090'}\n");
  CHECK_FALSE(r.ok());
  const auto a = OnlyProblemAt(r, "clusters[0].url");
  CHECK(a.line == 3);
  CHECK(a.column == 20);
  CHECK(Contains(a.message,
                 "expected an http(s) URL such as http://jobmanager:8081; found "
                 "'jm-a:8081': the scheme is missing"));
  CHECK(Contains(OnlyProblemAt(r, "clusters[1].url").message, "must be http or https"));
  CHECK(Contains(OnlyProblemAt(r, "clusters[2].url").message, "the host is missing"));
  CHECK(Contains(OnlyProblemAt(r, "clusters[3].url").message, "from 1 to 65535"));
  const auto e = OnlyProblemAt(r, "clusters[4].url");
  CHECK(Contains(e.message, "credentials in the URL"));
  CHECK_FALSE(Contains(FormatProblem(e), "hunter2"));
  CHECK(Contains(OnlyProblemAt(r, "tsdb.prometheus").message, "scheme is missing"));
}

TEST_CASE("missing required keys are reported at the mapping that lacks them") {
  const ConfigLoadResult r = LoadYaml(
      "agent: {dry_run: false}\n"
      "jobs:\n"
      "  - name: j\n"
      "    cluster: a\n"
      "rules:\n"
      "  - name: x\n"
      "alerts:\n"
      "  - {name: hook}\n");
  CHECK_FALSE(r.ok());
  const auto region = OnlyProblemAt(r, "region");
  CHECK(region.message == "missing required key 'region'");
  CHECK(region.line == 1);
  CHECK(region.column == 1);
  CHECK(OnlyProblemAt(r, "clusters").message == "missing required key 'clusters'");
  const auto jar = OnlyProblemAt(r, "jobs[0].jar");
  CHECK(jar.message == "missing required key 'jar'");
  CHECK(jar.line == 3);
  CHECK(jar.column == 5);
  CHECK(OnlyProblemAt(r, "rules[0].when").message == "missing required key 'when'");
  const auto type = OnlyProblemAt(r, "alerts[0].type");
  CHECK(type.line == 8);
  CHECK(type.column == 5);

  const ConfigLoadResult empty_item = LoadYaml(
      "region: r\n"
      "clusters:\n"
      "  -\n"
      "  - {name: a, url: 'http://a'}\n");
  const auto item = OnlyProblemAt(empty_item, "clusters[0]");
  CHECK(item.message == "expected a mapping; found an empty value");
  CHECK(item.line == 3);  // its '-', not the next item
  CHECK(item.column == 3);

  const ConfigLoadResult none = LoadYaml("region: r\nclusters: []\n");
  CHECK(OnlyProblemAt(none, "clusters").message ==
        "expected at least one cluster; found an empty list");
}

TEST_CASE("names must be unique and well formed") {
  const ConfigLoadResult r = LoadYaml(
      "region: r\n"
      "clusters:\n"
      "  - {name: a, url: 'http://x'}\n"
      "  - {name: a, url: 'http://y'}\n"
      "  - {name: Bad Name, url: 'http://z'}\n"
      "jobs:\n"
      "  - {name: j, cluster: a, jar: /j.jar}\n"
      "  - {name: j, cluster: a, jar: /j.jar}\n"
      "rules:\n"
      "  - {name: r, when: x}\n"
      "  - {name: r, when: y}\n"
      "alerts:\n"
      "  - {type: webhook, url: 'http://h', name: webhook-1}\n"
      "  - {type: webhook, url: 'http://h'}\n");
  CHECK_FALSE(r.ok());
  const auto dup = OnlyProblemAt(r, "clusters[1].name");
  CHECK(dup.line == 4);
  CHECK(dup.column == 12);
  CHECK(dup.message == "duplicate cluster name 'a' (first defined at line 3)");
  CHECK(Contains(OnlyProblemAt(r, "clusters[2].name").message,
                 "lower-case letters, digits, '-' and '_'; found 'Bad Name'"));
  CHECK(OnlyProblemAt(r, "jobs[1].name").message ==
        "duplicate job name 'j' (first defined at line 7)");
  CHECK(OnlyProblemAt(r, "rules[1].name").message ==
        "duplicate rule name 'r' (first defined at line 10)");
  // The second receiver's default name (type-index) clashes with the first's explicit one.
  const auto recv = OnlyProblemAt(r, "alerts[1]");
  CHECK(Contains(recv.message, "duplicate receiver name 'webhook-1'"));
  CHECK(recv.line == 14);
}

TEST_CASE("jobs must refer to configured clusters and rules") {
  const ConfigLoadResult r = LoadYaml(
      "region: r\n"
      "clusters:\n"
      "  - {name: yarn-a, url: 'http://a'}\n"
      "  - {name: yarn-b, url: 'http://b'}\n"
      "jobs:\n"
      "  - name: j\n"
      "    cluster: yarn_a\n"
      "    failover: [yarn-b, yarn-b, zzz]\n"
      "    jar: /j.jar\n"
      "    rules: {qps-dorp: {enabled: false}, job-failed: {enabled: true}, other: {enabled: "
      "true}}\n"
      "  - name: k\n"
      "    cluster: yarn-a\n"
      "    failover: [yarn-a]\n"
      "    jar: /k.jar\n"
      "rules:\n"
      "  - {name: qps-drop, when: 'qps < 1'}\n"
      "  - {name: job-failed, when: 'status == FAILED'}\n");
  CHECK_FALSE(r.ok());
  const auto dangling = OnlyProblemAt(r, "jobs[0].cluster");
  CHECK(dangling.line == 7);
  CHECK(dangling.column == 14);
  CHECK(dangling.message == "no cluster named 'yarn_a'; did you mean 'yarn-a'?");
  CHECK(OnlyProblemAt(r, "jobs[0].failover[1]").message == "cluster 'yarn-b' is listed twice");
  CHECK(OnlyProblemAt(r, "jobs[0].failover[2]").message ==
        "no cluster named 'zzz'; configured clusters: yarn-a, yarn-b");
  const auto self = OnlyProblemAt(r, "jobs[1].failover[0]");
  CHECK(self.line == 13);
  CHECK(self.column == 16);
  CHECK(Contains(self.message, "failover to the job's own cluster 'yarn-a'"));
  const auto rule = OnlyProblemAt(r, "jobs[0].rules.qps-dorp");
  CHECK(rule.line == 10);
  CHECK(rule.column == 13);
  CHECK(rule.message == "no rule named 'qps-dorp'; did you mean 'qps-drop'?");
  CHECK(OnlyProblemAt(r, "jobs[0].rules.other").message == "no rule named 'other'");
  CHECK(ProblemsAt(r, "jobs[0].rules.job-failed").empty());

  const ConfigLoadResult no_rules = LoadYaml(std::string(kMinimal) + "rules: []\n" +
                                             "jobs:\n"
                                             "  - {name: j, cluster: a, jar: /j.jar, rules: "
                                             "{x: {enabled: false}}}\n");
  CHECK(OnlyProblemAt(no_rules, "jobs[0].rules.x").message ==
        "no rule named 'x'; no rules are configured");
}

TEST_CASE("severity, action, log level and receiver type accept only their words") {
  const ConfigLoadResult r =
      LoadYaml(std::string(kMinimal) +
               "agent: {log_level: warning}\n"
               "rules:\n"
               "  - {name: x, when: a, severity: Critical, action: restart}\n"
               "  - {name: y, when: a, action: recovr}\n"
               "alerts:\n"
               "  - {type: email}\n");
  CHECK_FALSE(r.ok());
  CHECK(OnlyProblemAt(r, "rules[0].severity").message ==
        "expected one of info, warning, critical; found 'Critical'; did you mean 'critical'?");
  CHECK(OnlyProblemAt(r, "rules[0].action").message ==
        "expected one of alert, recover, savepoint, failover, none; found 'restart'");
  CHECK(Contains(OnlyProblemAt(r, "rules[1].action").message, "did you mean 'recover'?"));
  CHECK(Contains(OnlyProblemAt(r, "agent.log_level").message,
                 "expected one of trace, debug, info, warn, error; found 'warning'"));
  CHECK(OnlyProblemAt(r, "alerts[0].type").message ==
        "expected one of webhook, alertmanager, slack, pagerduty, command; found 'email'");
}

TEST_CASE("secret files and variables must exist and hold something") {
  TempDir dir("flinkguard-config-secret");
  WriteFile(dir.File("empty.key"), "\n  \n");
  const ConfigEnvironment env = FakeEnvironment({{"EMPTY_VAR", ""}});
  const ConfigLoadResult r = LoadYaml(
      "region: r\n"
      "clusters:\n"
      "  - name: a\n"
      "    url: http://a\n"
      "    auth: {type: basic, username: u, password_file: missing.pw}\n"
      "  - name: b\n"
      "    url: http://b\n"
      "    auth: {type: bearer, token_env: FLINK_TOKEN}\n"
      "alerts:\n"
      "  - {type: pagerduty, routing_key_file: empty.key}\n"
      "  - {type: pagerduty, routing_key_env: EMPTY_VAR}\n"
      "  - {type: pagerduty, routing_key_env: 'not a name'}\n"
      "  - {type: pagerduty}\n"
      "  - {type: slack, url_file: " +
          dir.path() + "}\n",
      env, dir.path());
  CHECK_FALSE(r.ok());
  const auto missing = OnlyProblemAt(r, "clusters[0].auth.password_file");
  CHECK(missing.line == 5);
  CHECK(missing.column == 53);
  CHECK(missing.message ==
        "cannot read secret file '" + dir.File("missing.pw") + "': No such file or directory");
  const auto unset = OnlyProblemAt(r, "clusters[1].auth.token_env");
  CHECK(unset.line == 8);
  CHECK(unset.message ==
        "environment variable FLINK_TOKEN is not set; expected it to hold the secret");
  CHECK(OnlyProblemAt(r, "alerts[0].routing_key_file").message ==
        "secret file '" + dir.File("empty.key") + "' is empty; expected the credential in it");
  CHECK(OnlyProblemAt(r, "alerts[1].routing_key_env").message ==
        "environment variable EMPTY_VAR is empty; expected it to hold the secret");
  CHECK(Contains(OnlyProblemAt(r, "alerts[2].routing_key_env").message,
                 "expected the name of an environment variable"));
  CHECK(OnlyProblemAt(r, "alerts[3]").message ==
        "missing the PagerDuty routing key: set one of routing_key_file, routing_key_env");
  CHECK(Contains(OnlyProblemAt(r, "alerts[4].url_file").message, "it is a directory"));
}

TEST_CASE("secrets never appear in problems, formatted configs or streams") {
  FullConfig f;
  const ConfigLoadResult ok = f.Load();
  REQUIRE(ok.ok());
  const std::string formatted = FormatConfig(*ok.config);
  for (std::string_view secret : {kPassword, kToken, kDigest, kSlackUrl, kRoutingKey}) {
    CAPTURE(secret);
    CHECK_FALSE(Contains(formatted, secret));
  }
  CHECK(Contains(formatted, "password: \"***\"  # file " + f.dir.File("flink.password")));
  CHECK(Contains(formatted, "routing_key: \"***\"  # env PD_ROUTING_KEY"));
  CHECK(Contains(formatted, "poll_interval: 15s"));
  CHECK(Contains(formatted, "max_recoveries: 4"));

  // Content that is wrong in a way the loader checks, with the secret still kept out of the
  // message: a digest without ':' and a Slack URL file that holds no URL.
  TempDir dir("flinkguard-config-leak");
  WriteFile(dir.File("digest"), "justapasswordnocolon");
  WriteFile(dir.File("slack"), "xoxb-not-a-url-TOPSECRET");
  const ConfigLoadResult bad =
      LoadYaml(std::string(kMinimal) +
                   "ha: {zookeeper: 'zk:2181', root: /fg, auth_file: digest}\n"
                   "alerts:\n"
                   "  - {type: slack, url_file: slack}\n"
                   "  - {type: slack, url: 'https://hooks.slack.com/services/INLINE-TOKEN'}\n"
                   "  - {type: webhook, url_env: HOOK}\n"
                   "  - {type: webhook, url: 'htps://hooks.example.com/?token=QUERYTOKEN'}\n",
               FakeEnvironment({{"HOOK", "not a url ENVTOKEN"}}), dir.path());
  CHECK_FALSE(bad.ok());
  REQUIRE(bad.problems.size() == 5);
  for (const auto& p : bad.problems) {
    const std::string line = FormatProblem(p);
    CAPTURE(line);
    for (std::string_view secret :
         {"justapasswordnocolon", "TOPSECRET", "INLINE-TOKEN", "ENVTOKEN", "QUERYTOKEN"}) {
      CHECK_FALSE(Contains(line, secret));
    }
  }
  CHECK(Contains(OnlyProblemAt(bad, "ha.auth_file").message, "expected digest credentials"));
  CHECK(Contains(OnlyProblemAt(bad, "alerts[0].url_file").message,
                 "expected an http(s) URL in file " + dir.File("slack")));
  CHECK(Contains(OnlyProblemAt(bad, "alerts[1].url").message, "carries a token"));
  CHECK(Contains(OnlyProblemAt(bad, "alerts[2].url_env").message, "in env HOOK"));
  CHECK(Contains(OnlyProblemAt(bad, "alerts[3].url").message, "must be http or https"));
}

TEST_CASE("TLS and auth settings are checked per type") {
  TempDir dir("flinkguard-config-tls");
  WriteFile(dir.File("ca.pem"), "x");
  WriteFile(dir.File("client.pem"), "x");
  WriteFile(dir.File("pw"), "pw");
  const ConfigLoadResult r = LoadYaml(
      "region: r\n"
      "clusters:\n"
      "  - name: a\n"
      "    url: http://a\n"
      "    tls: {ca_file: ca.pem}\n"
      "  - name: b\n"
      "    url: https://b\n"
      "    tls: {ca_file: nope.pem, cert_file: client.pem}\n"
      "  - name: c\n"
      "    url: https://c\n"
      "    auth: {type: bearer, username: u, token_env: T}\n"
      "  - name: d\n"
      "    url: https://d\n"
      "    auth: {type: basic, password_file: pw, password_env: P}\n"
      "  - name: e\n"
      "    url: https://e\n"
      "    auth: {type: digest}\n",
      FakeEnvironment({{"T", "tok"}, {"P", "pw"}}), dir.path());
  CHECK_FALSE(r.ok());
  CHECK(OnlyProblemAt(r, "clusters[0].tls").message ==
        "tls settings need an https url; the url is http");
  CHECK(Contains(OnlyProblemAt(r, "clusters[1].tls.ca_file").message,
                 "cannot read file '" + dir.File("nope.pem") + "'"));
  CHECK(Contains(OnlyProblemAt(r, "clusters[1].tls.cert_file").message, "needs key_file"));
  CHECK(OnlyProblemAt(r, "clusters[2].auth.username").message ==
        "'username' does not apply to auth type bearer");
  CHECK(OnlyProblemAt(r, "clusters[3].auth.password_env").message ==
        "set only one of password_file, password_env (found password_file too)");
  CHECK(OnlyProblemAt(r, "clusters[3].auth.username").message == "missing required key 'username'");
  CHECK(
      Contains(OnlyProblemAt(r, "clusters[4].auth.type").message, "expected one of basic, bearer"));
}

TEST_CASE("alert receivers take only the keys of their type") {
  const ConfigLoadResult r = LoadYaml(std::string(kMinimal) +
                                      "alerts:\n"
                                      "  - {type: webhook}\n"
                                      "  - {type: webhook, url: 'http://a', command: [/bin/true]}\n"
                                      "  - {type: command, command: [notify, x]}\n"
                                      "  - {type: command, command: []}\n"
                                      "  - {type: alertmanager, url: 'http://a', url_env: X}\n"
                                      "  - {type: webhook, url: 'http://a', min_severity: "
                                      "high, timeout: 0s}\n");
  CHECK_FALSE(r.ok());
  CHECK(OnlyProblemAt(r, "alerts[0]").message ==
        "missing the receiver's URL: set one of url, url_file, url_env");
  CHECK(OnlyProblemAt(r, "alerts[1].command").message ==
        "'command' does not apply to type webhook");
  CHECK(Contains(OnlyProblemAt(r, "alerts[2].command").message,
                 "expected the program as an absolute path in command[0]; found 'notify'"));
  CHECK(Contains(OnlyProblemAt(r, "alerts[3].command").message, "found an empty list"));
  CHECK(Contains(OnlyProblemAt(r, "alerts[4].url_env").message, "set only one of url, url_file"));
  CHECK(Contains(OnlyProblemAt(r, "alerts[5].min_severity").message, "found 'high'"));
  CHECK(Contains(OnlyProblemAt(r, "alerts[5].timeout").message, "greater than 0s"));
}

TEST_CASE("signals, labels, paths and names inside jobs are checked") {
  const ConfigLoadResult r = LoadYaml(std::string(kMinimal) +
                                      "jobs:\n"
                                      "  - name: j\n"
                                      "    cluster: a\n"
                                      "    jar: ''\n"
                                      "    entry_class: 'com.example.Main Class'\n"
                                      "    savepoint_dir: bucket/sp\n"
                                      "    signals: {Qps: 'x', lag: {q: y}}\n"
                                      "    labels: {'team.name': a}\n"
                                      "    parallelism: 0\n");
  CHECK_FALSE(r.ok());
  const auto signals = OnlyProblemAt(r, "jobs[0].signals");
  CHECK(signals.line == 10);
  CHECK(signals.column == 5);
  CHECK(Contains(signals.message, "need a tsdb section"));
  CHECK(Contains(OnlyProblemAt(r, "jobs[0].signals.Qps").message, "expected a signal name"));
  CHECK(Contains(OnlyProblemAt(r, "jobs[0].signals.lag").message, "found a mapping"));
  CHECK(Contains(OnlyProblemAt(r, "jobs[0].jar").message, "expected a non-empty string"));
  CHECK(Contains(OnlyProblemAt(r, "jobs[0].entry_class").message, "expected a Java class name"));
  CHECK(Contains(OnlyProblemAt(r, "jobs[0].savepoint_dir").message, "expected a URI"));
  CHECK(
      Contains(OnlyProblemAt(r, "jobs[0].labels[\"team.name\"]").message, "expected a label name"));
  CHECK(Contains(OnlyProblemAt(r, "jobs[0].parallelism").message, "from 1 to 32768"));
}

TEST_CASE("jobs[].savepoints and recovery.on_duplicate: values, defaults and errors") {
  const std::string job = "jobs:\n  - name: j\n    cluster: a\n    jar: /srv/j.jar\n";
  const ConfigLoadResult good =
      LoadYaml(std::string(kMinimal) + job +
               "    savepoints: {interval: 6h, keep: 3, max_age: 2d, timeout: 5m}\n"
               "    recovery: {on_duplicate: stop}\n");
  REQUIRE(good.ok());
  const JobConfig& j = good.config->jobs[0];
  REQUIRE(j.savepoints.interval.has_value());
  CHECK(*j.savepoints.interval == std::chrono::hours{6});
  CHECK(j.savepoints.keep == 3);
  CHECK(j.savepoints.max_age == std::chrono::hours{48});
  CHECK(j.savepoints.timeout == std::chrono::minutes{5});
  CHECK(j.recovery.on_duplicate == RecoveryPolicyConfig::OnDuplicate::kStop);
  CHECK(Contains(FormatConfig(*good.config), "on_duplicate: stop"));
  CHECK(Contains(FormatConfig(*good.config), "interval: 6h"));

  const ConfigLoadResult defaults = LoadYaml(std::string(kMinimal) + job);
  REQUIRE(defaults.ok());
  const JobConfig& d = defaults.config->jobs[0];
  CHECK_FALSE(d.savepoints.interval.has_value());
  CHECK(d.savepoints.keep == 10);
  CHECK(d.savepoints.max_age == std::chrono::hours{24 * 7});
  CHECK(d.recovery.on_duplicate == RecoveryPolicyConfig::OnDuplicate::kAlert);

  const ConfigLoadResult bad =
      LoadYaml(std::string(kMinimal) + job +
               "    savepoints: {interval: 10s, keep: 0, every: 1h}\n"
               "    recovery: {on_duplicate: kill}\n");
  CHECK_FALSE(bad.ok());
  CHECK(Contains(OnlyProblemAt(bad, "jobs[0].savepoints.interval").message, "1m"));
  CHECK(Contains(OnlyProblemAt(bad, "jobs[0].savepoints.keep").message, "from 1 to 1000"));
  CHECK(Contains(OnlyProblemAt(bad, "jobs[0].savepoints.every").message, "unknown key"));
  CHECK(Contains(OnlyProblemAt(bad, "jobs[0].recovery.on_duplicate").message,
                 "expected alert or stop"));
}

TEST_CASE("failover settings: values, defaults and errors") {
  const ConfigLoadResult good = LoadYaml(
      std::string(kMinimal) +
      "failover: {down_after: 2m, down_after_polls: 5, max_concurrent: 2, shared_schemes: [s3, "
      "file], failback: auto, failback_after: 45m}\n");
  REQUIRE(good.ok());
  CHECK(good.config->failover.failback_auto);
  CHECK(good.config->failover.failback_after == std::chrono::minutes{45});
  CHECK(Contains(FormatConfig(*good.config), "failback: auto"));
  CHECK(good.config->failover.down_after == std::chrono::minutes{2});
  CHECK(good.config->failover.down_after_polls == 5);
  CHECK(good.config->failover.max_concurrent == 2);
  CHECK(good.config->failover.shared_schemes == std::vector<std::string>{"s3", "file"});
  CHECK(Contains(FormatConfig(*good.config), "down_after_polls: 5"));
  const ConfigLoadResult defaults = LoadYaml(std::string(kMinimal));
  REQUIRE(defaults.ok());
  CHECK(defaults.config->failover.down_after == std::chrono::minutes{1});
  CHECK(defaults.config->failover.down_after_polls == 3);
  CHECK_FALSE(defaults.config->failover.failback_auto);
  CHECK(defaults.config->failover.failback_after == std::chrono::minutes{30});
  const ConfigLoadResult bad = LoadYaml(
      std::string(kMinimal) +
      "failover: {down_after: 0s, down_after_polls: 0, shared_schemes: ['S3://'], after: 1m, "
      "failback: sometimes, failback_after: 0s}\n");
  CHECK_FALSE(bad.ok());
  CHECK(Contains(OnlyProblemAt(bad, "failover.down_after").message, "1s"));
  CHECK(Contains(OnlyProblemAt(bad, "failover.down_after_polls").message, "from 1 to 1000"));
  CHECK(Contains(OnlyProblemAt(bad, "failover.shared_schemes").message, "URI schemes"));
  CHECK(Contains(OnlyProblemAt(bad, "failover.after").message, "unknown key"));
  CHECK(Contains(OnlyProblemAt(bad, "failover.failback").message,
                 "expected manual or auto; found 'sometimes'"));
  CHECK(Contains(OnlyProblemAt(bad, "failover.failback_after").message, "1s"));
}

TEST_CASE("ha settings are checked") {
  const ConfigLoadResult r = LoadYaml(std::string(kMinimal) +
                                      "ha: {zookeeper: 'zk1:2181,zk2', root: flinkguard, "
                                      "session_timeout: 100ms}\n");
  CHECK_FALSE(r.ok());
  CHECK(Contains(OnlyProblemAt(r, "ha.zookeeper").message, "server 2: the port is missing"));
  CHECK(Contains(OnlyProblemAt(r, "ha.root").message, "it must start with '/'"));
  CHECK(Contains(OnlyProblemAt(r, "ha.session_timeout").message, "at least 1s"));
  const ConfigLoadResult chroot =
      LoadYaml(std::string(kMinimal) + "ha: {zookeeper: 'zk1:2181/fg', root: /a//b}\n");
  CHECK(Contains(OnlyProblemAt(chroot, "ha.zookeeper").message, "put it in ha.root"));
  CHECK(Contains(OnlyProblemAt(chroot, "ha.root").message, "'//'"));
  const ConfigLoadResult missing = LoadYaml(std::string(kMinimal) + "ha: {root: /fg}\n");
  CHECK(OnlyProblemAt(missing, "ha.zookeeper").message == "missing required key 'zookeeper'");
}

TEST_CASE("agent settings: listen, state_dir, instance_id") {
  const ConfigLoadResult r = LoadYaml(std::string(kMinimal) +
                                      "agent: {listen: 'localhost', state_dir: var/lib, "
                                      "instance_id: 'has space'}\n");
  CHECK_FALSE(r.ok());
  CHECK(Contains(OnlyProblemAt(r, "agent.listen").message,
                 "expected host:port such as 127.0.0.1:9310; found 'localhost': the port is "
                 "missing"));
  CHECK(Contains(OnlyProblemAt(r, "agent.state_dir").message, "absolute path"));
  CHECK(Contains(OnlyProblemAt(r, "agent.instance_id").message, "printable ASCII"));

  const ConfigLoadResult v6 = LoadYaml(std::string(kMinimal) + "agent: {listen: '[::1]:0'}\n");
  REQUIRE(v6.ok());
  CHECK(v6.config->agent.listen == HostPort{"::1", 0});
  CHECK(v6.config->agent.listen.ToString() == "[::1]:0");

  // Without a host name the instance id must be set.
  const ConfigLoadResult nohost = LoadYaml(kMinimal, FakeEnvironment({}, ""));
  CHECK(Contains(OnlyProblemAt(nohost, "agent.instance_id").message, "host name is unknown"));
  const ConfigLoadResult set =
      LoadYaml(std::string(kMinimal) + "agent: {instance_id: fg-2}\n", FakeEnvironment({}, ""));
  CHECK(set.ok());
}

TEST_CASE("YAML syntax errors, several documents and empty files are reported with positions") {
  const ConfigLoadResult syntax = LoadYaml("region: r\nclusters: [1, 2\nagent: {}\n");
  CHECK_FALSE(syntax.ok());
  REQUIRE(syntax.problems.size() == 1);
  CHECK(syntax.problems[0].line == 3);
  CHECK(syntax.problems[0].column > 0);
  CHECK(Contains(syntax.problems[0].message, "YAML syntax error: end of sequence flow not found"));

  const ConfigLoadResult tab = LoadYaml("region: r\n\tclusters: []\n");
  REQUIRE(tab.problems.size() == 1);
  CHECK(tab.problems[0].line == 2);
  CHECK(Contains(tab.problems[0].message, "YAML syntax error"));

  const ConfigLoadResult bytes = LoadYaml("region: \"\\\xff\"\n");
  REQUIRE(bytes.problems.size() == 1);
  CHECK(Contains(bytes.problems[0].message, "\\xff"));
  CHECK_FALSE(Contains(bytes.problems[0].message, "\xff"));

  const ConfigLoadResult alias = LoadYaml("region: *nowhere\n");
  REQUIRE(alias.problems.size() == 1);
  CHECK(alias.problems[0].line == 1);
  CHECK(alias.problems[0].column == 9);

  const ConfigLoadResult two = LoadYaml(std::string(kMinimal) + "---\nregion: r2\n");
  CHECK(OnlyProblemAt(two, "").line == 5);  // where the second one starts
  CHECK(Contains(two.problems[0].message, "2 YAML documents"));

  const ConfigLoadResult empty = LoadYaml("# nothing here\n");
  REQUIRE(empty.problems.size() == 1);
  CHECK(Contains(empty.problems[0].message, "the file has no settings"));

  const ConfigLoadResult list = LoadYaml("- region: r\n");
  CHECK(OnlyProblemAt(list, "").message == "expected a mapping; found a list");

  const ConfigLoadResult merge =
      LoadYaml(std::string(kMinimal) + "agent:\n  <<: {dry_run: true}\n");
  CHECK(Contains(OnlyProblemAt(merge, "agent[\"<<\"]").message, "merge keys are not supported"));
}

TEST_CASE("several mistakes are all reported, in file order") {
  const ConfigLoadResult r = LoadYaml(
      "region: us-east-1\n"
      "agent:\n"
      "  poll_intervl: 10s\n"
      "clusters:\n"
      "  - {name: a, url: 'http://a', timeout: ten}\n"
      "jobs:\n"
      "  - {name: j, cluster: b, jar: /j.jar}\n"
      "rules:\n"
      "  - {name: x, when: y, severity: urgent}\n");
  CHECK_FALSE(r.ok());
  INFO(AllProblems(r));
  REQUIRE(r.problems.size() == 4);
  CHECK(r.problems[0].key == "agent.poll_intervl");
  CHECK(r.problems[1].key == "clusters[0].timeout");
  CHECK(r.problems[2].key == "jobs[0].cluster");
  CHECK(r.problems[3].key == "rules[0].severity");
  for (std::size_t i = 1; i < r.problems.size(); ++i) {
    CHECK(r.problems[i - 1].line < r.problems[i].line);
  }
}

TEST_CASE("rule conditions keep their text and position for the expression parser") {
  const ConfigLoadResult r = LoadYaml(std::string(kMinimal) +
                                      "rules:\n"
                                      "  - name: plain\n"
                                      "    when: qps < 0.2 * avg_over_time(qps, 1h)\n"  // line 6
                                      "  - {name: quoted, when: \"restarts > 5\"}\n"
                                      "  - name: escaped\n"
                                      "    when: \"qps\\t> 1\"\n"
                                      "  - name: block\n"
                                      "    when: |\n"
                                      "      status == FAILED\n");
  INFO(AllProblems(r));
  REQUIRE(r.ok());
  const SourceText& plain = r.config->rules[0].when;
  CHECK(plain.exact);
  CHECK(plain.location == SourceLocation{6, 11});
  CHECK(plain.LocationOf(6) == SourceLocation{6, 17});  // the '0' of 0.2
  const SourceText& quoted = r.config->rules[1].when;
  CHECK(quoted.exact);
  CHECK(quoted.location == SourceLocation{7, 27});  // after the opening quote
  CHECK(quoted.LocationOf(11) == SourceLocation{7, 38});
  const SourceText& escaped = r.config->rules[2].when;
  CHECK(escaped.text == "qps\t> 1");
  CHECK_FALSE(escaped.exact);
  CHECK(escaped.location == SourceLocation{9, 11});  // the opening quote
  CHECK(escaped.LocationOf(4) == escaped.location);
  const SourceText& block = r.config->rules[3].when;
  CHECK(block.text == "status == FAILED\n");
  CHECK_FALSE(block.exact);
  CHECK(block.location.line == 11);
}

TEST_CASE("rule conditions are compiled at load: errors at the file's line and column") {
  const ConfigLoadResult r = LoadYaml(std::string(kMinimal) +
                                      "rules:\n"
                                      "  - name: restart-loop\n"
                                      "    when: increase(restart, 10m) > 5\n"  // line 6
                                      "  - {name: stale, when: \"checkpoint_age > 600000\"}\n"
                                      "  - name: folded\n"
                                      "    when: >\n"
                                      "      status ==\n"
                                      "      FAIL\n"
                                      "  - name: templated\n"
                                      "    when: status == FAILED\n"
                                      "    annotations: {summary: '{{ $jobname }} failed'}\n");
  REQUIRE_FALSE(r.ok());
  const ConfigProblem unknown = OnlyProblemAt(r, "rules[0].when");
  CHECK(unknown.line == 6);
  CHECK(unknown.column == 20);  // the 'r' of restart
  CHECK(unknown.message == "rule restart-loop: unknown signal 'restart'; did you mean 'restarts'?");
  const ConfigProblem typed = OnlyProblemAt(r, "rules[1].when");
  CHECK(typed.line == 7);
  CHECK(typed.column == 43);  // the number inside the quotes
  CHECK(typed.message ==
        "rule stale: checkpoint_age > 600000: cannot compare a duration with a "
        "number; write 10m");
  // Folded text has no exact columns: the problem is reported where the value starts.
  const ConfigProblem folded = OnlyProblemAt(r, "rules[2].when");
  CHECK(folded.line == 9);
  CHECK(Contains(folded.message, "unknown job status 'FAIL'; did you mean 'FAILED'?"));
  const ConfigProblem tmpl = OnlyProblemAt(r, "rules[3].annotations.summary");
  CHECK(tmpl.line == 12);
  CHECK(Contains(tmpl.message, "rule templated: unknown template variable '$jobname'"));
  CHECK(FormatProblem(unknown) ==
        "test.yaml:6:20: rules[0].when: rule restart-loop: unknown "
        "signal 'restart'; did you mean 'restarts'?");
}

TEST_CASE("rule conditions may read the custom signals of tsdb.signals and jobs[].signals") {
  const std::string head =
      "region: r\n"
      "tsdb:\n"
      "  prometheus: http://prom:9090\n"
      "  signals: {kafka_lag: 'sum by (job_name) (kafka_lag)'}\n"
      "clusters: [{name: a, url: 'http://jm:8081'}]\n"
      "jobs:\n"
      "  - name: ads\n"
      "    cluster: a\n"
      "    jar: /ads.jar\n"
      "    signals: {sink_errors: 'sum(errors{job=\"ads\"})'}\n"
      "    rules: {lagging: {enabled: false}}\n"
      "  - {name: search, cluster: a, jar: /search.jar}\n"
      "rules:\n";
  const ConfigLoadResult ok =
      LoadYaml(head +
               "  - {name: lagging, when: 'kafka_lag > 1000 or increase(sink_errors, 5m) > 0', "
               "action: failover, jobs: ['*']}\n");
  INFO(AllProblems(ok));
  REQUIRE(ok.ok());
  CHECK(CustomSignalNames(*ok.config) == std::set<std::string>{"kafka_lag", "sink_errors"});
  const RuleSpec spec = ToRuleSpec(ok.config->rules[0], ok.config->jobs);
  CHECK(spec.name == "lagging");
  CHECK(spec.when == "kafka_lag > 1000 or increase(sink_errors, 5m) > 0");
  CHECK(spec.action == Action::kFailover);
  CHECK(spec.jobs == std::vector<std::string>{"*"});
  CHECK(spec.disabled_for == std::set<std::string>{"ads"});
  CHECK(CompileRule(spec, CustomSignalNames(*ok.config)).has_value());

  const ConfigLoadResult bad = LoadYaml(head + "  - {name: lagging, when: 'kafka_lags > 1'}\n");
  const ConfigProblem p = OnlyProblemAt(bad, "rules[0].when");
  CHECK(p.line == 14);
  CHECK(p.column == 28);
  CHECK(p.message == "rule lagging: unknown signal 'kafka_lags'; did you mean 'kafka_lag'?");
}

TEST_CASE("LoadConfig reads a file and resolves relative paths against its folder") {
  TempDir dir("flinkguard-config-file");
  WriteFile(dir.File("pd.key"), "routing-key-1\n");
  WriteFile(dir.File("flinkguard.yaml"), std::string(kMinimal) +
                                             "alerts:\n"
                                             "  - {type: pagerduty, routing_key_file: pd.key}\n");
  const ConfigLoadResult r = LoadConfig(dir.File("flinkguard.yaml"), FakeEnvironment());
  INFO(AllProblems(r));
  REQUIRE(r.ok());
  CHECK(r.config->source == dir.File("flinkguard.yaml"));
  CHECK(r.config->alerts[0].routing_key->Reveal() == "routing-key-1");
  CHECK(r.config->alerts[0].routing_key->origin() == "file " + dir.File("pd.key"));

  const ConfigLoadResult missing = LoadConfig(dir.File("nope.yaml"), FakeEnvironment());
  CHECK_FALSE(missing.ok());
  REQUIRE(missing.problems.size() == 1);
  CHECK(missing.problems[0].line == 0);
  CHECK(FormatProblem(missing.problems[0]) ==
        dir.File("nope.yaml") + ": cannot read the config file: No such file or directory");
  const ConfigLoadResult directory = LoadConfig(dir.path(), FakeEnvironment());
  REQUIRE(directory.problems.size() == 1);
  CHECK(Contains(directory.problems[0].message, "it is a directory"));
}

TEST_CASE("FormatProblem leaves out what is unknown") {
  CHECK(FormatProblem({"f.yaml", 12, 14, "clusters[1].timeout", "bad"}) ==
        "f.yaml:12:14: clusters[1].timeout: bad");
  CHECK(FormatProblem({"f.yaml", 3, 1, "", "YAML syntax error: x"}) ==
        "f.yaml:3:1: YAML syntax error: x");
  CHECK(FormatProblem({"f.yaml", 0, 0, "", "cannot read"}) == "f.yaml: cannot read");
}

TEST_CASE("the packaged example config is valid") {
  const char* source_dir = std::getenv("FLINKGUARD_SOURCE_DIR");
  REQUIRE(source_dir != nullptr);
  const ConfigLoadResult r =
      LoadConfig(std::string(source_dir) + "/packaging/flinkguard.yaml",
                 FakeEnvironment({{"FLINKGUARD_PAGERDUTY_ROUTING_KEY", "k"},
                                  {"FLINKGUARD_SLACK_WEBHOOK_URL", "https://hooks.slack.com/x"}}));
  INFO(AllProblems(r));
  REQUIRE(r.ok());
  CHECK(r.config->region == "us-east-1");
  CHECK(r.config->clusters.size() == 2);
  CHECK(r.config->rules.size() == 4);
}

TEST_CASE("a relative jar path is taken from the config file's directory") {
  const auto r = LoadConfigFromString(
      "region: r\n"
      "clusters: [{name: a, url: 'http://jm:8081'}]\n"
      "jobs:\n"
      "  - {name: j, cluster: a, jar: jars/j.jar, entry_class: com.example.Main}\n"
      "  - {name: k, cluster: a, jar: /srv/k.jar, entry_class: com.example.Main}\n",
      "/etc/flinkguard/region.yaml", "/etc/flinkguard", FakeEnvironment({}, "host-a"));
  REQUIRE(r.ok());
  CHECK(r.config->jobs[0].jar == "/etc/flinkguard/jars/j.jar");
  CHECK(r.config->jobs[1].jar == "/srv/k.jar");
}

TEST_CASE("tsdb.signals: one PromQL per signal for every job, checked like job signals") {
  const auto ok = LoadConfigFromString(
      "region: r\n"
      "tsdb:\n"
      "  prometheus: http://prom:9090\n"
      "  signals:\n"
      "    qps: 'sum by (job_name) (flink_taskmanager_job_task_operator_numRecordsOutPerSecond)'\n"
      "clusters: [{name: a, url: 'http://jm:8081'}]\n",
      "f.yaml", "/tmp", FakeEnvironment({}, "h"));
  REQUIRE(ok.ok());
  REQUIRE(ok.config->tsdb->signals.count("qps") == 1);
  CHECK(ok.config->tsdb->signals.at("qps").location == SourceLocation{5, 11});
  const auto bad = LoadConfigFromString(
      "region: r\n"
      "tsdb:\n"
      "  prometheus: http://prom:9090\n"
      "  signals: {Qps: x}\n"
      "clusters: [{name: a, url: 'http://jm:8081'}]\n",
      "f.yaml", "/tmp", FakeEnvironment({}, "h"));
  REQUIRE_FALSE(bad.ok());
  CHECK(Contains(OnlyProblemAt(bad, "tsdb.signals.Qps").message, "expected a signal name"));
}
