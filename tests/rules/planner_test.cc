// Recovery planner: time-stamped scenarios. Each starts from a region at kT0 and says what the
// planner decides, and why.

#include "rules/planner.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/rules/planner_test_support.h"

using namespace flinkguard;
using namespace flinkguard::planner_test;

namespace {

const std::vector<StepKind> kSubmitVerify = {StepKind::kSubmit, StepKind::kVerify};
const std::vector<StepKind> kCancelFirst = {StepKind::kCancel, StepKind::kWaitTerminal,
                                            StepKind::kSubmit, StepKind::kVerify};
const std::vector<StepKind> kSavepointFirst = {
    StepKind::kStopWithSavepoint, StepKind::kWaitTerminal, StepKind::kSubmit, StepKind::kVerify};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

PlanOutput PlanOnce(const Scenario& s, double u = 0.5) {
  Planner planner(Fixed(u));
  return planner.Plan(s.Input());
}

}  // namespace

// --- The ladder -------------------------------------------------------------------------------

TEST_CASE(
    "the newer of checkpoint and savepoint wins: a savepoint 5 min old beats a 10 min "
    "old checkpoint") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 41, kT0 - 10 * kMin), Savepoint("ads", 7, kT0 - 5 * kMin)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  const RecoveryPlan& p = out.plans[0];
  CHECK(p.job == "ads");
  CHECK(p.cluster == "yarn-a");
  CHECK(p.strategy == Strategy::kSavepoint);
  REQUIRE(p.restore_point.has_value());
  CHECK(p.restore_point->path == "s3://sp/ads/savepoint-7");
  CHECK(p.steps == kSubmitVerify);
  CHECK(p.stop_job_id.empty());
  CHECK_FALSE(p.dry_run);
  CHECK(p.reason ==
        "job-failed (critical); savepoint sp-7 chosen (newer than chk-41); no live instance to "
        "stop; submit to yarn-a");
  CHECK(out.refusals.empty());
  CHECK(out.detected == 1);
}

TEST_CASE("a checkpoint newer than the savepoint wins") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin), Savepoint("ads", 7, kT0 - 30 * kMin)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].strategy == Strategy::kCheckpoint);
  REQUIRE(out.plans[0].restore_point.has_value());
  CHECK(out.plans[0].restore_point->path == "s3://ckpt/ads/chk-42");
  CHECK(Contains(out.plans[0].reason, "checkpoint chk-42 chosen (newer than sp-7)"));
}

TEST_CASE("a discarded checkpoint is skipped and the reason says so") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin), Savepoint("ads", 7, kT0 - 5 * kMin),
              Checkpoint("ads", 41, kT0 - 10 * kMin)};
  s.points[0].point.discarded = true;
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].restore_point->path == "s3://sp/ads/savepoint-7");
  CHECK(Contains(out.plans[0].reason,
                 "checkpoint chk-42 skipped: discarded; savepoint sp-7 chosen (newer than "
                 "chk-41)"));
}

TEST_CASE("a checkpoint that is not externally addressable is skipped") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin), Checkpoint("ads", 41, kT0 - 4 * kMin)};
  s.points[0].point.addressable = false;
  s.points[0].point.path = "<checkpoint-not-externally-addressable>";
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].restore_point->path == "s3://ckpt/ads/chk-41");
  CHECK(Contains(out.plans[0].reason,
                 "checkpoint chk-42 skipped: not externally addressable; checkpoint chk-41 "
                 "chosen (no usable savepoint)"));
}

TEST_CASE("a poisoned checkpoint (a restore from it failed before) is never chosen again") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin), Checkpoint("ads", 40, kT0 - 20 * kMin),
              Savepoint("ads", 7, kT0 - 30 * kMin)};
  s.points[0].failed_restore = true;
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].restore_point->path == "s3://ckpt/ads/chk-40");
  CHECK(Contains(out.plans[0].reason, "checkpoint chk-42 skipped: failed to restore before"));
  CHECK(Contains(out.plans[0].reason, "checkpoint chk-40 chosen (newer than sp-7)"));
}

TEST_CASE(
    "restore points older than max_checkpoint_age are skipped; none left and no fresh "
    "state allowed: refuse and page") {
  RecoveryPolicy policy;
  policy.max_checkpoint_age_ms = 2 * kHour;
  Scenario s = FailedAds(policy);
  s.points = {Checkpoint("ads", 42, kT0 - 3 * kHour), Savepoint("ads", 7, kT0 - 5 * kHour)};
  PlanOutput out = PlanOnce(s);
  CHECK(out.plans.empty());
  REQUIRE(out.refusals.size() == 1);
  const Refusal& r = out.refusals[0];
  CHECK(r.cause == RefusalCause::kNoRestorePoint);
  CHECK(r.page);
  CHECK(Contains(r.reason,
                 "checkpoint chk-42 skipped: older than max_checkpoint_age 2h (3h old); "
                 "savepoint sp-7 skipped: older than max_checkpoint_age 2h (5h old); no usable "
                 "restore point; fresh state not allowed by policy"));
  CHECK(out.NotEnforced(RefusalCause::kNoRestorePoint) == 1);
}

