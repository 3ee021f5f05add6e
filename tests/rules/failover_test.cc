#include "rules/failover.h"

#include <doctest/doctest.h>

#include "planner_test_support.h"

namespace flinkguard {
namespace {

using namespace planner_test;

ClusterSnapshot Down(std::string name, std::int64_t now, int polls, std::int64_t silent_ms) {
  ClusterSnapshot c = Cluster(std::move(name), now, false);
  c.consecutive_failures = polls;
  c.last_ok_ms = now - silent_ms;
  return c;
}

ClusterSnapshot Up(std::string name, std::int64_t now, int free_slots) {
  ClusterSnapshot c = Cluster(std::move(name), now, true);
  c.capacity.SetFresh(ClusterCapacity{.taskmanagers = 4, .slots_total = 32,
                                      .slots_available = free_slots},
                      now);
  return c;
}

KnownRestorePoint Point(const std::string& job, const std::string& path, std::int64_t at,
                        RestorePoint::Kind kind = RestorePoint::Kind::kCheckpoint) {
  KnownRestorePoint p;
  p.job = job;
  p.cluster = "yarn-a";
  p.point.kind = kind;
  p.point.path = path;
  p.point.trigger_ms = at - 100;
  p.point.completed_ms = at;
  return p;
}

FailoverInput Base() {
  FailoverInput in;
  in.now_ms = kT0;
  FailoverJob j;
  j.name = "ads";
  j.home = "yarn-a";
  j.failover = {"yarn-b", "yarn-c"};
  j.slots = 8;
  in.jobs.push_back(j);
  in.clusters = {Down("yarn-a", kT0, 6, 2 * kMin), Up("yarn-b", kT0, 64), Up("yarn-c", kT0, 64)};
  JobSnapshot stale = Instance("ads", "yarn-a", "old", JobStatus::kRunning, kT0 - 2 * kMin);
  stale.status.MarkStale("cluster yarn-a unreachable");
  in.snapshots = {stale};
  in.points = {Point("ads", "s3://b/chk-9", kT0 - 3 * kMin),
               Point("ads", "s3://b/chk-8", kT0 - 4 * kMin)};
  return in;
}

TEST_CASE("failover: a cluster down long enough moves its job to the first backup with room") {
  FailoverInput in = Base();
  FailoverOutput out = PlanFailovers(in);
  CHECK(out.down == std::vector<std::string>{"yarn-a"});
  REQUIRE(out.moves.size() == 1);
  const RecoveryPlan& p = out.moves[0].plan;
  CHECK(out.moves[0].from == "yarn-a");
  CHECK(p.cluster == "yarn-b");
  REQUIRE(p.restore_point.has_value());
  CHECK(p.restore_point->path == "s3://b/chk-9");
  CHECK(p.strategy == Strategy::kCheckpoint);
  CHECK(p.stop_job_id.empty());
  CHECK(p.presumed_down == std::vector<std::string>{"yarn-a"});
  CHECK(p.reason.find("newest restore point on shared storage") != std::string::npos);
  CHECK(out.refusals.empty());

  // Full backup: the next one.
  in.clusters[1].capacity.value->slots_available = 4;
  out = PlanFailovers(in);
  REQUIRE(out.moves.size() == 1);
  CHECK(out.moves[0].plan.cluster == "yarn-c");
  // Every backup full or down: a page, nothing moved.
  in.clusters[2].reachable = false;
  out = PlanFailovers(in);
  CHECK(out.moves.empty());
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].page);
  CHECK(out.refusals[0].reason.find("yarn-b: 4 free slots of 8 needed") != std::string::npos);
  CHECK(out.refusals[0].reason.find("yarn-c: not answering") != std::string::npos);
}

TEST_CASE("failover: one blip or a short silence is not an outage") {
  FailoverInput in = Base();
  in.clusters[0] = Down("yarn-a", kT0, 1, 2 * kMin);  // one failed poll
  CHECK(PlanFailovers(in).moves.empty());
  in.clusters[0] = Down("yarn-a", kT0, 6, 20 * kSec);  // many polls, but only 20 s
  CHECK(PlanFailovers(in).moves.empty());
  in.clusters[0] = Down("yarn-a", kT0, 3, kMin);  // both thresholds reached
  CHECK(PlanFailovers(in).moves.size() == 1);
}

TEST_CASE("failover: restore points only on the dead cluster's disk are not used") {
  FailoverInput in = Base();
  in.points = {Point("ads", "file:/data/flink/chk-9", kT0 - 3 * kMin)};
  FailoverOutput out = PlanFailovers(in);
  CHECK(out.moves.empty());
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].page);
  CHECK(out.refusals[0].reason.find("no restore point on shared storage") != std::string::npos);
  CHECK(out.refusals[0].reason.find("file:/data/flink/chk-9") != std::string::npos);
  // A shared mount says so; then the point is used.
  in.settings.shared_schemes.insert("file");
  CHECK(PlanFailovers(in).moves.size() == 1);
  // Fresh state only when the policy allows it.
  in.settings.shared_schemes.erase("file");
  in.jobs[0].allow_fresh_state = true;
  out = PlanFailovers(in);
  REQUIRE(out.moves.size() == 1);
  CHECK(out.moves[0].plan.strategy == Strategy::kFresh);
  CHECK_FALSE(out.moves[0].plan.restore_point.has_value());
}

