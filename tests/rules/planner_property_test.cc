// Recovery planner: properties over many generated regions (seeded, so a failure names the seed
// that reproduces it).

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "rules/job_status.h"
#include "rules/planner.h"
#include "tests/rules/planner_test_support.h"

using namespace flinkguard;
using namespace flinkguard::planner_test;

namespace {

constexpr int kRegions = 3000;

// Small helpers over a seeded engine; modulo keeps the sequence the same on every platform.
struct Gen {
  std::mt19937_64 rng;
  explicit Gen(std::uint64_t seed) : rng(seed) {}
  std::int64_t Int(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  bool Chance(int percent) { return Int(0, 99) < percent; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(Int(0, static_cast<std::int64_t>(v.size()) - 1))];
  }
};

const std::vector<std::string> kClusters = {"yarn-a", "yarn-b", "yarn-c"};
const std::vector<JobStatus> kStatuses = {
    JobStatus::kInitializing, JobStatus::kCreated,    JobStatus::kRunning,    JobStatus::kFailing,
    JobStatus::kFailed,       JobStatus::kCancelling, JobStatus::kCanceled,   JobStatus::kFinished,
    JobStatus::kRestarting,   JobStatus::kSuspended,  JobStatus::kReconciling};
const std::vector<Severity> kSeverities = {Severity::kInfo, Severity::kWarning,
                                           Severity::kCritical};
const std::vector<Strategy> kStrategies = {Strategy::kCheckpoint, Strategy::kSavepoint,
                                           Strategy::kFresh};
const std::vector<RecoveryAttempt::Outcome> kOutcomes = {
    RecoveryAttempt::Outcome::kInProgress, RecoveryAttempt::Outcome::kSucceeded,
    RecoveryAttempt::Outcome::kFailed, RecoveryAttempt::Outcome::kDidNotStick};

Scenario Generate(std::uint64_t seed) {
  Gen g(seed);
  Scenario s;
  s.now = kT0;
  for (const std::string& c : kClusters) s.clusters.push_back(Cluster(c, kT0, g.Chance(93)));
  s.settings.max_concurrent_recoveries = static_cast<int>(g.Int(0, 4));
  s.settings.dry_run = g.Chance(20);
  s.loop_late = g.Chance(4);
  std::int64_t next_id = 1;
  const std::int64_t jobs = g.Int(1, 6);
  for (std::int64_t j = 0; j < jobs; ++j) {
    const std::string name = "job" + std::to_string(j);
    RecoveryPolicy policy;
    policy.allow_fresh_state = g.Chance(40);
    policy.allow_non_restored_state = g.Chance(30);
    policy.max_recoveries = static_cast<int>(g.Int(0, 5));
    policy.window_ms = g.Int(10, 120) * kMin;
    if (g.Chance(50)) policy.max_checkpoint_age_ms = g.Int(1, 6) * kHour;
    policy.cooldown_ms = g.Int(0, 10) * kMin;
    policy.stable_after_ms = g.Int(1, 10) * kMin;
    policy.stop_with_savepoint = g.Chance(40);
    if (g.Chance(92)) s.catalog.push_back(Job(name, g.Pick(kClusters), policy));

    std::vector<std::string> ids;
    const std::int64_t instances = g.Int(0, 3);
    for (std::int64_t i = 0; i < instances; ++i) {
      const std::string id = name + "-i" + std::to_string(i);
      ids.push_back(id);
      const JobStatus status = g.Chance(30) ? JobStatus::kRunning : g.Pick(kStatuses);
      JobSnapshot snap = Instance(name, g.Pick(kClusters), id, status,
                                  kT0 - (g.Chance(10) ? 3 : 0) * kMin, g.Chance(50));
      if (g.Chance(6)) snap.status.MarkStale("timed out");
      if (g.Chance(3)) snap.status.SetUnknown("never answered");
      if (g.Chance(30)) {
        CheckpointSettings cs;
        cs.retained_on_cancel = g.Chance(50);
        snap.checkpoint_settings.SetFresh(cs, kT0);
      }
      if (g.Chance(30)) {
        RestorePoint p =
            Point(g.Chance(70) ? RestorePoint::Kind::kCheckpoint : RestorePoint::Kind::kSavepoint,
                  next_id++, kT0 - g.Int(0, 90) * kMin);
        p.discarded = g.Chance(20);
        snap.last_checkpoint.SetFresh(p, kT0);
      }
      s.snapshots.push_back(snap);
    }
    ids.emplace_back("");

    std::vector<std::string> paths = {""};
    const std::int64_t points = g.Int(0, 6);
    for (std::int64_t i = 0; i < points; ++i) {
      RestorePoint p =
          Point(g.Chance(60) ? RestorePoint::Kind::kCheckpoint : RestorePoint::Kind::kSavepoint,
                next_id++, kT0 - g.Int(0, 480) * kMin);
      p.discarded = g.Chance(25);
      if (g.Chance(20)) {
        p.addressable = false;
        p.path = "<checkpoint-not-externally-addressable>";
      }
      if (g.Chance(5)) p.completed_ms = 0;
      KnownRestorePoint k = Known(name, p, g.Pick(ids), g.Pick(kClusters));
      k.failed_restore = g.Chance(15);
      paths.push_back(p.path);
      s.points.push_back(k);
    }

    const std::int64_t attempts = g.Int(0, 3);
    for (std::int64_t i = 0; i < attempts; ++i) {
      const std::int64_t started = kT0 - g.Int(0, 90) * kMin;
      std::optional<std::int64_t> ended;
      if (g.Chance(85)) ended = started + g.Int(0, 5) * kMin;
      std::optional<std::int64_t> cooldown;
      if (g.Chance(60)) cooldown = g.Int(0, 20) * kMin;
      RecoveryAttempt::Outcome outcome = g.Pick(kOutcomes);
      if (outcome == RecoveryAttempt::Outcome::kInProgress && g.Chance(85)) {
        outcome = RecoveryAttempt::Outcome::kSucceeded;
      }
      s.attempts.push_back(Attempt(name + "-r" + std::to_string(i), name, started, ended,
                                   g.Pick(kStrategies), g.Pick(paths), outcome, cooldown));
    }

    const std::int64_t findings = g.Int(0, 3);
    for (std::int64_t i = 0; i < findings; ++i) {
      std::string cluster;
      std::string job_id;
      if (instances > 0 && g.Chance(85)) {
        const auto first = s.snapshots.end() - instances;
        const JobSnapshot& target = *(first + g.Int(0, instances - 1));
        cluster = target.cluster;
        job_id = target.job_id;
      }
      Finding f = Recover(name, cluster, job_id, kT0 - g.Int(0, 20) * kMin,
                          "rule" + std::to_string(g.Int(0, 3)), g.Pick(kSeverities));
      if (g.Chance(15)) f.action = Action::kAlert;
      s.findings.push_back(f);
    }
    if (g.Chance(10)) s.in_progress.push_back(name);
  }
  return s;
}

const CatalogJob* FindJob(const Scenario& s, const std::string& name) {
  for (const CatalogJob& j : s.catalog) {
    if (j.name == name) return &j;
  }
  return nullptr;
}

bool Reachable(const Scenario& s, const std::string& cluster) {
  for (const ClusterSnapshot& c : s.clusters) {
    if (c.name == cluster) return c.reachable;
  }
  return false;
}

// Every fact the planner was given about the point with this path: never a bad one.
void CheckUsable(const Scenario& s, const RecoveryPlan& plan, const RestorePoint& chosen,
                 const RecoveryPolicy& policy) {
  CHECK_FALSE(chosen.discarded);
  CHECK(chosen.addressable);
  CHECK_FALSE(chosen.path.empty());
  CHECK(chosen.path.front() != '<');
  const std::int64_t t = chosen.completed_ms > 0 ? chosen.completed_ms : chosen.trigger_ms;
  if (policy.max_checkpoint_age_ms) CHECK(s.now - t <= *policy.max_checkpoint_age_ms);
  bool known = false;
  for (const KnownRestorePoint& k : s.points) {
    if (k.point.path != chosen.path) continue;
    CHECK(k.job == plan.job);
    CHECK_FALSE(k.failed_restore);
    CHECK_FALSE(k.point.discarded);
    known = true;
  }
  for (const JobSnapshot& snap : s.snapshots) {
    for (const auto* o : {&snap.last_checkpoint, &snap.last_savepoint}) {
      if (o->known() && o->value->path == chosen.path) {
        CHECK(snap.name == plan.job);
        CHECK_FALSE(o->value->discarded);
        known = true;
      }
    }
  }
  CHECK(known);
}

void CheckInvariants(const Scenario& s, const PlanOutput& out) {
  std::set<std::string> busy(s.in_progress.begin(), s.in_progress.end());
  for (const RecoveryAttempt& a : s.attempts) {
    if (a.outcome == RecoveryAttempt::Outcome::kInProgress) busy.insert(a.job);
  }
  std::set<std::string> asked;
  for (const Finding& f : s.findings) {
    if (f.action == Action::kRecover) asked.insert(f.job);
  }

  CHECK(out.detected == static_cast<int>(asked.size()));
  CHECK(static_cast<int>(out.plans.size()) <=
        std::max(0, s.settings.max_concurrent_recoveries - static_cast<int>(busy.size())));
  if (s.loop_late) CHECK(out.plans.empty());

  std::set<std::string> answered;
  for (const RecoveryPlan& p : out.plans) {
    INFO("plan for ", p.job, ": ", p.reason);
    CHECK(answered.insert(p.job).second);
    CHECK(asked.count(p.job) == 1);
    CHECK(busy.count(p.job) == 0);
    const CatalogJob* job = FindJob(s, p.job);
    REQUIRE(job != nullptr);
    const RecoveryPolicy& policy = job->policy;

    // Never fresh state without the opt-in, never a bad restore point.
    if (!policy.allow_fresh_state) {
      CHECK(p.strategy != Strategy::kFresh);
      if (p.if_stop_fails) CHECK(p.if_stop_fails->strategy != Strategy::kFresh);
    }
    if (p.strategy == Strategy::kFresh) CHECK_FALSE(p.restore_point.has_value());
    if (p.restore_point) CheckUsable(s, p, *p.restore_point, policy);
    if (p.if_stop_fails && p.if_stop_fails->point) {
      CheckUsable(s, p, *p.if_stop_fails->point, policy);
    }
    if (!p.restore_from_stop_savepoint && p.strategy != Strategy::kFresh) {
      CHECK(p.restore_point.has_value());
    }
    if (p.allow_non_restored_state) CHECK(policy.allow_non_restored_state);

    // Steps: optional stop, then submit and verify.
    REQUIRE(p.steps.size() >= 2);
    CHECK(p.steps[p.steps.size() - 2] == StepKind::kSubmit);
    CHECK(p.steps.back() == StepKind::kVerify);
    CHECK(p.stop_job_id.empty() == (p.steps.size() == 2));
    if (p.restore_from_stop_savepoint) {
      CHECK(policy.stop_with_savepoint);
      CHECK(p.steps.front() == StepKind::kStopWithSavepoint);
    } else {
      CHECK_FALSE(p.if_stop_fails.has_value());
    }

    // Dedup and TILT: every other instance of the name is known to be terminal.
    CHECK(Reachable(s, p.cluster));
    for (const JobSnapshot& snap : s.snapshots) {
      if (snap.name != p.job) continue;
      const bool terminal = snap.status.known() && IsGloballyTerminal(*snap.status.value);
      if (terminal) continue;
      CHECK(snap.status.fresh());
      CHECK(snap.job_id == p.stop_job_id);
      CHECK(snap.cluster == p.cluster);
    }

    CHECK(p.dry_run == s.settings.dry_run);
    CHECK(p.cooldown_after_ms >= 0);
    CHECK(p.cooldown_after_ms <= s.settings.max_cooldown_ms);
    CHECK_FALSE(p.reason.empty());
  }

  int counted = 0;
  for (const auto& entry : out.not_enforced) counted += entry.second;
  CHECK(counted == static_cast<int>(out.refusals.size()));
  for (const Refusal& r : out.refusals) {
    INFO("refusal for ", r.job, ": ", r.reason);
    CHECK(answered.insert(r.job).second);
    CHECK_FALSE(r.reason.empty());
    if (r.page) {
      CHECK((r.cause == RefusalCause::kGaveUp || r.cause == RefusalCause::kNoRestorePoint ||
             r.cause == RefusalCause::kDuplicate));
    }
    // A late loop refuses everything it has not refused for a reason that needs no observation.
    if (s.loop_late) {
      CHECK((r.cause == RefusalCause::kUntrusted || r.cause == RefusalCause::kNotInCatalog ||
             r.cause == RefusalCause::kInProgress));
    }
  }
  CHECK(answered == asked);
}

UniformRandom Seeded(std::uint64_t seed) {
  auto engine = std::make_shared<std::mt19937_64>(seed);
  return [engine] {
    return static_cast<double>((*engine)() >> 11) * 0x1.0p-53;  // [0, 1)
  };
}

}  // namespace

