#include "rules/savepoint_policy.h"

#include <doctest/doctest.h>

#include "planner_test_support.h"

namespace flinkguard {
namespace {

using namespace planner_test;

KnownRestorePoint Sp(const std::string& job, const std::string& path, std::int64_t completed,
                     bool failed = false) {
  KnownRestorePoint p;
  p.job = job;
  p.cluster = "yarn-a";
  p.point.kind = RestorePoint::Kind::kSavepoint;
  p.point.path = path;
  p.point.trigger_ms = completed - 500;
  p.point.completed_ms = completed;
  p.failed_restore = failed;
  return p;
}

std::vector<std::string> Paths(const std::vector<KnownRestorePoint>& v) {
  std::vector<std::string> out;
  for (const auto& p : v) out.push_back(p.point.path);
  return out;
}

TEST_CASE("periodic savepoint: due only for a healthy RUNNING instance, once an interval old") {
  SavepointPolicy policy;
  policy.interval_ms = 6 * kHour;
  JobSnapshot s = Instance("ads", "yarn-a", "j1", JobStatus::kRunning, kT0);
  s.uptime_ms.SetFresh(10 * kHour, kT0);

  CHECK_FALSE(PeriodicSavepointDue(SavepointPolicy{}, s, std::nullopt, false, kT0).due);
  CHECK(PeriodicSavepointDue(policy, s, kT0 - 6 * kHour, false, kT0).due);
  const SavepointDue young = PeriodicSavepointDue(policy, s, kT0 - 5 * kHour, false, kT0);
  CHECK_FALSE(young.due);
  CHECK(young.reason.find("5h") != std::string::npos);
  // Busy (a recovery or a savepoint under way): not now.
  CHECK_FALSE(PeriodicSavepointDue(policy, s, kT0 - 7 * kHour, true, kT0).due);
  // No savepoint known: the instance must have run one interval first (no storm after restarts).
  CHECK(PeriodicSavepointDue(policy, s, std::nullopt, false, kT0).due);
  s.uptime_ms.SetFresh(1 * kHour, kT0);
  CHECK_FALSE(PeriodicSavepointDue(policy, s, std::nullopt, false, kT0).due);

  JobSnapshot failing = Instance("ads", "yarn-a", "j1", JobStatus::kRunning, kT0, false);
  CHECK_FALSE(PeriodicSavepointDue(policy, failing, kT0 - 7 * kHour, false, kT0).due);
  JobSnapshot restarting = Instance("ads", "yarn-a", "j1", JobStatus::kRestarting, kT0);
  CHECK_FALSE(PeriodicSavepointDue(policy, restarting, kT0 - 7 * kHour, false, kT0).due);
  JobSnapshot stale = Instance("ads", "yarn-a", "j1", JobStatus::kRunning, kT0);
  stale.status.MarkStale("cluster did not answer");
  CHECK_FALSE(PeriodicSavepointDue(policy, stale, kT0 - 7 * kHour, false, kT0).due);
}

TEST_CASE("savepoint retention: keep the newest N and those younger than max age") {
  SavepointPolicy policy;
  policy.keep = 2;
  policy.max_age_ms = 24 * kHour;
  std::vector<KnownRestorePoint> points = {
      Sp("ads", "sp-1", kT0 - 1 * kHour), Sp("ads", "sp-3", kT0 - 3 * kHour),
      Sp("ads", "sp-2", kT0 - 2 * kHour), Sp("other", "o-1", kT0 - 90 * kHour)};
  KnownRestorePoint cp = Sp("ads", "cp-old", kT0 - 90 * kHour);
  cp.point.kind = RestorePoint::Kind::kCheckpoint;
  points.push_back(cp);
  // Beyond the newest two: sp-3 only. Checkpoints and other jobs are never touched.
  CHECK(Paths(SavepointsToForget(points, "ads", policy, kT0)) ==
        std::vector<std::string>{"sp-3"});

  policy.keep = 10;
  points.push_back(Sp("ads", "sp-old", kT0 - 25 * kHour));
  CHECK(Paths(SavepointsToForget(points, "ads", policy, kT0)) ==
        std::vector<std::string>{"sp-old"});
}

TEST_CASE("savepoint retention never removes the newest usable savepoint") {
  SavepointPolicy policy;
  policy.keep = 1;
  policy.max_age_ms = 1 * kHour;
  // Everything is too old; the newest is poisoned, so the newest *usable* one stays.
  std::vector<KnownRestorePoint> points = {Sp("ads", "sp-new-bad", kT0 - 48 * kHour, true),
                                           Sp("ads", "sp-mid", kT0 - 72 * kHour),
                                           Sp("ads", "sp-old", kT0 - 96 * kHour)};
  CHECK(Paths(SavepointsToForget(points, "ads", policy, kT0)) ==
        std::vector<std::string>{"sp-new-bad", "sp-old"});
  CHECK(SavepointsToForget({}, "ads", policy, kT0).empty());
}

TEST_CASE("duplicates: stop every live instance but the newest; nothing when unsure") {
  JobSnapshot a = Instance("ads", "yarn-a", "aaa", JobStatus::kRunning, kT0);
  a.start_time_ms = kT0 - 3 * kHour;
  JobSnapshot b = Instance("ads", "yarn-b", "bbb", JobStatus::kRunning, kT0);
  b.start_time_ms = kT0 - 1 * kHour;
  JobSnapshot c = Instance("ads", "yarn-a", "ccc", JobStatus::kRestarting, kT0);
  c.start_time_ms = kT0 - 2 * kHour;
  JobSnapshot dead = Instance("ads", "yarn-a", "ddd", JobStatus::kFailed, kT0);
  dead.start_time_ms = kT0;
  JobSnapshot other = Instance("billing", "yarn-a", "eee", JobStatus::kRunning, kT0);

  // The result points into the snapshots: they must outlive it.
  const std::vector<JobSnapshot> all = {a, b, c, dead, other};
  DuplicateStops d = PlanDuplicateStops(all, "ads");
  REQUIRE(d.keep != nullptr);
  CHECK(d.keep->job_id == "bbb");
  REQUIRE(d.stop.size() == 2);
  CHECK(d.stop[0]->job_id == "aaa");
  CHECK(d.stop[1]->job_id == "ccc");

  const std::vector<JobSnapshot> one_live = {a, dead, other};
  CHECK(PlanDuplicateStops(one_live, "ads").stop.empty());
  const std::vector<JobSnapshot> none = {other};
  CHECK(PlanDuplicateStops(none, "ads").keep == nullptr);

  JobSnapshot unsure = b;
  unsure.status.MarkStale("cluster did not answer");
  const std::vector<JobSnapshot> with_unsure = {a, unsure};
  const DuplicateStops unsure_stops = PlanDuplicateStops(with_unsure, "ads");
  CHECK(unsure_stops.stop.empty());
  CHECK(unsure_stops.reason.find("no fresh status") != std::string::npos);
}

}  // namespace
}  // namespace flinkguard