TEST_CASE("failover: poisoned, discarded and too-old points are skipped; savepoints count") {
  FailoverInput in = Base();
  in.points[0].failed_restore = true;  // chk-9
  in.points.push_back(Point("ads", "s3://b/sp-7", kT0 - 3 * kMin - 30 * kSec,
                            RestorePoint::Kind::kSavepoint));
  FailoverOutput out = PlanFailovers(in);
  REQUIRE(out.moves.size() == 1);
  CHECK(out.moves[0].plan.restore_point->path == "s3://b/sp-7");
  CHECK(out.moves[0].plan.strategy == Strategy::kSavepoint);
  in.jobs[0].max_checkpoint_age_ms = 2 * kMin;
  out = PlanFailovers(in);
  CHECK(out.moves.empty());
  CHECK(out.refusals.size() == 1);
}

TEST_CASE("failover: busy jobs, jobs already running elsewhere, and the concurrency cap") {
  FailoverInput in = Base();
  in.busy = {"ads"};
  CHECK(PlanFailovers(in).moves.empty());
  in.busy.clear();
  in.snapshots.push_back(Instance("ads", "yarn-c", "moved", JobStatus::kRunning, kT0));
  CHECK(PlanFailovers(in).moves.empty());

  FailoverInput many = Base();
  many.settings.max_concurrent = 2;
  many.in_flight = 1;
  FailoverJob second = many.jobs[0];
  second.name = "billing";
  many.jobs.push_back(second);
  many.points.push_back(Point("billing", "s3://b/billing-chk-3", kT0 - kMin));
  FailoverOutput out = PlanFailovers(many);
  REQUIRE(out.moves.size() == 1);
  REQUIRE(out.refusals.size() == 1);
  CHECK_FALSE(out.refusals[0].page);
  CHECK(out.refusals[0].cause == RefusalCause::kBlastRadius);
}

TEST_CASE("stale copies: an instance running where the job no longer lives is cancelled") {
  FailoverInput in = Base();
  in.clusters[0] = Up("yarn-a", kT0, 10);  // back
  in.placement = {{"ads", "yarn-b"}};
  in.snapshots = {Instance("ads", "yarn-a", "old", JobStatus::kRunning, kT0),
                  Instance("ads", "yarn-b", "new", JobStatus::kRunning, kT0)};
  FailoverOutput out = PlanFailovers(in);
  CHECK(out.moves.empty());
  REQUIRE(out.stale.size() == 1);
  const RecoveryPlan& p = out.stale[0].plan;
  CHECK(p.stop_only);
  CHECK(p.stop_job_id == "old");
  CHECK(p.cluster == "yarn-a");
  CHECK(p.steps == std::vector<StepKind>{StepKind::kCancel, StepKind::kWaitTerminal});
  CHECK(out.stale[0].lives_on == "yarn-b");

  // Not while the new instance is not running (a failover still under way or failed): the old
  // copy may be all there is.
  in.snapshots = {Instance("ads", "yarn-a", "old", JobStatus::kRunning, kT0)};
  CHECK(PlanFailovers(in).stale.empty());
  // Not when the job is busy.
  in.snapshots.push_back(Instance("ads", "yarn-b", "new", JobStatus::kRunning, kT0));
  in.busy = {"ads"};
  CHECK(PlanFailovers(in).stale.empty());
  // Not without a recorded placement: two copies are then plain duplicates.
  in.busy.clear();
  in.placement.clear();
  CHECK(PlanFailovers(in).stale.empty());
}

// ads lives on yarn-b since a failover 20 minutes ago; yarn-a has answered for 40 minutes.
FailoverInput AwayFromHome() {
  FailoverInput in = Base();
  in.settings.failback_after_ms = 30 * kMin;
  in.clusters[0] = Up("yarn-a", kT0, 10);
  in.up_since = {{"yarn-a", kT0 - 40 * kMin}, {"yarn-b", kT0 - 90 * kMin}};
  in.placement = {{"ads", "yarn-b"}};
  in.placed_since = {{"ads", kT0 - 35 * kMin}};
  JobSnapshot old = Instance("ads", "yarn-a", "old", JobStatus::kCanceled, kT0);
  in.snapshots = {old, Instance("ads", "yarn-b", "new", JobStatus::kRunning, kT0)};
  return in;
}

