#pragma once

// Builders for recovery-planner scenarios: one region with clusters yarn-a and yarn-b, times in
// epoch milliseconds around kT0.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rules/decision.h"
#include "rules/planner.h"
#include "rules/snapshot.h"

namespace flinkguard::planner_test {

inline constexpr std::int64_t kSec = 1'000;
inline constexpr std::int64_t kMin = 60 * kSec;
inline constexpr std::int64_t kHour = 60 * kMin;
inline constexpr std::int64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

inline ClusterSnapshot Cluster(std::string name, std::int64_t at, bool reachable = true) {
  ClusterSnapshot c;
  c.name = std::move(name);
  c.observed_at_ms = at;
  c.reachable = reachable;
  if (reachable) {
    c.last_ok_ms = at;
  } else {
    c.error = "connection refused";
    c.consecutive_failures = 3;
  }
  return c;
}

// A fresh instance observed at `at`.
inline JobSnapshot Instance(std::string name, std::string cluster, std::string job_id,
                            JobStatus status, std::int64_t at, bool all_tasks_running = true) {
  JobSnapshot s;
  s.name = std::move(name);
  s.cluster = std::move(cluster);
  s.job_id = std::move(job_id);
  s.observed_at_ms = at;
  s.status.SetFresh(status, at);
  s.status_text = JobStatusName(status);
  s.all_tasks_running.SetFresh(all_tasks_running, at);
  return s;
}

inline Finding Recover(std::string job, std::string cluster, std::string job_id, std::int64_t since,
                       std::string rule = "job-failed", Severity severity = Severity::kCritical) {
  Finding f;
  f.rule = std::move(rule);
  f.job = std::move(job);
  f.cluster = std::move(cluster);
  f.job_id = std::move(job_id);
  f.severity = severity;
  f.action = Action::kRecover;
  f.firing_since_ms = since;
  f.reason = "status == FAILED";
  return f;
}

inline RestorePoint Point(RestorePoint::Kind kind, std::int64_t id, std::int64_t completed_ms) {
  RestorePoint p;
  p.kind = kind;
  p.id = id;
  p.path = std::string(kind == RestorePoint::Kind::kCheckpoint ? "s3://ckpt/ads/chk-"
                                                               : "s3://sp/ads/savepoint-") +
           std::to_string(id);
  p.trigger_ms = completed_ms - 2 * kSec;
  p.completed_ms = completed_ms;
  return p;
}

inline KnownRestorePoint Known(std::string job, RestorePoint p, std::string job_id = "j1",
                               std::string cluster = "yarn-a") {
  KnownRestorePoint k;
  k.job = std::move(job);
  k.cluster = std::move(cluster);
  k.job_id = std::move(job_id);
  k.point = std::move(p);
  return k;
}

inline KnownRestorePoint Checkpoint(std::string job, std::int64_t id, std::int64_t completed_ms,
                                    std::string job_id = "j1") {
  return Known(std::move(job), Point(RestorePoint::Kind::kCheckpoint, id, completed_ms),
               std::move(job_id));
}

inline KnownRestorePoint Savepoint(std::string job, std::int64_t id, std::int64_t completed_ms,
                                   std::string job_id = "j1") {
  return Known(std::move(job), Point(RestorePoint::Kind::kSavepoint, id, completed_ms),
               std::move(job_id));
}

inline RecoveryAttempt Attempt(std::string id, std::string job, std::int64_t started,
                               std::optional<std::int64_t> ended, Strategy strategy,
                               std::string path, RecoveryAttempt::Outcome outcome,
                               std::optional<std::int64_t> cooldown = std::nullopt) {
  RecoveryAttempt a;
  a.id = std::move(id);
  a.job = std::move(job);
  a.started_ms = started;
  a.ended_ms = ended;
  a.strategy = strategy;
  a.restore_path = std::move(path);
  a.outcome = outcome;
  a.cooldown_ms = cooldown;
  return a;
}

inline CatalogJob Job(std::string name, std::string home = "yarn-a", RecoveryPolicy policy = {}) {
  return CatalogJob{std::move(name), std::move(home), policy};
}

// Owns everything a PlanInput views.
struct Scenario {
  std::int64_t now = kT0;
  PlannerSettings settings;
  std::vector<Finding> findings;
  std::vector<CatalogJob> catalog;
  std::vector<JobSnapshot> snapshots;
  std::vector<ClusterSnapshot> clusters;
  std::vector<KnownRestorePoint> points;
  std::vector<RecoveryAttempt> attempts;
  std::vector<std::string> in_progress;
  bool loop_late = false;
  std::string loop_late_reason;

