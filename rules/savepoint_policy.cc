#include "rules/savepoint_policy.h"

#include <algorithm>

#include "rules/duration.h"
#include "rules/job_status.h"

namespace flinkguard {
namespace {

std::string Ago(std::int64_t ms) {
  return FormatDuration(std::chrono::milliseconds(std::max<std::int64_t>(0, ms)));
}

bool Usable(const KnownRestorePoint& p) {
  return !p.point.discarded && p.point.addressable && !p.failed_restore;
}

std::int64_t When(const RestorePoint& p) {
  return p.completed_ms != 0 ? p.completed_ms : p.trigger_ms;
}

}  // namespace

SavepointDue PeriodicSavepointDue(const SavepointPolicy& policy, const JobSnapshot& current,
                                  std::optional<std::int64_t> newest_savepoint_ms, bool busy,
                                  std::int64_t now_ms) {
  if (!policy.interval_ms) return {false, "no periodic savepoints configured"};
  const std::int64_t interval = *policy.interval_ms;
  if (!current.status.fresh() || !current.status.known() ||
      *current.status.value != JobStatus::kRunning) {
    return {false, "instance " + current.job_id + " is not RUNNING"};
  }
  if (!current.all_tasks_running.fresh() || !current.all_tasks_running.known() ||
      !*current.all_tasks_running.value) {
    return {false, "not every task of " + current.job_id + " is running"};
  }
  if (busy) return {false, "a recovery or savepoint of the job is under way"};
  if (newest_savepoint_ms) {
    const std::int64_t age = now_ms - *newest_savepoint_ms;
    if (age < interval) return {false, "newest savepoint is " + Ago(age) + " old"};
    return {true, "newest savepoint is " + Ago(age) + " old (interval " + Ago(interval) + ")"};
  }
  const std::int64_t uptime =
      current.uptime_ms.known() ? *current.uptime_ms.value : now_ms - current.start_time_ms;
  if (uptime < interval) {
    return {false, "no savepoint known; waiting for one interval of uptime (" + Ago(uptime) + ")"};
  }
  return {true, "no savepoint known and the job has run " + Ago(uptime)};
}

std::vector<KnownRestorePoint> SavepointsToForget(const std::vector<KnownRestorePoint>& points,
                                                  const std::string& job,
                                                  const SavepointPolicy& policy,
                                                  std::int64_t now_ms) {
  std::vector<const KnownRestorePoint*> savepoints;
  for (const KnownRestorePoint& p : points) {
    if (p.job == job && p.point.kind == RestorePoint::Kind::kSavepoint) savepoints.push_back(&p);
  }
  std::stable_sort(savepoints.begin(), savepoints.end(),
                   [](const KnownRestorePoint* a, const KnownRestorePoint* b) {
                     return When(a->point) > When(b->point);
                   });
  const KnownRestorePoint* newest_usable = nullptr;
  for (const KnownRestorePoint* p : savepoints) {
    if (Usable(*p)) {
      newest_usable = p;
      break;
    }
  }
  std::vector<KnownRestorePoint> out;
  for (std::size_t i = 0; i < savepoints.size(); ++i) {
    const KnownRestorePoint* p = savepoints[i];
    if (p == newest_usable) continue;
    const bool beyond_keep = i >= static_cast<std::size_t>(std::max(policy.keep, 0));
    const bool too_old = now_ms - When(p->point) > policy.max_age_ms;
    if (beyond_keep || too_old) out.push_back(*p);
  }
  return out;
}

DuplicateStops PlanDuplicateStops(const std::vector<JobSnapshot>& snapshots,
                                  const std::string& job) {
  DuplicateStops out;
  std::vector<const JobSnapshot*> live;
  for (const JobSnapshot& s : snapshots) {
    if (s.name != job) continue;
    if (s.status.known() && IsGloballyTerminal(*s.status.value)) continue;
    if (!s.status.fresh() || !s.status.known()) {
      out.reason = "instance " + s.job_id + " on " + s.cluster +
                   " has no fresh status; which instance is newest is not known, so none is "
                   "stopped";
      return out;
    }
    live.push_back(&s);
  }
  if (live.size() < 2) {
    out.reason = live.empty() ? "no live instance" : "one live instance";
    if (!live.empty()) out.keep = live.front();
    return out;
  }
  std::sort(live.begin(), live.end(), [](const JobSnapshot* a, const JobSnapshot* b) {
    if (a->start_time_ms != b->start_time_ms) return a->start_time_ms < b->start_time_ms;
    return a->job_id < b->job_id;
  });
  out.keep = live.back();
  out.stop.assign(live.begin(), live.end() - 1);
  out.reason = std::to_string(live.size()) + " live instances; keeping the newest, " +
               out.keep->job_id + " on " + out.keep->cluster + ", and stopping " +
               std::to_string(out.stop.size()) + " older with a savepoint";
  return out;
}

}  // namespace flinkguard