TEST_CASE("a point exactly max_checkpoint_age old is still usable") {
  RecoveryPolicy policy;
  policy.max_checkpoint_age_ms = 2 * kHour;
  Scenario s = FailedAds(policy);
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kHour)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].restore_point->id == 42);
}

TEST_CASE("no restore point at all: fresh state is refused without the policy's opt-in") {
  Scenario s = FailedAds();
  PlanOutput out = PlanOnce(s);
  CHECK(out.plans.empty());
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].page);
  CHECK(out.refusals[0].reason ==
        "job-failed (critical); no restore point known; fresh state not allowed by policy");
}

TEST_CASE("fresh state with the opt-in: a plan without restore point, non-restored state off") {
  RecoveryPolicy policy;
  policy.allow_fresh_state = true;
  policy.allow_non_restored_state = true;
  Scenario s = FailedAds(policy);
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  s.points[0].point.discarded = true;
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].strategy == Strategy::kFresh);
  CHECK_FALSE(out.plans[0].restore_point.has_value());
  CHECK_FALSE(out.plans[0].allow_non_restored_state);
  CHECK(Contains(out.plans[0].reason,
                 "checkpoint chk-42 skipped: discarded; no usable restore point; fresh state "
                 "(allowed by policy)"));
}

TEST_CASE("allow_non_restored_state is passed on for a restore from a point") {
  RecoveryPolicy policy;
  policy.allow_non_restored_state = true;
  Scenario s = FailedAds(policy);
  s.points = {Savepoint("ads", 7, kT0 - 5 * kMin)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].allow_non_restored_state);
}

TEST_CASE(
    "the checkpoint seen in this cycle's snapshot counts, and history's failed_restore "
    "flag for the same path wins") {
  Scenario s = FailedAds();
  s.snapshots[0].last_checkpoint.SetFresh(Point(RestorePoint::Kind::kCheckpoint, 43, kT0 - kMin),
                                          kT0);
  s.points = {Savepoint("ads", 7, kT0 - 30 * kMin)};
  SUBCASE("not in history yet: chosen") {
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.plans.size() == 1);
    CHECK(out.plans[0].restore_point->id == 43);
  }
  SUBCASE("history says it failed to restore: skipped") {
    s.points.push_back(Checkpoint("ads", 43, kT0 - kMin));
    s.points.back().failed_restore = true;
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.plans.size() == 1);
    CHECK(out.plans[0].restore_point->id == 7);
  }
}

TEST_CASE("a reason names at most five skipped points and counts the rest") {
  Scenario s = FailedAds();
  for (int i = 0; i < 8; ++i) {
    s.points.push_back(Checkpoint("ads", 50 - i, kT0 - (i + 1) * kMin));
    s.points.back().point.discarded = true;
  }
  s.points.push_back(Savepoint("ads", 7, kT0 - 30 * kMin));
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(Contains(out.plans[0].reason,
                 "checkpoint chk-46 skipped: discarded; 3 more restore "
                 "points skipped; savepoint sp-7 chosen"));
  CHECK_FALSE(Contains(out.plans[0].reason, "chk-45"));
}

// --- Escalation -------------------------------------------------------------------------------

TEST_CASE(
    "a recovery that did not stick: its point and the checkpoints of its short run are "
    "skipped, one rung down") {
  // T0-12m chk-42; T0-10m r1 restores chk-42 (ends T0-9m); new instance j2 checkpoints chk-43 at
  // T0-8m and fails at T0-7m, 2 min after r1 ended (stable_after is 5 min).
  Scenario s = FailedAds();
  s.snapshots = {Instance("ads", "yarn-a", "j2", JobStatus::kFailed, kT0)};
  s.points = {Checkpoint("ads", 40, kT0 - 30 * kMin), Savepoint("ads", 7, kT0 - 20 * kMin),
              Checkpoint("ads", 42, kT0 - 12 * kMin), Checkpoint("ads", 43, kT0 - 8 * kMin, "j2")};
  s.attempts = {Attempt("r1", "ads", kT0 - 10 * kMin, kT0 - 9 * kMin, Strategy::kCheckpoint,
                        "s3://ckpt/ads/chk-42", RecoveryAttempt::Outcome::kSucceeded, kMin)};
  SUBCASE("failed again 2 min after: escalate to the savepoint") {
    s.findings = {Recover("ads", "yarn-a", "j2", kT0 - 7 * kMin)};
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.plans.size() == 1);
    const RecoveryPlan& p = out.plans[0];
    CHECK(p.restore_point->path == "s3://sp/ads/savepoint-7");
    CHECK(p.escalates_attempt_id == "r1");
    CHECK(Contains(p.reason, "recovery r1 from s3://ckpt/ads/chk-42 did not stick"));
    CHECK(Contains(p.reason,
                   "checkpoint chk-43 skipped: taken during recovery r1 that did not "
                   "stick; checkpoint chk-42 skipped: restored by recovery r1 that did "
                   "not stick; savepoint sp-7 chosen (newer than chk-40)"));
  }
  SUBCASE("failed again 8 min after: it had stuck, the newest checkpoint is fine") {
    s.findings = {Recover("ads", "yarn-a", "j2", kT0 - kMin)};
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.plans.size() == 1);
    CHECK(out.plans[0].restore_point->id == 43);
    CHECK(out.plans[0].escalates_attempt_id.empty());
  }
}