TEST_CASE("failback: home healthy for failback_after moves the job home with a savepoint") {
  FailoverInput in = AwayFromHome();
  FailoverOutput out = PlanFailovers(in);
  CHECK(out.moves.empty());
  CHECK(out.stale.empty());
  REQUIRE(out.failbacks.size() == 1);
  const RecoveryPlan& p = out.failbacks[0].plan;
  CHECK(out.failbacks[0].from == "yarn-b");
  CHECK(p.cluster == "yarn-a");
  CHECK(p.stop_job_id == "new");
  CHECK(p.restore_from_stop_savepoint);
  CHECK_FALSE(p.restore_point.has_value());
  CHECK(p.steps == std::vector<StepKind>{StepKind::kStopWithSavepoint, StepKind::kWaitTerminal,
                                         StepKind::kSubmit, StepKind::kVerify});
  CHECK(p.rules == std::vector<std::string>{"failback"});
  CHECK(p.reason.find("yarn-a has answered every poll for 40m") != std::string::npos);

  // Manual failback (the default): nothing.
  in.settings.failback_after_ms.reset();
  CHECK(PlanFailovers(in).failbacks.empty());
}

TEST_CASE("failback: not before home and the job were settled long enough, nor onto a full, "
          "unknown or down home, nor of an unhealthy or busy job") {
  const auto none = [](const FailoverInput& in) { return PlanFailovers(in).failbacks.empty(); };
  {
    FailoverInput in = AwayFromHome();
    in.up_since["yarn-a"] = kT0 - 10 * kMin;  // home back for 10 minutes only
    CHECK(none(in));
    in.up_since.erase("yarn-a");  // not answering now
    CHECK(none(in));
  }
  {
    FailoverInput in = AwayFromHome();
    in.placed_since["ads"] = kT0 - 5 * kMin;  // moved 5 minutes ago
    CHECK(none(in));
  }
  {
    FailoverInput in = AwayFromHome();
    in.clusters[0] = Up("yarn-a", kT0, 4);  // 4 free slots of 8
    CHECK(none(in));
    // Plenty of slots at the last answer, but /overview failed this cycle: not counted on.
    in.clusters[0].capacity.value->slots_available = 64;
    in.clusters[0].capacity.MarkStale("GET /overview: timed out");
    CHECK(none(in));
    in.clusters[0].capacity.SetFresh(
        ClusterCapacity{.taskmanagers = 4, .slots_total = 64, .slots_available = 64}, kT0);
    CHECK_FALSE(none(in));
    in.clusters[0] = Down("yarn-a", kT0, 6, 2 * kMin);
    CHECK(none(in));
  }
  {
    FailoverInput in = AwayFromHome();
    in.snapshots[1].all_tasks_running.SetFresh(false, kT0);
    CHECK(none(in));
    in.snapshots[1] = Instance("ads", "yarn-b", "new", JobStatus::kRestarting, kT0);
    CHECK(none(in));
  }
  {
    FailoverInput in = AwayFromHome();
    in.busy = {"ads"};
    CHECK(none(in));
  }
  {
    // The old instance's fate unknown (its status stale): not while it might be live.
    FailoverInput in = AwayFromHome();
    in.snapshots[0] = Instance("ads", "yarn-a", "old", JobStatus::kRunning, kT0 - kMin);
    in.snapshots[0].status.MarkStale("timed out");
    CHECK(none(in));
  }
  {
    // Restore points only on the backup's own disk: home could not read the savepoint.
    FailoverInput in = AwayFromHome();
    in.points = {Point("ads", "file:/var/flink/chk-9", kT0 - kMin)};
    CHECK(none(in));
    in.points.clear();
    CHECK(none(in));
  }
}

TEST_CASE("failback: a copy still running at home is cancelled first; the cap holds failbacks") {
  FailoverInput in = AwayFromHome();
  in.snapshots[0] = Instance("ads", "yarn-a", "old", JobStatus::kRunning, kT0);
  FailoverOutput out = PlanFailovers(in);
  CHECK(out.failbacks.empty());
  REQUIRE(out.stale.size() == 1);
  CHECK(out.stale[0].plan.stop_job_id == "old");

  in = AwayFromHome();
  in.settings.max_concurrent = 2;
  in.in_flight = 2;
  out = PlanFailovers(in);
  CHECK(out.failbacks.empty());
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].cause == RefusalCause::kBlastRadius);
  CHECK_FALSE(out.refusals[0].page);
}

TEST_CASE("OnSharedStorage reads the URI scheme") {
  const std::set<std::string> schemes = {"s3", "hdfs"};
  CHECK(OnSharedStorage("s3://bucket/x", schemes));
  CHECK(OnSharedStorage("HDFS://nn/x", schemes));
  CHECK_FALSE(OnSharedStorage("file:/x", schemes));
  CHECK_FALSE(OnSharedStorage("/local/x", schemes));
  CHECK_FALSE(OnSharedStorage(":x", schemes));
}

}  // namespace
}  // namespace flinkguard