  PlanInput Input() const {
    PlanInput in;
    in.now_ms = now;
    in.settings = settings;
    in.findings = findings;
    in.catalog = catalog;
    in.snapshots = snapshots;
    in.clusters = clusters;
    in.restore_points = points;
    in.attempts = attempts;
    in.in_progress = in_progress;
    in.loop_late = loop_late;
    in.loop_late_reason = loop_late_reason;
    return in;
  }

  // Observes every instance and cluster again at `t` (a new cycle), and moves now there.
  void At(std::int64_t t) {
    now = t;
    for (JobSnapshot& s : snapshots) {
      s.observed_at_ms = t;
      if (s.status.fresh()) s.status.observed_at_ms = t;
    }
    for (ClusterSnapshot& c : clusters) {
      c.observed_at_ms = t;
      if (c.reachable) c.last_ok_ms = t;
    }
  }
};

// The usual start: job "ads" (home yarn-a) FAILED on yarn-a at kT0 - 1m, job-failed firing since
// then, both clusters answering, no restore points yet.
inline Scenario FailedAds(RecoveryPolicy policy = {}) {
  Scenario s;
  s.catalog = {Job("ads", "yarn-a", policy)};
  s.clusters = {Cluster("yarn-a", kT0), Cluster("yarn-b", kT0)};
  s.snapshots = {Instance("ads", "yarn-a", "j1", JobStatus::kFailed, kT0)};
  s.findings = {Recover("ads", "yarn-a", "j1", kT0 - kMin)};
  return s;
}

// A random source that always returns `u` (0.5 = no jitter).
inline UniformRandom Fixed(double u) {
  return [u] { return u; };
}

// Everything a PlanOutput says, one line per plan or refusal, for comparing two outputs.
inline std::string Describe(const PlanOutput& out) {
  std::string d = "detected " + std::to_string(out.detected) + "\n";
  auto choice = [](Strategy st, const std::optional<RestorePoint>& p) {
    return std::string(StrategyName(st)) + ":" + (p ? p->path : std::string("-"));
  };
  for (const RecoveryPlan& p : out.plans) {
    d += "plan " + p.job + " @" + p.cluster + " stop=" + p.stop_job_id + " " +
         choice(p.strategy, p.restore_point) +
         " anrs=" + std::to_string(p.allow_non_restored_state) + " steps=";
    for (StepKind k : p.steps) d += std::string(StepKindName(k)) + ",";
    d += " dry=" + std::to_string(p.dry_run) + " sev=" + SeverityName(p.severity) +
         " from_stop=" + std::to_string(p.restore_from_stop_savepoint) + " fallback=" +
         (p.if_stop_fails ? choice(p.if_stop_fails->strategy, p.if_stop_fails->point) : "-") +
         " cooldown=" + std::to_string(p.cooldown_after_ms) + " esc=" + p.escalates_attempt_id +
         " | " + p.reason + "\n";
  }
  for (const Refusal& r : out.refusals) {
    d += "refuse " + r.job + " " + RefusalCauseName(r.cause) + " page=" + std::to_string(r.page) +
         " | " + r.reason + "\n";
  }
  for (const auto& [cause, n] : out.not_enforced) {
    d += std::string("not-enforced ") + RefusalCauseName(cause) + "=" + std::to_string(n) + "\n";
  }
  return d;
}

}  // namespace flinkguard::planner_test