TEST_CASE("a window rule still firing from before a recovery does not undo it (settling)") {
  // r1 (T0-3m .. T0-2m) replaced a restart-looping instance; increase(restarts, 10m) still fires
  // since T0-5m because its window holds the old instance's restarts. The new instance j2 started
  // by r1 runs with all tasks: wait. Were it not running well, or a rule fired anew, it escalates.
  RecoveryPolicy policy;
  policy.cooldown_ms = 0;
  policy.stable_after_ms = 0;
  Scenario s = FailedAds(policy);
  s.points = {Checkpoint("ads", 42, kT0 - 4 * kMin), Savepoint("ads", 7, kT0 - 20 * kMin)};
  s.attempts = {Attempt("r1", "ads", kT0 - 3 * kMin, kT0 - 2 * kMin, Strategy::kCheckpoint,
                        "s3://ckpt/ads/chk-42", RecoveryAttempt::Outcome::kSucceeded, 0)};
  JobSnapshot j2 = Instance("ads", "yarn-a", "j2", JobStatus::kRunning, kT0);
  j2.start_time_ms = kT0 - 2 * kMin - 30 * kSec;
  s.findings = {Recover("ads", "yarn-a", "j2", kT0 - 5 * kMin)};
  SUBCASE("the new instance runs with all tasks: no plan, no page") {
    s.snapshots = {j2};
    PlanOutput out = PlanOnce(s);
    CHECK(out.plans.empty());
    REQUIRE(out.refusals.size() == 1);
    CHECK(out.refusals[0].cause == RefusalCause::kCooldown);
    CHECK_FALSE(out.refusals[0].page);
    CHECK(Contains(out.refusals[0].reason, "settling"));
  }
  SUBCASE("the new instance is restarting: escalate") {
    j2.status.SetFresh(JobStatus::kRestarting, kT0);
    j2.all_tasks_running.SetFresh(false, kT0);
    s.snapshots = {j2};
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.plans.size() == 1);
    CHECK(out.plans[0].escalates_attempt_id == "r1");
  }
  SUBCASE("a rule fires anew after the recovery: act") {
    s.snapshots = {j2};
    s.findings = {Recover("ads", "yarn-a", "j2", kT0 - kMin)};
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.plans.size() == 1);
  }
}

TEST_CASE("escalation continues down the ladder over several recoveries that did not stick") {
  // r1 restored chk-42 and was recorded as not sticking; r2 restored sp-7 and the job fails again
  // within stable_after: next is chk-40, then (with the opt-in) fresh state.
  RecoveryPolicy policy;
  policy.max_recoveries = 5;
  Scenario s = FailedAds(policy);
  s.points = {Checkpoint("ads", 40, kT0 - 50 * kMin), Savepoint("ads", 7, kT0 - 45 * kMin),
              Checkpoint("ads", 42, kT0 - 40 * kMin)};
  s.attempts = {Attempt("r1", "ads", kT0 - 30 * kMin, kT0 - 29 * kMin, Strategy::kCheckpoint,
                        "s3://ckpt/ads/chk-42", RecoveryAttempt::Outcome::kDidNotStick, kMin),
                Attempt("r2", "ads", kT0 - 20 * kMin, kT0 - 19 * kMin, Strategy::kSavepoint,
                        "s3://sp/ads/savepoint-7", RecoveryAttempt::Outcome::kSucceeded, 2 * kMin)};
  s.findings = {Recover("ads", "yarn-a", "j1", kT0 - 16 * kMin)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].restore_point->id == 40);
  CHECK(out.plans[0].escalates_attempt_id == "r2");

  // r3 from chk-40 did not stick either; fresh state is the last rung.
  s.attempts[1].outcome = RecoveryAttempt::Outcome::kDidNotStick;
  s.attempts.push_back(Attempt("r3", "ads", kT0 - 10 * kMin, kT0 - 9 * kMin, Strategy::kCheckpoint,
                               "s3://ckpt/ads/chk-40", RecoveryAttempt::Outcome::kSucceeded,
                               4 * kMin));
  s.findings = {Recover("ads", "yarn-a", "j1", kT0 - 5 * kMin)};
  out = PlanOnce(s);
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].cause == RefusalCause::kNoRestorePoint);
  CHECK(out.refusals[0].page);

  s.catalog[0].policy.allow_fresh_state = true;
  out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].strategy == Strategy::kFresh);
  CHECK(out.plans[0].escalates_attempt_id == "r3");
}

TEST_CASE("fresh state that did not stick is not tried again: refuse and page") {
  RecoveryPolicy policy;
  policy.allow_fresh_state = true;
  Scenario s = FailedAds(policy);
  s.attempts = {Attempt("r1", "ads", kT0 - 4 * kMin, kT0 - 3 * kMin, Strategy::kFresh, "",
                        RecoveryAttempt::Outcome::kSucceeded, kMin)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].page);
  CHECK(Contains(out.refusals[0].reason, "recovery r1 from fresh state did not stick"));
  CHECK(Contains(out.refusals[0].reason, "fresh state did not stick (recovery r1)"));
}

// --- Stopping the live instance, deduplication ------------------------------------------------