TEST_CASE(
    "property: never fresh state without opt-in, never a bad restore point, never a "
    "second live instance, within the caps") {
  int plans = 0;
  int refusals = 0;
  for (std::uint64_t seed = 1; seed <= kRegions; ++seed) {
    INFO("seed ", seed);
    Scenario s = Generate(seed);
    Planner planner(Seeded(seed));
    PlanOutput out = planner.Plan(s.Input());
    CheckInvariants(s, out);
    plans += static_cast<int>(out.plans.size());
    refusals += static_cast<int>(out.refusals.size());
  }
  // The generator reaches both outcomes often enough for the checks above to mean something.
  CHECK(plans > kRegions / 10);
  CHECK(refusals > kRegions / 2);
}

TEST_CASE(
    "property: the same input and the same draws give the same output, whatever the "
    "order of the input") {
  for (std::uint64_t seed = 1; seed <= kRegions; ++seed) {
    INFO("seed ", seed);
    Scenario s = Generate(seed);
    Planner first(Seeded(seed));
    Planner second(Seeded(seed));
    const std::string expected = Describe(first.Plan(s.Input()));
    CHECK(Describe(second.Plan(s.Input())) == expected);

    std::mt19937_64 shuffle(seed);
    std::shuffle(s.findings.begin(), s.findings.end(), shuffle);
    std::shuffle(s.catalog.begin(), s.catalog.end(), shuffle);
    std::shuffle(s.snapshots.begin(), s.snapshots.end(), shuffle);
    std::shuffle(s.clusters.begin(), s.clusters.end(), shuffle);
    std::shuffle(s.points.begin(), s.points.end(), shuffle);
    std::shuffle(s.attempts.begin(), s.attempts.end(), shuffle);
    Planner shuffled(Seeded(seed));
    CHECK(Describe(shuffled.Plan(s.Input())) == expected);
  }
}

TEST_CASE("property: dry run changes nothing but the flag") {
  for (std::uint64_t seed = 1; seed <= kRegions; ++seed) {
    INFO("seed ", seed);
    Scenario s = Generate(seed);
    s.settings.dry_run = false;
    Planner live_planner(Seeded(seed));
    PlanOutput live = live_planner.Plan(s.Input());
    s.settings.dry_run = true;
    Planner dry_planner(Seeded(seed));
    PlanOutput dry = dry_planner.Plan(s.Input());
    for (RecoveryPlan& p : dry.plans) {
      CHECK(p.dry_run);
      p.dry_run = false;
    }
    CHECK(Describe(dry) == Describe(live));
  }
}
