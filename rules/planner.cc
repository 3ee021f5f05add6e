#include "rules/planner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>

#include "rules/duration.h"
#include "rules/job_status.h"

namespace flinkguard {
namespace {

// A reason names at most this many skipped restore points; the rest are counted.
constexpr std::size_t kMaxSkippedNamed = 5;

std::string Human(std::int64_t ms) {
  if (ms >= 1000) ms -= ms % 1000;  // seconds are precise enough for a person
  return FormatDuration(Duration(ms));
}

const char* KindName(RestorePoint::Kind k) {
  return k == RestorePoint::Kind::kCheckpoint ? "checkpoint" : "savepoint";
}

std::string Label(const RestorePoint& p) {
  return (p.kind == RestorePoint::Kind::kCheckpoint ? "chk-" : "sp-") + std::to_string(p.id);
}

// When a point's state was taken: completion when known, else its trigger.
std::int64_t PointTime(const RestorePoint& p) {
  return p.completed_ms > 0 ? p.completed_ms : p.trigger_ms;
}

bool Addressable(const RestorePoint& p) {
  return p.addressable && !p.path.empty() && p.path.front() != '<';
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

bool IsLive(const JobSnapshot& s) {
  return s.status.known() && !IsGloballyTerminal(*s.status.value);
}

std::string StatusText(const JobSnapshot& s) {
  if (s.status.known()) return JobStatusName(*s.status.value);
  return s.status_text.empty() ? "status unknown" : s.status_text;
}

std::string InstanceText(const JobSnapshot& s) {
  return StatusText(s) + " instance " + s.job_id + " on " + s.cluster;
}

// Everything the planner looks at for one job name.
struct JobCase {
  std::string name;
  const CatalogJob* catalog = nullptr;
  std::vector<const Finding*> findings;
  std::vector<const JobSnapshot*> instances;
  std::vector<const RecoveryAttempt*> attempts;  // oldest first
  std::vector<const KnownRestorePoint*> points;
  Severity severity = Severity::kInfo;
  std::vector<std::string> rules;  // sorted, unique
  std::int64_t first_fired_ms = 0;
  std::int64_t last_fired_ms = 0;  // the newest firing_since of the job's recovery findings
};

// A restore point with what the ladder found wrong with it.
struct Candidate {
  RestorePoint point;
  std::string job_id;
  bool failed_restore = false;
  std::vector<std::string> skipped;  // empty = usable
};

// A recovery in the window that did not stick: its point, and the points its short-lived run
// produced, descend from state that failed again.
struct Unstuck {
  const RecoveryAttempt* attempt = nullptr;
  std::int64_t until_ms = 0;  // the run it started counts as unstable until then
};

struct LadderResult {
  std::optional<RestoreChoice> choice;  // absent: nothing usable and fresh not possible
  std::string text;
};

// Candidates of the job from history and from this cycle's snapshots, merged by identity (the
// history entry wins: it carries failed_restore), newest first.
std::vector<Candidate> CollectCandidates(const JobCase& c) {
  std::vector<Candidate> out;
  auto same = [](const RestorePoint& a, const RestorePoint& b) {
    if (Addressable(a) && Addressable(b)) return a.path == b.path;
    return a.kind == b.kind && a.id == b.id && a.trigger_ms == b.trigger_ms;
  };
  auto add = [&](const RestorePoint& p, const std::string& job_id, bool failed) {
    for (Candidate& have : out) {
      if (same(have.point, p)) {
        // Flink may discard a point after history recorded it: keep the worse news.
        have.point.discarded = have.point.discarded || p.discarded;
        have.failed_restore = have.failed_restore || failed;
        if (have.job_id.empty()) have.job_id = job_id;
        return;
      }
    }
    out.push_back(Candidate{p, job_id, failed, {}});
  };
  for (const KnownRestorePoint* k : c.points) add(k->point, k->job_id, k->failed_restore);
  for (const JobSnapshot* s : c.instances) {
    if (s->last_checkpoint.known()) add(*s->last_checkpoint.value, s->job_id, false);
    if (s->last_savepoint.known()) add(*s->last_savepoint.value, s->job_id, false);
  }
  std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    // Newest first; at equal time a savepoint (self-contained) before a checkpoint.
    auto key = [](const Candidate& x) {
      return std::make_tuple(PointTime(x.point), x.point.kind == RestorePoint::Kind::kSavepoint,
                             x.point.id);
    };
    if (key(a) != key(b)) return key(a) > key(b);
    return a.point.path < b.point.path;
  });
  return out;
}

// The ladder: the newest usable checkpoint or savepoint, else fresh state when the policy allows
// it. `cancel_deletes_job_id`: the plan cancels this instance, and its checkpoints are not
// retained on cancellation, so they cannot be restored from afterwards.
LadderResult Ladder(std::vector<Candidate> cands, const JobCase& c,
                    const std::vector<Unstuck>& unstuck, const std::string& cancel_deletes_job_id,
                    std::int64_t now_ms) {
  const RecoveryPolicy& policy = c.catalog->policy;
  bool fresh_did_not_stick = false;
  std::string fresh_attempt;
  for (const Unstuck& u : unstuck) {
    if (u.attempt->strategy == Strategy::kFresh) {
      fresh_did_not_stick = true;
      fresh_attempt = u.attempt->id;
    }
  }
  for (Candidate& k : cands) {
    const RestorePoint& p = k.point;
    if (p.discarded) k.skipped.emplace_back("discarded");
    if (!Addressable(p)) k.skipped.emplace_back("not externally addressable");
    if (policy.max_checkpoint_age_ms) {
      if (PointTime(p) <= 0) {
        k.skipped.emplace_back("age unknown");
      } else if (now_ms - PointTime(p) > *policy.max_checkpoint_age_ms) {
        k.skipped.push_back("older than max_checkpoint_age " +
                            Human(*policy.max_checkpoint_age_ms) + " (" +
                            Human(now_ms - PointTime(p)) + " old)");
      }
    }
    if (k.failed_restore) k.skipped.emplace_back("failed to restore before");
    for (const Unstuck& u : unstuck) {
      if (!p.path.empty() && p.path == u.attempt->restore_path) {
        k.skipped.push_back("restored by recovery " + u.attempt->id + " that did not stick");
      } else if (PointTime(p) >= u.attempt->started_ms && PointTime(p) < u.until_ms) {
        k.skipped.push_back("taken during recovery " + u.attempt->id + " that did not stick");
      }
    }
    if (!cancel_deletes_job_id.empty() && p.kind == RestorePoint::Kind::kCheckpoint &&
        k.job_id == cancel_deletes_job_id) {
      k.skipped.push_back("would be deleted when instance " + cancel_deletes_job_id +
                          " is cancelled (not retained on cancellation)");
    }
  }

  const Candidate* chosen = nullptr;
  std::vector<std::string> parts;
  std::size_t skipped_before = 0;
  for (const Candidate& k : cands) {
    if (k.skipped.empty()) {
      chosen = &k;
      break;
    }
    if (skipped_before < kMaxSkippedNamed) {
      parts.push_back(std::string(KindName(k.point.kind)) + " " + Label(k.point) +
                      " skipped: " + Join(k.skipped, ", "));
    }
    ++skipped_before;
  }
  if (skipped_before > kMaxSkippedNamed) {
    parts.push_back(std::to_string(skipped_before - kMaxSkippedNamed) +
                    " more restore points skipped");
  }

  LadderResult r;
  if (chosen != nullptr) {
    const Candidate* other = nullptr;
    for (const Candidate& k : cands) {
      if (k.skipped.empty() && k.point.kind != chosen->point.kind) {
        other = &k;
        break;
      }
    }
    std::string why;
    if (other == nullptr) {
      why = std::string("no usable ") +
            (chosen->point.kind == RestorePoint::Kind::kCheckpoint ? "savepoint" : "checkpoint");
    } else if (PointTime(other->point) < PointTime(chosen->point)) {
      why = "newer than " + Label(other->point);
    } else {
      why = "as recent as " + Label(other->point) + "; a savepoint is preferred";
    }
    parts.push_back(std::string(KindName(chosen->point.kind)) + " " + Label(chosen->point) +
                    " chosen (" + why + ")");
    r.choice =
        RestoreChoice{chosen->point.kind == RestorePoint::Kind::kCheckpoint ? Strategy::kCheckpoint
                                                                            : Strategy::kSavepoint,
                      chosen->point};
  } else {
    parts.emplace_back(cands.empty() ? "no restore point known" : "no usable restore point");
    if (!policy.allow_fresh_state) {
      parts.emplace_back("fresh state not allowed by policy");
    } else if (fresh_did_not_stick) {
      parts.push_back("fresh state did not stick (recovery " + fresh_attempt + ")");
    } else {
      parts.emplace_back("fresh state (allowed by policy)");
      r.choice = RestoreChoice{Strategy::kFresh, std::nullopt};
    }
  }
  r.text = Join(parts, "; ");
  return r;
}

// The decision for one job before the blast-radius cap and jitter.
struct Decision {
  std::optional<RecoveryPlan> plan;
  std::optional<Refusal> refusal;
  std::int64_t episode = 0;  // for paging refusals: what makes a repeat the same episode
  int recent = 0;            // recoveries of the job within its window (for the backoff)
};

Decision Refuse(const JobCase& c, RefusalCause cause, std::string reason, bool page = false,
                std::int64_t episode = 0) {
  Decision d;
  d.refusal = Refusal{c.name, std::move(reason), page, cause};
  d.episode = episode;
  return d;
}

std::int64_t Backoff(std::int64_t base_ms, int recoveries, std::int64_t cap_ms) {
  const int exponent = std::clamp(recoveries - 1, 0, 40);
  const double v =
      static_cast<double>(std::max<std::int64_t>(base_ms, 0)) * std::ldexp(1.0, exponent);
  return v >= static_cast<double>(cap_ms) ? cap_ms : static_cast<std::int64_t>(v);
}

const ClusterSnapshot* FindCluster(std::span<const ClusterSnapshot> clusters,
                                   const std::string& name) {
  for (const ClusterSnapshot& k : clusters) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

// Why the agent's view of a cluster cannot be acted on; "" when it can.
std::string ClusterDistrust(std::span<const ClusterSnapshot> clusters, const std::string& name) {
  const ClusterSnapshot* k = FindCluster(clusters, name);
  if (k == nullptr) return "cluster " + name + " not observed";
  if (!k->reachable) {
    return "cluster " + name + " unreachable" + (k->error.empty() ? "" : " (" + k->error + ")");
  }
  return "";
}

bool NamedByFinding(const JobCase& c, const JobSnapshot& s) {
  for (const Finding* f : c.findings) {
    if (!f->job_id.empty() && f->job_id == s.job_id && f->cluster == s.cluster) return true;
  }
  return false;
}

Decision Decide(const JobCase& c, const PlanInput& in, const std::set<std::string>& in_progress) {
  const std::int64_t now = in.now_ms;

  // 1. Only catalog jobs can be resubmitted.
  if (c.catalog == nullptr) {
    return Refuse(c, RefusalCause::kNotInCatalog,
                  "not in the catalog: flinkguard has nothing to resubmit");
  }
  const RecoveryPolicy& policy = c.catalog->policy;

  // 2. Single flight.
  for (const RecoveryAttempt* a : c.attempts) {
    if (a->outcome == RecoveryAttempt::Outcome::kInProgress) {
      return Refuse(c, RefusalCause::kInProgress, "recovery " + a->id + " is already in progress");
    }
  }
  if (in_progress.count(c.name) != 0) {
    return Refuse(c, RefusalCause::kInProgress, "a recovery is already in progress");
  }

  // 3. TILT: act only on what was observed, recently, on clusters that answer. An instance whose
  // last status was globally terminal cannot have come back by itself, however old that news;
  // any other stale or unknown instance might be live.
  if (in.loop_late) {
    return Refuse(c, RefusalCause::kUntrusted,
                  "TILT: the loop ran late" +
                      (in.loop_late_reason.empty() ? "" : " (" + in.loop_late_reason + ")"));
  }
  std::vector<std::string> presumed_down;
  for (const JobSnapshot* s : c.instances) {
    if (s->status.known() && IsGloballyTerminal(*s->status.value)) continue;
    if (!s->status.fresh() &&
        std::any_of(in.departed.begin(), in.departed.end(), [&](const DepartedCopy& d) {
          return d.job == c.name && d.cluster == s->cluster;
        })) {
      presumed_down.push_back(s->cluster);
      continue;
    }
    if (!s->status.fresh()) {
      return Refuse(c, RefusalCause::kUntrusted,
                    "TILT: status of instance " + s->job_id + " on " + s->cluster + " is " +
                        FreshnessName(s->status.freshness) +
                        (s->status.why.empty() ? "" : " (" + s->status.why + ")"));
    }
    if (now - s->status.observed_at_ms > in.settings.max_status_age_ms) {
      return Refuse(c, RefusalCause::kUntrusted,
                    "TILT: status of instance " + s->job_id + " on " + s->cluster +
                        " was observed " + Human(now - s->status.observed_at_ms) + " ago");
    }
    std::string distrust = ClusterDistrust(in.clusters, s->cluster);
    if (!distrust.empty()) return Refuse(c, RefusalCause::kUntrusted, "TILT: " + distrust);
  }

  // 4. Give up after max_recoveries within the window.
  std::vector<const RecoveryAttempt*> recent;
  for (const RecoveryAttempt* a : c.attempts) {
    if (a->started_ms > now - policy.window_ms && a->started_ms <= now) recent.push_back(a);
  }
  const int n_recent = static_cast<int>(recent.size());
  if (n_recent >= policy.max_recoveries) {
    const std::int64_t episode = recent.empty() ? -1 : recent.back()->started_ms;
    return Refuse(c, RefusalCause::kGaveUp,
                  "gave up: " + std::to_string(n_recent) + " recoveries in the last " +
                      Human(policy.window_ms) + " (max_recoveries " +
                      std::to_string(policy.max_recoveries) + "); a person must look",
                  true, episode);
  }

  // 5. Cooldown after the previous recovery, growing with the recoveries before it.
  if (!c.attempts.empty()) {
    const RecoveryAttempt* last = c.attempts.back();
    std::int64_t cooldown = 0;
    if (last->cooldown_ms) {
      cooldown = *last->cooldown_ms;
    } else {
      int before = 0;
      for (const RecoveryAttempt* a : c.attempts) {
        if (a->started_ms > last->started_ms - policy.window_ms &&
            a->started_ms <= last->started_ms) {
          ++before;
        }
      }
      cooldown = Backoff(policy.cooldown_ms, before, in.settings.max_cooldown_ms);
    }
    const std::int64_t from = last->ended_ms.value_or(last->started_ms);
    // No cooldown means none, even when the observation this plan rests on is older than the
    // previous recovery's end.
    if (cooldown > 0 && now < from + cooldown) {
      return Refuse(c, RefusalCause::kCooldown,
                    "cooldown: " + Human(from + cooldown - now) + " left of " + Human(cooldown) +
                        " after recovery " + last->id);
    }
  }

  // 5b. Findings carried over from before the last recovery. A rule over a window (e.g.
  // increase(restarts, 10m)) keeps firing after a successful recovery while its window still
  // holds the old instance's samples. That is not the new instance failing: while every finding
  // began firing before the recovery ended and the instance it started runs with all tasks, wait.
  // A new firing, or the new instance not running well, goes on (and may escalate below).
  if (!c.attempts.empty()) {
    const RecoveryAttempt* last = c.attempts.back();
    if (last->outcome == RecoveryAttempt::Outcome::kSucceeded && last->ended_ms &&
        c.last_fired_ms < *last->ended_ms) {
      for (const JobSnapshot* s : c.instances) {
        if (!s->status.fresh() || *s->status.value != JobStatus::kRunning) continue;
        if (s->start_time_ms < last->started_ms) continue;
        if (!s->all_tasks_running.fresh() || !s->all_tasks_running.value.value_or(false)) continue;
        return Refuse(c, RefusalCause::kCooldown,
                      "settling: the rules firing for it began before recovery " + last->id +
                          " ended, and the instance it started (" + InstanceText(*s) +
                          ") runs with all tasks; waiting for them to resolve or fire anew");
      }
    }
  }

  // 6. Escalation: recoveries in the window that did not stick. The latest one did not stick
  // when the job asked for recovery again within stable_after of its end.
  std::vector<Unstuck> unstuck;
  std::string escalates;
  for (const RecoveryAttempt* a : recent) {
    const std::int64_t end = a->ended_ms.value_or(a->started_ms);
    const bool latest = a == c.attempts.back();
    const bool inferred = latest && a->outcome == RecoveryAttempt::Outcome::kSucceeded &&
                          a->ended_ms && c.first_fired_ms < end + policy.stable_after_ms;
    if (a->outcome == RecoveryAttempt::Outcome::kDidNotStick || inferred) {
      unstuck.push_back(Unstuck{a, end + policy.stable_after_ms});
      if (inferred) escalates = a->id;
    }
  }

  // 7. Deduplication: at most one live instance, and it must be the one a finding is about; it
  // is stopped before the submit.
  std::vector<const JobSnapshot*> live;
  for (const JobSnapshot* s : c.instances) {
    if (s->status.fresh() && IsLive(*s)) live.push_back(s);
  }
  const std::int64_t onset = c.first_fired_ms;
  if (live.size() > 1) {
    std::vector<std::string> names;
    names.reserve(live.size());
    for (const JobSnapshot* s : live) names.push_back(InstanceText(*s));
    return Refuse(c, RefusalCause::kDuplicate,
                  std::to_string(live.size()) + " live instances (" + Join(names, ", ") +
                      "); not planning until only one is left",
                  true, onset);
  }
  const JobSnapshot* stop = nullptr;
  if (live.size() == 1) {
    if (!NamedByFinding(c, *live.front())) {
      return Refuse(c, RefusalCause::kDuplicate,
                    "live " + InstanceText(*live.front()) +
                        " is not the instance that asked for recovery; not submitting a "
                        "duplicate");
    }
    stop = live.front();
  }

  // Where to submit: where the stopped instance runs; else where a finding's (terminal)
  // instance ran, the home cluster first; else home.
  std::string target = c.catalog->home_cluster;
  if (stop != nullptr) {
    target = stop->cluster;
  } else {
    std::vector<std::string> named;
    for (const JobSnapshot* s : c.instances) {
      if (NamedByFinding(c, *s)) named.push_back(s->cluster);
    }
    std::sort(named.begin(), named.end());
    if (!named.empty() && std::find(named.begin(), named.end(), target) == named.end()) {
      target = named.front();
    }
  }
  if (std::string distrust = ClusterDistrust(in.clusters, target); !distrust.empty()) {
    return Refuse(c, RefusalCause::kUntrusted, "TILT: " + distrust);
  }

  // 8. The ladder, and how to stop the live instance.
  RecoveryPlan plan;
  plan.job = c.name;
  plan.cluster = target;
  plan.severity = c.severity;
  plan.rules = c.rules;
  plan.escalates_attempt_id = escalates;
  std::sort(presumed_down.begin(), presumed_down.end());
  presumed_down.erase(std::unique(presumed_down.begin(), presumed_down.end()), presumed_down.end());
  plan.presumed_down = std::move(presumed_down);

  std::vector<std::string> head;
  head.push_back(Join(c.rules, ", ") + " (" + SeverityName(c.severity) + ")");
  for (const Unstuck& u : unstuck) {
    const RecoveryAttempt& a = *u.attempt;
    head.push_back("recovery " + a.id + " from " +
                   (a.strategy == Strategy::kFresh ? std::string("fresh state") : a.restore_path) +
                   " did not stick");
  }

  std::vector<Candidate> cands = CollectCandidates(c);
  std::string cancel_deletes;
  if (stop != nullptr && stop->checkpoint_settings.known() &&
      !stop->checkpoint_settings.value->retained_on_cancel) {
    cancel_deletes = stop->job_id;
  }
  LadderResult ladder = Ladder(cands, c, unstuck, cancel_deletes, now);

  const bool can_savepoint = stop != nullptr && policy.stop_with_savepoint && unstuck.empty() &&
                             *stop->status.value == JobStatus::kRunning &&
                             stop->all_tasks_running.fresh() &&
                             stop->all_tasks_running.value.value_or(false);
  std::string how;
  if (can_savepoint) {
    plan.stop_job_id = stop->job_id;
    plan.steps = {StepKind::kStopWithSavepoint, StepKind::kWaitTerminal, StepKind::kSubmit,
                  StepKind::kVerify};
    plan.strategy = Strategy::kSavepoint;
    plan.restore_from_stop_savepoint = true;
    plan.if_stop_fails = ladder.choice;
    how = "stop-with-savepoint of " + InstanceText(*stop) +
          ", then restore from that savepoint; if the stop fails: " +
          (ladder.choice ? "cancel, " + ladder.text : "leave it running (" + ladder.text + ")");
  } else {
    if (!ladder.choice) {
      head.push_back(ladder.text);
      return Refuse(c, RefusalCause::kNoRestorePoint, Join(head, "; "), true, onset);
    }
    plan.strategy = ladder.choice->strategy;
    plan.restore_point = ladder.choice->point;
    if (stop == nullptr) {
      plan.steps = {StepKind::kSubmit, StepKind::kVerify};
      how = ladder.text + "; no live instance to stop";
    } else if (*stop->status.value == JobStatus::kCancelling) {
      plan.stop_job_id = stop->job_id;
      plan.steps = {StepKind::kWaitTerminal, StepKind::kSubmit, StepKind::kVerify};
      how = ladder.text + "; wait for " + InstanceText(*stop) + " to finish cancelling";
    } else {
      plan.stop_job_id = stop->job_id;
      plan.steps = {StepKind::kCancel, StepKind::kWaitTerminal, StepKind::kSubmit,
                    StepKind::kVerify};
      how = ladder.text + "; cancel " + InstanceText(*stop) + " first";
    }
  }
  plan.allow_non_restored_state =
      policy.allow_non_restored_state && plan.strategy != Strategy::kFresh;
  head.push_back(how);
  head.push_back("submit to " + target);
  plan.reason = Join(head, "; ");

  Decision d;
  d.plan = std::move(plan);
  d.recent = n_recent;
  return d;
}

}  // namespace

Planner::Planner(UniformRandom random) : random_(std::move(random)) {}

PlanOutput Planner::Plan(const PlanInput& in) {
  std::map<std::string, JobCase> cases;
  for (const Finding& f : in.findings) {
    if (f.action != Action::kRecover) continue;
    JobCase& c = cases[f.job];
    if (c.findings.empty()) {
      c.name = f.job;
      c.severity = f.severity;
      c.first_fired_ms = f.firing_since_ms;
      c.last_fired_ms = f.firing_since_ms;
    }
    c.findings.push_back(&f);
    c.severity = std::max(c.severity, f.severity);
    c.first_fired_ms = std::min(c.first_fired_ms, f.firing_since_ms);
    c.last_fired_ms = std::max(c.last_fired_ms, f.firing_since_ms);
    c.rules.push_back(f.rule);
  }
  for (auto& [name, c] : cases) {
    std::sort(c.rules.begin(), c.rules.end());
    c.rules.erase(std::unique(c.rules.begin(), c.rules.end()), c.rules.end());
  }
  for (const CatalogJob& j : in.catalog) {
    auto it = cases.find(j.name);
    if (it != cases.end() && it->second.catalog == nullptr) it->second.catalog = &j;
  }
  for (const JobSnapshot& s : in.snapshots) {
    auto it = cases.find(s.name);
    if (it != cases.end()) it->second.instances.push_back(&s);
  }
  for (const KnownRestorePoint& p : in.restore_points) {
    auto it = cases.find(p.job);
    if (it != cases.end()) it->second.points.push_back(&p);
  }
  std::set<std::string> in_progress(in.in_progress.begin(), in.in_progress.end());
  for (const RecoveryAttempt& a : in.attempts) {
    if (a.outcome == RecoveryAttempt::Outcome::kInProgress) in_progress.insert(a.job);
    auto it = cases.find(a.job);
    if (it != cases.end()) it->second.attempts.push_back(&a);
  }
  for (auto& [name, c] : cases) {
    auto by_place = [](const JobSnapshot* a, const JobSnapshot* b) {
      return std::tie(a->cluster, a->job_id) < std::tie(b->cluster, b->job_id);
    };
    std::sort(c.instances.begin(), c.instances.end(), by_place);
    std::sort(c.attempts.begin(), c.attempts.end(),
              [](const RecoveryAttempt* a, const RecoveryAttempt* b) {
                return std::tie(a->started_ms, a->id) < std::tie(b->started_ms, b->id);
              });
  }

  PlanOutput out;
  out.detected = static_cast<int>(cases.size());
  std::vector<Decision> planned;
  std::vector<Decision> refused;
  for (const auto& [name, c] : cases) {
    Decision d = Decide(c, in, in_progress);
    (d.plan ? planned : refused).push_back(std::move(d));
  }

  // Blast radius: slots go to the most severe first, then by name.
  std::sort(planned.begin(), planned.end(), [](const Decision& a, const Decision& b) {
    if (a.plan->severity != b.plan->severity) return a.plan->severity > b.plan->severity;
    return a.plan->job < b.plan->job;
  });
  const int cap = in.settings.max_concurrent_recoveries;
  const int busy = static_cast<int>(in_progress.size());
  int slots = std::max(0, cap - busy);
  for (Decision& d : planned) {
    if (slots > 0) {
      --slots;
      RecoveryPlan& p = *d.plan;
      const CatalogJob* job = cases.at(p.job).catalog;
      double u = random_ ? random_() : 0.5;
      u = std::clamp(u, 0.0, 1.0);
      const double factor = 1.0 + in.settings.jitter * (2.0 * u - 1.0);
      const double jittered = static_cast<double>(Backoff(job->policy.cooldown_ms, d.recent + 1,
                                                          in.settings.max_cooldown_ms)) *
                              factor;
      p.cooldown_after_ms =
          std::min(in.settings.max_cooldown_ms, static_cast<std::int64_t>(std::llround(jittered)));
      p.dry_run = in.settings.dry_run;
      for (auto it = paged_.begin(); it != paged_.end();) {
        it = it->first.first == p.job ? paged_.erase(it) : std::next(it);
      }
      out.plans.push_back(std::move(p));
    } else {
      Decision r;
      r.refusal = Refusal{
          d.plan->job,
          "blast radius cap " + std::to_string(cap) + " reached (" + std::to_string(busy) +
              " in progress, " + std::to_string(static_cast<int>(out.plans.size())) +
              " planned this cycle); " + Join(d.plan->rules, ", ") + " detected, not acted on",
          false, RefusalCause::kBlastRadius};
      refused.push_back(std::move(r));
    }
  }

  // Page once per episode.
  for (Decision& d : refused) {
    Refusal& r = *d.refusal;
    if (r.page) {
      auto key = std::make_pair(r.job, r.cause);
      auto it = paged_.find(key);
      if (it != paged_.end() && it->second == d.episode) {
        r.page = false;
        r.reason += " (paged already)";
      } else {
        paged_[key] = d.episode;
      }
    }
    ++out.not_enforced[r.cause];
    out.refusals.push_back(std::move(r));
  }
  std::sort(out.refusals.begin(), out.refusals.end(),
            [](const Refusal& a, const Refusal& b) { return a.job < b.job; });
  return out;
}

}  // namespace flinkguard