TEST_CASE("a RESTARTING instance is cancelled first, then the job is submitted where it ran") {
  Scenario s = FailedAds();
  s.snapshots = {Instance("ads", "yarn-b", "j1", JobStatus::kRestarting, kT0, false)};
  s.findings = {Recover("ads", "yarn-b", "j1", kT0 - kMin, "restart-loop")};
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  s.catalog[0].policy.stop_with_savepoint = true;  // not healthy enough for a savepoint
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  const RecoveryPlan& p = out.plans[0];
  CHECK(p.steps == kCancelFirst);
  CHECK(p.stop_job_id == "j1");
  CHECK(p.cluster == "yarn-b");
  CHECK_FALSE(p.restore_from_stop_savepoint);
  CHECK(p.reason ==
        "restart-loop (critical); checkpoint chk-42 chosen (no usable savepoint); cancel "
        "RESTARTING instance j1 on yarn-b first; submit to yarn-b");
}

TEST_CASE(
    "a RUNNING instance with some tasks not running is cancelled even with "
    "stop_with_savepoint") {
  RecoveryPolicy policy;
  policy.stop_with_savepoint = true;
  Scenario s = FailedAds(policy);
  s.snapshots = {Instance("ads", "yarn-a", "j1", JobStatus::kRunning, kT0, false)};
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].steps == kCancelFirst);
}

TEST_CASE("a healthy-enough instance is stopped with a savepoint and restored from it") {
  RecoveryPolicy policy;
  policy.stop_with_savepoint = true;
  Scenario s = FailedAds(policy);
  s.snapshots = {Instance("ads", "yarn-a", "j1", JobStatus::kRunning, kT0, true)};
  s.findings = {
      Recover("ads", "yarn-a", "j1", kT0 - 5 * kMin, "checkpoint-stale", Severity::kWarning)};
  s.points = {Checkpoint("ads", 42, kT0 - 20 * kMin)};
  SUBCASE("with a fallback when the stop fails") {
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.plans.size() == 1);
    const RecoveryPlan& p = out.plans[0];
    CHECK(p.steps == kSavepointFirst);
    CHECK(p.stop_job_id == "j1");
    CHECK(p.restore_from_stop_savepoint);
    CHECK(p.strategy == Strategy::kSavepoint);
    CHECK_FALSE(p.restore_point.has_value());
    REQUIRE(p.if_stop_fails.has_value());
    CHECK(p.if_stop_fails->strategy == Strategy::kCheckpoint);
    CHECK(p.if_stop_fails->point->id == 42);
    CHECK(p.reason ==
          "checkpoint-stale (warning); stop-with-savepoint of RUNNING instance j1 on yarn-a, "
          "then restore from that savepoint; if the stop fails: cancel, checkpoint chk-42 chosen "
          "(no usable savepoint); submit to yarn-a");
  }
  SUBCASE("without anything else usable: leave it running if the stop fails") {
    s.points.clear();
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.plans.size() == 1);
    CHECK(out.plans[0].restore_from_stop_savepoint);
    CHECK_FALSE(out.plans[0].if_stop_fails.has_value());
    CHECK(Contains(out.plans[0].reason,
                   "if the stop fails: leave it running (no restore point "
                   "known; fresh state not allowed by policy)"));
  }
  SUBCASE("without the policy: cancel") {
    s.catalog[0].policy.stop_with_savepoint = false;
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.plans.size() == 1);
    CHECK(out.plans[0].steps == kCancelFirst);
    CHECK(out.plans[0].restore_point->id == 42);
  }
}

TEST_CASE(
    "no stop-with-savepoint restore while escalating: the live state descends from the "
    "point that did not stick") {
  RecoveryPolicy policy;
  policy.stop_with_savepoint = true;
  Scenario s = FailedAds(policy);
  s.snapshots = {Instance("ads", "yarn-a", "j2", JobStatus::kRunning, kT0, true)};
  s.findings = {Recover("ads", "yarn-a", "j2", kT0 - 6 * kMin)};
  s.points = {Checkpoint("ads", 42, kT0 - 12 * kMin), Savepoint("ads", 7, kT0 - 20 * kMin)};
  s.attempts = {Attempt("r1", "ads", kT0 - 10 * kMin, kT0 - 9 * kMin, Strategy::kCheckpoint,
                        "s3://ckpt/ads/chk-42", RecoveryAttempt::Outcome::kSucceeded, kMin)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].steps == kCancelFirst);
  CHECK(out.plans[0].restore_point->id == 7);
}

TEST_CASE(
    "checkpoints of the instance being cancelled are skipped when they are not retained "
    "on cancellation") {
  Scenario s = FailedAds();
  s.snapshots = {Instance("ads", "yarn-a", "j1", JobStatus::kFailing, kT0, false)};
  CheckpointSettings cs;
  cs.interval_ms = kMin;
  cs.retained_on_cancel = false;
  s.snapshots[0].checkpoint_settings.SetFresh(cs, kT0);
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin, "j1"), Savepoint("ads", 7, kT0 - 9 * kMin)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].restore_point->id == 7);
  CHECK(Contains(out.plans[0].reason,
                 "checkpoint chk-42 skipped: would be deleted when instance "
                 "j1 is cancelled (not retained on cancellation)"));

  s.snapshots[0].checkpoint_settings.value->retained_on_cancel = true;
  out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].restore_point->id == 42);
}

