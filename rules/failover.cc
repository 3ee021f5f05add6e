#include "rules/failover.h"

#include <algorithm>

#include "rules/duration.h"
#include "rules/job_status.h"

namespace flinkguard {
namespace {

std::string Secs(std::int64_t ms) {
  return FormatDuration(std::chrono::milliseconds(std::max<std::int64_t>(0, ms)));
}

bool LiveFresh(const JobSnapshot& s) {
  return s.status.fresh() && s.status.known() && !IsGloballyTerminal(*s.status.value);
}

const ClusterSnapshot* FindCluster(const std::vector<ClusterSnapshot>& clusters,
                                   const std::string& name) {
  for (const ClusterSnapshot& c : clusters) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

bool IsDown(const ClusterSnapshot& c, const FailoverSettings& s, std::int64_t now) {
  if (c.reachable || c.consecutive_failures < s.down_after_polls) return false;
  return c.last_ok_ms == 0 || now - c.last_ok_ms >= s.down_after_ms;
}

std::int64_t When(const RestorePoint& p) {
  return p.completed_ms != 0 ? p.completed_ms : p.trigger_ms;
}

std::string JoinWith(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// A job living on backup `lives` goes home when home has answered every poll for
// failback_after, the job has lived on the backup as long, runs there healthy (one instance,
// RUNNING, every task running), home has the slots, and its newest restore point is on shared
// storage (the savepoint the stop takes is written next to it; home must read it).
std::optional<FailoverMove> PlanFailback(const FailoverInput& in, const FailoverJob& job,
                                         const std::string& lives,
                                         const std::vector<const JobSnapshot*>& live,
                                         const std::set<std::string>& down) {
  const FailoverSettings& set = in.settings;
  const std::int64_t after = *set.failback_after_ms;
  const ClusterSnapshot* home = FindCluster(in.clusters, job.home);
  if (home == nullptr || down.count(job.home) != 0 || !home->reachable ||
      !home->capacity.fresh() || home->capacity.value->slots_available < job.slots) {
    return std::nullopt;
  }
  auto up = in.up_since.find(job.home);
  if (up == in.up_since.end() || in.now_ms - up->second < after) return std::nullopt;
  auto since = in.placed_since.find(job.name);
  if (since != in.placed_since.end() && in.now_ms - since->second < after) return std::nullopt;
  if (live.size() != 1) return std::nullopt;
  const JobSnapshot& s = *live.front();
  if (s.cluster != lives || *s.status.value != JobStatus::kRunning ||
      !s.all_tasks_running.fresh() || !s.all_tasks_running.value.value_or(false)) {
    return std::nullopt;
  }
  // Every other instance of the job is known to be over (none stale, none live at home).
  for (const JobSnapshot& o : in.snapshots) {
    if (o.name != job.name || &o == &s) continue;
    if (!o.status.known() || !IsGloballyTerminal(*o.status.value)) return std::nullopt;
  }
  const KnownRestorePoint* newest = nullptr;
  for (const KnownRestorePoint& p : in.points) {
    if (p.job != job.name || p.point.discarded || !p.point.addressable) continue;
    if (newest == nullptr || When(p.point) > When(newest->point)) newest = &p;
  }
  if (newest == nullptr || !OnSharedStorage(newest->point.path, set.shared_schemes)) {
    return std::nullopt;
  }
  RecoveryPlan plan;
  plan.job = job.name;
  plan.cluster = job.home;
  plan.stop_job_id = s.job_id;
  plan.strategy = Strategy::kSavepoint;
  plan.restore_from_stop_savepoint = true;
  plan.allow_non_restored_state = job.allow_non_restored_state;
  plan.steps = {StepKind::kStopWithSavepoint, StepKind::kWaitTerminal, StepKind::kSubmit,
                StepKind::kVerify};
  plan.severity = Severity::kInfo;
  plan.rules = {"failback"};
  plan.dry_run = set.dry_run;
  plan.reason = "failback: " + job.home + " has answered every poll for " +
                Secs(in.now_ms - up->second) + " (failback_after " + Secs(after) + "): " +
                "stop-with-savepoint of " + s.job_id + " on " + lives + ", then submit on " +
                job.home + " from that savepoint; if the savepoint fails, " + job.name +
                " keeps running on " + lives;
  return FailoverMove{std::move(plan), lives};
}

}  // namespace

bool OnSharedStorage(const std::string& path, const std::set<std::string>& shared_schemes) {
  const std::size_t colon = path.find(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string scheme = path.substr(0, colon);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return shared_schemes.count(scheme) != 0;
}

FailoverOutput PlanFailovers(const FailoverInput& in) {
  FailoverOutput out;
  const FailoverSettings& set = in.settings;
  std::set<std::string> down;
  for (const ClusterSnapshot& c : in.clusters) {
    if (IsDown(c, set, in.now_ms)) down.insert(c.name);
  }
  out.down.assign(down.begin(), down.end());
  int budget = std::max(0, set.max_concurrent - in.in_flight);

  for (const FailoverJob& job : in.jobs) {
    auto placed = in.placement.find(job.name);
    const std::string lives = placed != in.placement.end() ? placed->second : job.home;
    std::vector<const JobSnapshot*> live;
    for (const JobSnapshot& s : in.snapshots) {
      if (s.name == job.name && LiveFresh(s)) live.push_back(&s);
    }
    const bool busy = in.busy.count(job.name) != 0;

    // A copy running where the job no longer lives while the job runs where it lives: stale.
    // Only for jobs with a recorded placement (a failover or a move happened): without one, two
    // live copies are plain duplicates, handled by the duplicate policy, never guessed at here.
    const bool runs_where_it_lives = std::any_of(
        live.begin(), live.end(), [&](const JobSnapshot* s) { return s->cluster == lives; });
    if (placed != in.placement.end() && runs_where_it_lives && !busy) {
      bool stale = false;
      for (const JobSnapshot* s : live) {
        if (s->cluster == lives) continue;
        StaleCancel sc;
        sc.lives_on = lives;
        sc.plan.job = job.name;
        sc.plan.cluster = s->cluster;
        sc.plan.stop_job_id = s->job_id;
        sc.plan.stop_only = true;
        sc.plan.steps = {StepKind::kCancel, StepKind::kWaitTerminal};
        sc.plan.severity = Severity::kCritical;
        sc.plan.rules = {"failover"};
        sc.plan.dry_run = set.dry_run;
        sc.plan.reason = "stale copy " + s->job_id + " on " + s->cluster + " (" +
                         JobStatusName(*s->status.value) + ") while " + job.name + " lives on " +
                         lives + " since a failover: cancelled, not savepointed, so it cannot "
                         "write over the new instance's output";
        out.stale.push_back(std::move(sc));
        stale = true;
        break;  // one at a time per job
      }
      if (!stale && lives != job.home && set.failback_after_ms) {
        if (auto fb = PlanFailback(in, job, lives, live, down); fb) {
          if (budget > 0) {
            --budget;
            out.failbacks.push_back(std::move(*fb));
          } else {
            out.refusals.push_back(Refusal{job.name,
                                           "failback of " + job.name + " to " + job.home +
                                               " waits; the cap of " +
                                               std::to_string(set.max_concurrent) +
                                               " failovers at once is reached",
                                           false, RefusalCause::kBlastRadius});
          }
        }
      }
      continue;
    }
    if (down.count(lives) == 0 || busy) continue;
    if (!live.empty()) {
      // Already running elsewhere (started by a person, or a failover whose placement was not
      // recorded): nothing to move.
      continue;
    }
    // Where to: the home cluster and the backups in order, other than the down one.
    std::vector<std::string> order = {job.home};
    order.insert(order.end(), job.failover.begin(), job.failover.end());
    std::string target;
    std::vector<std::string> why_not;
    for (const std::string& name : order) {
      if (name == lives) continue;
      const ClusterSnapshot* c = FindCluster(in.clusters, name);
      if (c == nullptr) {
        why_not.push_back(name + ": not observed");
      } else if (!c->reachable) {
        why_not.push_back(name + ": not answering");
      } else if (!c->capacity.fresh() || !c->capacity.value) {
        why_not.push_back(name + ": free slots unknown");
      } else if (c->capacity.value->slots_available < job.slots) {
        why_not.push_back(name + ": " + std::to_string(c->capacity.value->slots_available) +
                          " free slots of " +
                          std::to_string(job.slots) + " needed");
      } else {
        target = name;
        break;
      }
    }
    const std::string head = "cluster " + lives + " is down";
    if (target.empty()) {
      out.refusals.push_back(
          Refusal{job.name,
                  head + " and no backup cluster can take " + job.name +
                      (why_not.empty() ? std::string(" (none configured)")
                                       : " (" + JoinWith(why_not, "; ") + ")"),
                  true, RefusalCause::kNoRestorePoint});
      continue;
    }
    // From what: the newest usable point on shared storage.
    const KnownRestorePoint* best = nullptr;
    const KnownRestorePoint* newest_local = nullptr;
    for (const KnownRestorePoint& p : in.points) {
      if (p.job != job.name || p.failed_restore || p.point.discarded || !p.point.addressable) {
        continue;
      }
      if (job.max_checkpoint_age_ms && in.now_ms - When(p.point) > *job.max_checkpoint_age_ms) {
        continue;
      }
      if (!OnSharedStorage(p.point.path, set.shared_schemes)) {
        if (newest_local == nullptr || When(p.point) > When(newest_local->point)) newest_local = &p;
        continue;
      }
      if (best == nullptr || When(p.point) > When(best->point)) best = &p;
    }
    RecoveryPlan plan;
    plan.job = job.name;
    plan.cluster = target;
    plan.presumed_down = {lives};
    plan.steps = {StepKind::kSubmit, StepKind::kVerify};
    plan.severity = Severity::kCritical;
    plan.rules = {"failover"};
    plan.dry_run = set.dry_run;
    const std::string silent = [&] {
      const ClusterSnapshot* c = FindCluster(in.clusters, lives);
      if (c == nullptr || c->last_ok_ms == 0) return std::string(" (never answered)");
      return " (no answer for " + Secs(in.now_ms - c->last_ok_ms) + ", " +
             std::to_string(c->consecutive_failures) + " polls)";
    }();
    if (best != nullptr) {
      plan.strategy = best->point.kind == RestorePoint::Kind::kSavepoint ? Strategy::kSavepoint
                                                                        : Strategy::kCheckpoint;
      plan.restore_point = best->point;
      plan.reason = head + silent + ": moving " + job.name + " to " + target + " from " +
                    (best->point.kind == RestorePoint::Kind::kSavepoint ? "savepoint " : "checkpoint ") +
                    best->point.path + ", the newest restore point on shared storage";
    } else if (job.allow_fresh_state) {
      plan.strategy = Strategy::kFresh;
      plan.reason = head + silent + ": moving " + job.name + " to " + target +
                    " with fresh state (no restore point on shared storage; the policy allows it)";
    } else {
      out.refusals.push_back(Refusal{
          job.name,
          head + silent + " and " + job.name + " has no restore point on shared storage" +
              (newest_local != nullptr ? " (its newest, " + newest_local->point.path +
                                             ", is on storage only " + lives + " can read)"
                                       : "") +
              "; fresh state is not allowed, so it is not started on " + target,
          true, RefusalCause::kNoRestorePoint});
      continue;
    }
    if (budget <= 0) {
      out.refusals.push_back(Refusal{job.name,
                                     head + ": failover of " + job.name +
                                         " waits; the cap of " +
                                         std::to_string(set.max_concurrent) +
                                         " failovers at once is reached",
                                     false, RefusalCause::kBlastRadius});
      continue;
    }
    --budget;
    out.moves.push_back(FailoverMove{std::move(plan), lives});
  }
  return out;
}

}  // namespace flinkguard
