#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "agent/explain.h"
#include "tests/agent/config_test_helpers.h"

namespace flinkguard {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

Config LoadTestConfig() {
  const ConfigLoadResult loaded = LoadConfigFromString(
      "region: test\nclusters:\n  - {name: a, url: 'http://127.0.0.1:8081'}\n"
      "jobs:\n  - {name: orders, cluster: a, jar: /opt/orders.jar}\n",
      "test.yaml", "", testing::FakeEnvironment());
  REQUIRE(loaded.ok());
  return *loaded.config;
}

RestorePoint Point(RestorePoint::Kind kind, std::int64_t id, std::int64_t completed_ms) {
  RestorePoint p;
  p.kind = kind;
  p.id = id;
  p.path = std::string(kind == RestorePoint::Kind::kSavepoint ? "file:/sp/savepoint-" : "file:/cp/chk-") +
           std::to_string(id);
  p.trigger_ms = completed_ms - 1000;
  p.completed_ms = completed_ms;
  return p;
}

Observation Cycle(std::int64_t at_ms, JobStatus status) {
  Observation o;
  o.at_ms = at_ms;
  ClusterSnapshot c;
  c.name = "a";
  c.observed_at_ms = at_ms;
  c.reachable = true;
  c.last_ok_ms = at_ms;
  c.job_list_complete = true;
  c.capacity.SetFresh(ClusterCapacity{.taskmanagers = 1, .slots_total = 8, .slots_available = 8},
                      at_ms);
  o.clusters.push_back(c);
  JobSnapshot j;
  j.cluster = "a";
  j.job_id = "abc";
  j.name = "orders";
  j.observed_at_ms = at_ms;
  j.status.SetFresh(status, at_ms);
  j.last_checkpoint.SetFresh(Point(RestorePoint::Kind::kCheckpoint, 12, at_ms - 60'000), at_ms);
  j.last_savepoint.SetFresh(Point(RestorePoint::Kind::kSavepoint, 3, at_ms - 3'600'000), at_ms);
  o.jobs.push_back(j);
  return o;
}

TEST_CASE("explain: a FAILED job fires job-failed and would restore from the newer checkpoint") {
  const Config config = LoadTestConfig();
  const ExplainReport r =
      ExplainJob(config, {Cycle(kT0, JobStatus::kFailed), Cycle(kT0 + 1000, JobStatus::kFailed)},
                 "orders");
  CHECK(r.known());
  CHECK(r.in_catalog);
  REQUIRE(r.instances.size() == 1);
  CHECK_FALSE(r.hypothetical);
  REQUIRE(r.plan.has_value());
  CHECK(r.plan->dry_run);
  CHECK(r.plan->strategy == Strategy::kCheckpoint);
  REQUIRE(r.plan->restore_point.has_value());
  CHECK(r.plan->restore_point->path == "file:/cp/chk-12");
  const std::string text = FormatExplain(r, kT0 + 1000);
  CHECK(text.find("job-failed: firing") != std::string::npos);
  CHECK(text.find("plan (dry run): restore from checkpoint 12 file:/cp/chk-12") !=
        std::string::npos);
  CHECK(text.find("why: ") != std::string::npos);
}

TEST_CASE("explain: a healthy job shows what recovery would do if a recover rule fired") {
  const Config config = LoadTestConfig();
  const ExplainReport r = ExplainJob(config, {Cycle(kT0, JobStatus::kRunning)}, "orders");
  CHECK(r.hypothetical);
  CHECK(FormatExplain(r, kT0).find("no recover rule fires; if one did now:") != std::string::npos);
  // A live instance: the plan stops it first, or the planner refuses; either way it says so.
  CHECK((r.plan.has_value() || r.refusal.has_value()));
}

TEST_CASE("explain: a restore point's time, or the latest it can have been triggered") {
  const Config config = LoadTestConfig();
  Observation o = Cycle(kT0, JobStatus::kRunning);
  SUBCASE("completion known") {
    CHECK(FormatExplain(ExplainJob(config, {o}, "orders"), kT0)
              .find("checkpoint 12 file:/cp/chk-12, completed 1m ago") != std::string::npos);
  }
  SUBCASE("from the checkpoint gauges before Flink 2.0: no completion time") {
    RestorePoint p = *o.jobs[0].last_checkpoint.value;
    p.completed_ms = 0;
    p.trigger_ms = kT0 - 120'000;
    o.jobs[0].last_checkpoint.SetFresh(p, kT0);
    const std::string text = FormatExplain(ExplainJob(config, {o}, "orders"), kT0);
    CHECK(text.find("checkpoint 12 file:/cp/chk-12, triggered 2m ago or earlier") !=
          std::string::npos);
  }
}

TEST_CASE("explain: a job neither seen nor in the catalog is unknown") {
  const Config config = LoadTestConfig();
  const ExplainReport r = ExplainJob(config, {Cycle(kT0, JobStatus::kRunning)}, "nope");
  CHECK_FALSE(r.known());
}

}  // namespace
}  // namespace flinkguard