TEST_CASE("an instance already CANCELLING is waited for, not cancelled again") {
  Scenario s = FailedAds();
  s.snapshots = {Instance("ads", "yarn-a", "j1", JobStatus::kCancelling, kT0, false)};
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].steps ==
        std::vector<StepKind>{StepKind::kWaitTerminal, StepKind::kSubmit, StepKind::kVerify});
  CHECK(out.plans[0].stop_job_id == "j1");
}

TEST_CASE("dedup: no submit while another live instance of the name runs elsewhere") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  s.snapshots.push_back(Instance("ads", "yarn-b", "j9", JobStatus::kRunning, kT0));
  PlanOutput out = PlanOnce(s);
  CHECK(out.plans.empty());
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].cause == RefusalCause::kDuplicate);
  CHECK_FALSE(out.refusals[0].page);
  CHECK(out.refusals[0].reason ==
        "live RUNNING instance j9 on yarn-b is not the instance that asked for recovery; not "
        "submitting a duplicate");
  CHECK(out.NotEnforced(RefusalCause::kDuplicate) == 1);
}

TEST_CASE("dedup: two live instances of one job already: refuse and page") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  s.snapshots = {Instance("ads", "yarn-a", "j1", JobStatus::kRestarting, kT0, false),
                 Instance("ads", "yarn-b", "j9", JobStatus::kRunning, kT0)};
  PlanOutput out = PlanOnce(s);
  CHECK(out.plans.empty());
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].page);
  CHECK(out.refusals[0].reason ==
        "2 live instances (RESTARTING instance j1 on yarn-a, RUNNING instance j9 on yarn-b); "
        "not planning until only one is left");
}

TEST_CASE("where to submit: where the failed instance ran, else the home cluster") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  SUBCASE("failed on the failover cluster") {
    s.snapshots = {Instance("ads", "yarn-b", "j1", JobStatus::kFailed, kT0)};
    s.findings = {Recover("ads", "yarn-b", "j1", kT0 - kMin)};
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.plans.size() == 1);
    CHECK(out.plans[0].cluster == "yarn-b");
  }
  SUBCASE("no instance seen (the job is gone)") {
    s.snapshots.clear();
    s.findings = {Recover("ads", "", "", kT0 - kMin, "job-missing")};
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.plans.size() == 1);
    CHECK(out.plans[0].cluster == "yarn-a");
  }
}

// --- Single flight, cooldown, give-up ---------------------------------------------------------

TEST_CASE("single flight: a job with a recovery in progress is not planned again") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  SUBCASE("named in the in-progress set") {
    s.in_progress = {"ads"};
    PlanOutput out = PlanOnce(s);
    CHECK(out.plans.empty());
    REQUIRE(out.refusals.size() == 1);
    CHECK(out.refusals[0].cause == RefusalCause::kInProgress);
    CHECK_FALSE(out.refusals[0].page);
  }
  SUBCASE("an attempt without end in history") {
    s.attempts = {Attempt("r9", "ads", kT0 - 30 * kSec, std::nullopt, Strategy::kCheckpoint,
                          "s3://ckpt/ads/chk-41", RecoveryAttempt::Outcome::kInProgress)};
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.refusals.size() == 1);
    CHECK(out.refusals[0].reason == "recovery r9 is already in progress");
    CHECK(out.NotEnforced(RefusalCause::kInProgress) == 1);
  }
}

TEST_CASE("cooldown holds, then releases, and the backoff doubles with each recovery") {
  // r1 at T0-1m failed (ended T0-30s) with a 1 min cooldown.
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 5 * kMin)};
  s.attempts = {Attempt("r1", "ads", kT0 - kMin, kT0 - 30 * kSec, Strategy::kCheckpoint,
                        "s3://ckpt/ads/chk-42", RecoveryAttempt::Outcome::kFailed, kMin)};
  Planner planner(Fixed(0.5));

  PlanOutput out = planner.Plan(s.Input());  // T0: 30 s left
  CHECK(out.plans.empty());
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].cause == RefusalCause::kCooldown);
  CHECK_FALSE(out.refusals[0].page);
  CHECK(out.refusals[0].reason == "cooldown: 30s left of 1m after recovery r1");
  CHECK(out.NotEnforced(RefusalCause::kCooldown) == 1);

  s.At(kT0 + 29 * kSec);
  CHECK(planner.Plan(s.Input()).plans.empty());

  s.At(kT0 + 30 * kSec);  // released: second recovery in the window, 2 min cooldown after it
  out = planner.Plan(s.Input());
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].cooldown_after_ms == 2 * kMin);

  // r2 ends 20 s later, failed too; its cooldown holds for 2 min, then the next one is 4 min.
  s.attempts.push_back(Attempt("r2", "ads", kT0 + 30 * kSec, kT0 + 50 * kSec, Strategy::kCheckpoint,
                               "s3://ckpt/ads/chk-42", RecoveryAttempt::Outcome::kFailed,
                               out.plans[0].cooldown_after_ms));
  s.At(kT0 + 2 * kMin);
  out = planner.Plan(s.Input());
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].reason == "cooldown: 50s left of 2m after recovery r2");
  s.At(kT0 + 50 * kSec + 2 * kMin);
  out = planner.Plan(s.Input());
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].cooldown_after_ms == 4 * kMin);
}

TEST_CASE("cooldown jitter is +-10% from the injected randomness; the backoff is capped") {
  RecoveryPolicy policy;
  policy.cooldown_ms = 10 * kMin;
  policy.max_recoveries = 10;
  policy.window_ms = 24 * kHour;
  Scenario s = FailedAds(policy);
  s.points = {Checkpoint("ads", 42, kT0 - 5 * kMin)};
  CHECK(PlanOnce(s, 0.0).plans.at(0).cooldown_after_ms == 9 * kMin);
  CHECK(PlanOnce(s, 0.5).plans.at(0).cooldown_after_ms == 10 * kMin);
  CHECK(PlanOnce(s, 0.75).plans.at(0).cooldown_after_ms == 10 * kMin + 30 * kSec);
  // Three recoveries before: 10m x 2^3 = 80m, capped at 1h; jitter still spreads capped jobs
  // (54m..1h) and never goes above the cap.
  for (int i = 0; i < 3; ++i) {
    s.attempts.push_back(Attempt("r" + std::to_string(i), "ads", kT0 - (5 - i) * kHour,
                                 kT0 - (5 - i) * kHour + kMin, Strategy::kCheckpoint, "x",
                                 RecoveryAttempt::Outcome::kSucceeded));
  }
  CHECK(PlanOnce(s, 0.0).plans.at(0).cooldown_after_ms == 54 * kMin);
  CHECK(PlanOnce(s, 0.99).plans.at(0).cooldown_after_ms == kHour);
}

TEST_CASE("an attempt without a recorded cooldown (e.g. by hand) gets the unjittered backoff") {
  // Two recoveries in the window, the latest at T0-90s: 2 x 1m = 2m from its end.
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 30 * kMin)};
  s.attempts = {Attempt("r1", "ads", kT0 - 40 * kMin, kT0 - 39 * kMin, Strategy::kCheckpoint, "a",
                        RecoveryAttempt::Outcome::kSucceeded),
                Attempt("manual", "ads", kT0 - 90 * kSec, kT0 - 80 * kSec, Strategy::kSavepoint,
                        "b", RecoveryAttempt::Outcome::kFailed)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].reason == "cooldown: 40s left of 2m after recovery manual");
}

TEST_CASE("max recoveries per window: give up and page once, until the window slides") {
  // Three recoveries in the last hour (the newest at T0-10m stuck until the job failed at T0-1m).
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  s.attempts = {Attempt("r1", "ads", kT0 - 50 * kMin, kT0 - 49 * kMin, Strategy::kCheckpoint, "a",
                        RecoveryAttempt::Outcome::kSucceeded, kMin),
                Attempt("r2", "ads", kT0 - 30 * kMin, kT0 - 29 * kMin, Strategy::kCheckpoint, "b",
                        RecoveryAttempt::Outcome::kSucceeded, 2 * kMin),
                Attempt("r3", "ads", kT0 - 10 * kMin, kT0 - 9 * kMin, Strategy::kCheckpoint, "c",
                        RecoveryAttempt::Outcome::kSucceeded, 4 * kMin)};
  Planner planner(Fixed(0.5));
  PlanOutput out = planner.Plan(s.Input());
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].cause == RefusalCause::kGaveUp);
  CHECK(out.refusals[0].page);
  CHECK(out.refusals[0].reason ==
        "gave up: 3 recoveries in the last 1h (max_recoveries 3); a person must look");
  CHECK(out.NotEnforced(RefusalCause::kGaveUp) == 1);

  s.At(kT0 + 10 * kSec);  // next cycle: same episode, no second page
  out = planner.Plan(s.Input());
  REQUIRE(out.refusals.size() == 1);
  CHECK_FALSE(out.refusals[0].page);
  CHECK(out.refusals[0].reason ==
        "gave up: 3 recoveries in the last 1h (max_recoveries 3); a person must look (paged "
        "already)");

  s.At(kT0 + 10 * kMin + kSec);  // r1 left the window
  out = planner.Plan(s.Input());
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].restore_point->id == 42);
}

TEST_CASE("a planner without memory pages again; a new episode pages again") {
  Scenario s = FailedAds();  // no restore point: refuse and page
  Planner planner(Fixed(0.5));
  CHECK(planner.Plan(s.Input()).refusals.at(0).page);
  CHECK_FALSE(planner.Plan(s.Input()).refusals.at(0).page);
  s.findings[0].firing_since_ms = kT0 + kMin;  // resolved, then fired again
  s.At(kT0 + 2 * kMin);
  CHECK(planner.Plan(s.Input()).refusals.at(0).page);
  Planner restarted(Fixed(0.5));
  CHECK(restarted.Plan(s.Input()).refusals.at(0).page);
}

// --- Blast radius, dry run --------------------------------------------------------------------

TEST_CASE("blast radius: at most N jobs in recovery; slots by severity, then name") {
  Scenario s;
  s.clusters = {Cluster("yarn-a", kT0), Cluster("yarn-b", kT0)};
  s.settings.max_concurrent_recoveries = 2;
  struct J {
    const char* name;
    Severity sev;
  };
  for (J j : {J{"d-warn", Severity::kWarning}, J{"c-crit", Severity::kCritical},
              J{"a-warn", Severity::kWarning}, J{"b-crit", Severity::kCritical}}) {
    s.catalog.push_back(Job(j.name));
    s.snapshots.push_back(
        Instance(j.name, "yarn-a", std::string(j.name) + "-1", JobStatus::kFailed, kT0));
    s.findings.push_back(
        Recover(j.name, "yarn-a", std::string(j.name) + "-1", kT0 - kMin, "job-failed", j.sev));
    s.points.push_back(Checkpoint(j.name, 1, kT0 - 2 * kMin));
  }
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 2);
  CHECK(out.plans[0].job == "b-crit");
  CHECK(out.plans[1].job == "c-crit");
  REQUIRE(out.refusals.size() == 2);
  CHECK(out.refusals[0].job == "a-warn");
  CHECK(out.refusals[1].job == "d-warn");
  CHECK(out.refusals[0].cause == RefusalCause::kBlastRadius);
  CHECK_FALSE(out.refusals[0].page);
  CHECK(Contains(out.refusals[0].reason, "blast radius cap 2 reached"));
  CHECK(out.NotEnforced(RefusalCause::kBlastRadius) == 2);
  CHECK(out.detected == 4);

  s.in_progress = {"other-job"};  // one slot already taken
  out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].job == "b-crit");
  CHECK(out.NotEnforced(RefusalCause::kBlastRadius) == 3);
}

TEST_CASE("dry run: the same plans, flagged as what would have been done") {
  Scenario s = FailedAds();
  s.snapshots = {Instance("ads", "yarn-a", "j1", JobStatus::kRestarting, kT0, false)};
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  PlanOutput live = PlanOnce(s, 0.3);
  s.settings.dry_run = true;
  PlanOutput dry = PlanOnce(s, 0.3);
  REQUIRE(dry.plans.size() == 1);
  CHECK(dry.plans[0].dry_run);
  REQUIRE(live.plans.size() == 1);
  CHECK_FALSE(live.plans[0].dry_run);
  dry.plans[0].dry_run = false;
  CHECK(Describe(dry) == Describe(live));
}

// --- TILT -------------------------------------------------------------------------------------

TEST_CASE("TILT: no plan on a stale job status; counted, not paged") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  s.snapshots = {Instance("ads", "yarn-a", "j1", JobStatus::kRestarting, kT0 - kMin)};
  s.snapshots[0].status.MarkStale("GET /jobs/j1 timed out");
  PlanOutput out = PlanOnce(s);
  CHECK(out.plans.empty());
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].cause == RefusalCause::kUntrusted);
  CHECK_FALSE(out.refusals[0].page);
  CHECK(out.refusals[0].reason ==
        "TILT: status of instance j1 on yarn-a is stale (GET /jobs/j1 timed out)");
  CHECK(out.NotEnforced(RefusalCause::kUntrusted) == 1);

  s.snapshots[0].status.SetFresh(JobStatus::kFailed, kT0);  // the next cycle sees it again
  CHECK(PlanOnce(s).plans.size() == 1);
}

TEST_CASE("TILT: a stale copy on a cluster judged down, where the job no longer lives, does not "
          "hold up the recovery where it lives; the plan names that cluster presumed down") {
  // ads failed over from yarn-a (down) to yarn-b and has now failed on yarn-b.
  Scenario s = FailedAds();
  s.catalog = {Job("ads", "yarn-b")};  // the catalog's home follows the placement
  s.clusters = {Cluster("yarn-a", kT0, false), Cluster("yarn-b", kT0)};
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin, "j2")};
  JobSnapshot old = Instance("ads", "yarn-a", "j1", JobStatus::kRunning, kT0 - 5 * kMin);
  old.status.MarkStale("cluster yarn-a unreachable");
  s.snapshots = {old, Instance("ads", "yarn-b", "j2", JobStatus::kFailed, kT0)};
  s.findings = {Recover("ads", "yarn-b", "j2", kT0 - kMin)};
  // Without knowing yarn-a is down and the job left it: the stale copy might be live.
  PlanOutput refused = PlanOnce(s);
  CHECK(refused.plans.empty());
  REQUIRE(refused.refusals.size() == 1);
  CHECK(refused.refusals[0].cause == RefusalCause::kUntrusted);

  const std::vector<DepartedCopy> departed = {{"ads", "yarn-a"}, {"other", "yarn-b"}};
  PlanInput in = s.Input();
  in.departed = departed;
  Planner planner(Fixed(0.5));
  PlanOutput out = planner.Plan(in);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].cluster == "yarn-b");
  CHECK(out.plans[0].presumed_down == std::vector<std::string>{"yarn-a"});
  CHECK(out.plans[0].restore_point->path == "s3://ckpt/ads/chk-42");

  // A departed entry for another cluster does not excuse this one.
  const std::vector<DepartedCopy> elsewhere = {{"ads", "yarn-c"}};
  in.departed = elsewhere;
  CHECK(planner.Plan(in).plans.empty());
  // Nor does it excuse a fresh live instance there (it would be a duplicate).
  s.snapshots[0] = Instance("ads", "yarn-a", "j1", JobStatus::kRunning, kT0);
  s.clusters[0] = Cluster("yarn-a", kT0);
  in = s.Input();
  in.departed = departed;
  PlanOutput dup = planner.Plan(in);
  CHECK(dup.plans.empty());
}

TEST_CASE(
    "TILT: a live status observed too long ago is not acted on; an old terminal one is "
    "still terminal") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  s.snapshots = {Instance("ads", "yarn-a", "j1", JobStatus::kRestarting, kT0, false)};
  s.now = kT0 + 5 * kMin;  // the snapshot is from kT0
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].reason == "TILT: status of instance j1 on yarn-a was observed 5m ago");

  s.snapshots = {Instance("ads", "yarn-a", "j1", JobStatus::kFailed, kT0)};
  CHECK(PlanOnce(s).plans.size() == 1);
}

TEST_CASE("TILT: the cluster to act on is unreachable or was never observed") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  s.snapshots.clear();
  s.findings = {Recover("ads", "", "", kT0 - kMin, "job-missing")};
  SUBCASE("unreachable") {
    s.clusters[0] = Cluster("yarn-a", kT0, false);
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.refusals.size() == 1);
    CHECK(out.refusals[0].reason == "TILT: cluster yarn-a unreachable (connection refused)");
    CHECK_FALSE(out.refusals[0].page);
  }
  SUBCASE("never observed") {
    s.clusters = {Cluster("yarn-b", kT0)};
    PlanOutput out = PlanOnce(s);
    REQUIRE(out.refusals.size() == 1);
    CHECK(out.refusals[0].reason == "TILT: cluster yarn-a not observed");
  }
}

TEST_CASE(
    "TILT: a stale instance on an unreachable cluster blocks the job unless it was "
    "terminal") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  s.clusters[1] = Cluster("yarn-b", kT0, false);
  JobSnapshot old = Instance("ads", "yarn-b", "j0", JobStatus::kRunning, kT0 - kHour);
  old.status.MarkStale("cluster yarn-b unreachable");
  s.snapshots.push_back(old);
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].cause == RefusalCause::kUntrusted);

  s.snapshots[1].status.value = JobStatus::kCanceled;  // it was cancelled before the outage
  out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].cluster == "yarn-a");
}

TEST_CASE("TILT: the loop ran late: nothing is planned this cycle") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  s.loop_late = true;
  s.loop_late_reason = "cycle started 45s late";
  PlanOutput out = PlanOnce(s);
  CHECK(out.plans.empty());
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].reason == "TILT: the loop ran late (cycle started 45s late)");
  CHECK_FALSE(out.refusals[0].page);
}

// --- Inputs ------------------------------------------------------------------------------------

TEST_CASE("only recover findings count; several findings for one job make one plan") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("ads", 42, kT0 - 2 * kMin)};
  Finding alert = Recover("ads", "yarn-a", "j1", kT0 - 3 * kMin, "qps-drop", Severity::kCritical);
  alert.action = Action::kAlert;
  s.findings = {
      Recover("ads", "yarn-a", "j1", kT0 - kMin, "restart-loop", Severity::kWarning), alert,
      Recover("ads", "yarn-a", "j1", kT0 - 2 * kMin, "checkpoint-stale", Severity::kCritical)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.plans.size() == 1);
  CHECK(out.plans[0].rules == std::vector<std::string>{"checkpoint-stale", "restart-loop"});
  CHECK(out.plans[0].severity == Severity::kCritical);
  CHECK(Contains(out.plans[0].reason, "checkpoint-stale, restart-loop (critical); "));
  CHECK(out.detected == 1);

  s.findings = {alert};
  out = PlanOnce(s);
  CHECK(out.plans.empty());
  CHECK(out.refusals.empty());
  CHECK(out.detected == 0);
}

TEST_CASE("a job outside the catalog is not resubmitted") {
  Scenario s = FailedAds();
  s.catalog.clear();
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].cause == RefusalCause::kNotInCatalog);
  CHECK_FALSE(out.refusals[0].page);
  CHECK(out.NotEnforced(RefusalCause::kNotInCatalog) == 1);
}

TEST_CASE("restore points of other jobs are never used") {
  Scenario s = FailedAds();
  s.points = {Checkpoint("billing", 99, kT0 - kMin)};
  PlanOutput out = PlanOnce(s);
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0].cause == RefusalCause::kNoRestorePoint);
}

TEST_CASE("refusal causes have stable names for metrics") {
  CHECK(std::string(RefusalCauseName(RefusalCause::kNotInCatalog)) == "not-in-catalog");
  CHECK(std::string(RefusalCauseName(RefusalCause::kInProgress)) == "in-progress");
  CHECK(std::string(RefusalCauseName(RefusalCause::kUntrusted)) == "untrusted");
  CHECK(std::string(RefusalCauseName(RefusalCause::kGaveUp)) == "gave-up");
  CHECK(std::string(RefusalCauseName(RefusalCause::kCooldown)) == "cooldown");
  CHECK(std::string(RefusalCauseName(RefusalCause::kDuplicate)) == "duplicate");
  CHECK(std::string(RefusalCauseName(RefusalCause::kNoRestorePoint)) == "no-restore-point");
  CHECK(std::string(RefusalCauseName(RefusalCause::kBlastRadius)) == "blast-radius");
}
