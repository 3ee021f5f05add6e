#include "agent/agent_loop.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <tuple>

#include "agent/alert_wiring.h"
#include "agent/explain.h"
#include "rules/job_status.h"

namespace flinkguard {
namespace {

std::int64_t Ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// The fields of a snapshot worth keeping as a sampled observation.
std::string SummaryJson(const JobSnapshot& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (s.restarts.known()) {
    w.Key("restarts");
    w.Int64(*s.restarts.value);
  }
  if (s.all_tasks_running.known()) {
    w.Key("all_tasks_running");
    w.Bool(*s.all_tasks_running.value);
  }
  if (s.checkpoint_age_ms.known()) {
    w.Key("checkpoint_age_ms");
    w.Int64(*s.checkpoint_age_ms.value);
  }
  if (s.checkpoints_failed.known()) {
    w.Key("checkpoints_failed");
    w.Int64(*s.checkpoints_failed.value);
  }
  if (s.qps.known()) {
    w.Key("qps");
    w.Double(*s.qps.value);
  }
  if (s.backpressure.known()) {
    w.Key("backpressure");
    w.Double(*s.backpressure.value);
  }
  if (s.last_checkpoint.known()) {
    w.Key("last_checkpoint");
    w.String(s.last_checkpoint.value->path.c_str());
  }
  w.EndObject();
  return buf.GetString();
}

PlannerSettings SettingsFrom(const Config& config) {
  PlannerSettings s;
  s.max_concurrent_recoveries = config.agent.max_concurrent_recoveries;
  s.dry_run = config.agent.dry_run;
  // A status older than a few cycles is not a basis for action.
  s.max_status_age_ms = std::max<std::int64_t>(3 * Ms(config.agent.poll_interval), 30'000);
  return s;
}

}  // namespace

AgentLoop::AgentLoop(const Config& config, Observer& observer, Executor* executor,
                     SqliteHistoryStore* store, UniformRandom random, LoopOptions options)
    : config_(config),
      observer_(observer),
      executor_(executor),
      store_(store),
      options_(options),
      engine_(CompiledRulesFrom(config),
              RuleEngineOptions{.sample_interval = config.agent.poll_interval}),
      planner_(std::move(random)),
      catalog_(CatalogFrom(config)) {}

Result<void> AgentLoop::SubsumeOlderCheckpoints(const JobSnapshot& s, const RestorePoint& newest,
                                                const RecordedPoint* previous,
                                                std::int64_t now_ms) {
  // Flink keeps the newest `state.checkpoints.num-retained` (default 1) checkpoints and deletes
  // the ones they subsume. The observer sees only the newest, so the older checkpoints of the
  // same instance are marked discarded here: with num-retained > 1 that gives up a few usable
  // points (safe); leaving them would offer deleted ones to a later recovery (unsafe).
  auto mark = [&](KnownRestorePoint kp) -> Result<void> {
    kp.point.discarded = true;
    return store_->UpsertRestorePoint(kp, RestorePointOrigin::kObserved, now_ms);
  };
  if (previous != nullptr) {
    if (previous->job_id != s.job_id || previous->point.id >= newest.id) return {};
    return mark(KnownRestorePoint{s.name, s.cluster, s.job_id, previous->point, false});
  }
  // First sight of this job since the agent started: look at what history holds.
  auto points = store_->RestorePoints(s.name);
  if (!points) return Fail(points.error());
  for (const KnownRestorePoint& kp : *points) {
    if (kp.cluster != s.cluster || kp.job_id != s.job_id || kp.point.discarded ||
        kp.point.kind != RestorePoint::Kind::kCheckpoint || kp.point.id >= newest.id) {
      continue;
    }
    if (auto ok = mark(kp); !ok) return ok;
  }
  return {};
}

void AgentLoop::Record(const Observation& o, const RuleEvaluation& e, std::int64_t now_ms,
                       CycleReport& report) {
  if (store_ == nullptr) return;
  // Notifications of the transitions are written with them (alerts/alert_planner.h).
  AlertBatch alert_batch;
  if (alerts_ != nullptr) {
    alerts_->Observe(o.jobs);
    alert_batch = alerts_->OnTransitions(e.transitions, now_ms);
    if (!standby_.empty()) alert_batch.entries.clear();
  }
  auto body = [&]() -> Result<void> {
    for (const RuleTransition& t : e.transitions) {
      if (auto ok = store_->RecordTransition(t); !ok) return ok;
    }
    for (const OutboxEntry& n : alert_batch.entries) {
      if (auto ok = store_->Enqueue(n); !ok) return Fail(ok.error());
    }
    for (const JobSnapshot& s : o.jobs) {
      for (const Observed<RestorePoint>* p : {&s.last_checkpoint, &s.last_savepoint}) {
        if (!p->fresh() || !p->known() || !p->value->addressable || p->value->path.empty()) {
          continue;
        }
        const auto key = std::make_tuple(s.name, s.cluster, static_cast<int>(p->value->kind));
        auto it = recorded_points_.find(key);
        if (it != recorded_points_.end() && it->second.path == p->value->path) continue;
        KnownRestorePoint kp{s.name, s.cluster, s.job_id, *p->value, false};
        if (auto ok = store_->UpsertRestorePoint(kp, RestorePointOrigin::kObserved, now_ms); !ok) {
          return ok;
        }
        if (p->value->kind == RestorePoint::Kind::kCheckpoint) {
          if (auto ok = SubsumeOlderCheckpoints(
                  s, *p->value, it == recorded_points_.end() ? nullptr : &it->second, now_ms);
              !ok) {
            return ok;
          }
        }
      }
      std::int64_t& last = last_sample_ms_[s.job_id];
      if (now_ms - last >= options_.sample_every_ms) {
        ObservationRecord rec{now_ms,
                              s.cluster,
                              s.name,
                              s.job_id,
                              s.status.known() ? JobStatusName(*s.status.value) : "UNKNOWN",
                              SummaryJson(s)};
        if (auto ok = store_->RecordObservation(rec); !ok) return ok;
      }
    }
    return {};
  };
  if (auto ok = store_->InTransaction(body); !ok) {
    report.problems.push_back("history not recorded this cycle: " + ok.error().message);
    return;
  }
  // Only now that the transaction committed: remember what is on disk.
  for (const JobSnapshot& s : o.jobs) {
    for (const Observed<RestorePoint>* p : {&s.last_checkpoint, &s.last_savepoint}) {
      if (p->fresh() && p->known() && p->value->addressable && !p->value->path.empty()) {
        recorded_points_[std::make_tuple(s.name, s.cluster, static_cast<int>(p->value->kind))] =
            RecordedPoint{s.job_id, p->value->path, *p->value};
      }
    }
    std::int64_t& last = last_sample_ms_[s.job_id];
    if (now_ms - last >= options_.sample_every_ms) last = now_ms;
  }
  if (alerts_ != nullptr) alerts_->Commit(alert_batch);
  report.recorded = true;
}

void AgentLoop::RecordRefusals(const PlanOutput& out, std::int64_t now_ms, CycleReport& report) {
  std::set<std::string> refused;
  for (const Refusal& r : out.refusals) {
    refused.insert(r.job);
    auto it = last_refusal_.find(r.job);
    const bool changed = it == last_refusal_.end() || it->second.first != r.cause;
    // Recorded (and paged) when the cause changes, or when it turns into a page.
    if (!changed && (!r.page || it->second.second)) continue;
    if (r.page) {
      spdlog::error("{}: not recovering, a person must look: {}", r.job, r.reason);
    } else {
      spdlog::warn("{}: not recovering ({}): {}", r.job, RefusalCauseName(r.cause), r.reason);
    }
    if (store_ != nullptr) {
      if (auto ok = store_->RecordRefusal(RefusalRecord{now_ms, r}); !ok) {
        report.problems.push_back("refusal of " + r.job + " not recorded: " + ok.error().message);
        continue;
      }
      if (r.page && alerts_ != nullptr) {
        if (auto ok =
                WriteAlerts(*store_, *alerts_, alerts_->OnGaveUp(r, now_ms), standby_.empty());
            !ok) {
          report.problems.push_back("give-up of " + r.job + " not notified: " + ok.error().message);
        }
      }
    }
    last_refusal_[r.job] = {r.cause, r.page};
  }
  for (auto it = last_refusal_.begin(); it != last_refusal_.end();) {
    it = refused.count(it->first) ? std::next(it) : last_refusal_.erase(it);
  }
}

namespace {

SavepointPolicy SavepointPolicyOf(const JobConfig& j) {
  SavepointPolicy p;
  if (j.savepoints.interval) p.interval_ms = Ms(*j.savepoints.interval);
  p.keep = j.savepoints.keep;
  p.max_age_ms = Ms(j.savepoints.max_age);
  return p;
}

// The instance of `job` that savepoints are taken of: its only live instance, fresh and
// RUNNING; nullptr when there is none or several (duplicates are handled on their own).
const JobSnapshot* SavepointTarget(const std::vector<JobSnapshot>& jobs, const std::string& job) {
  const JobSnapshot* target = nullptr;
  for (const JobSnapshot& s : jobs) {
    if (s.name != job || !s.status.known() || IsGloballyTerminal(*s.status.value)) continue;
    if (target != nullptr) return nullptr;
    target = &s;
  }
  if (target == nullptr || !target->status.fresh() || *target->status.value != JobStatus::kRunning)
    return nullptr;
  return target;
}

}  // namespace

void AgentLoop::RequestSavepoint(const JobSnapshot& instance, const std::string& origin, bool stop,
                                 std::int64_t now_ms, CycleReport& report) {
  const JobConfig* jc = config_.FindJob(instance.name);
  if (config_.agent.dry_run) {
    spdlog::warn("dry run: would {} {} on {} ({})",
                 stop ? "stop with a savepoint" : "take a savepoint of", instance.job_id,
                 instance.cluster, origin);
    return;
  }
  SavepointRequest req;
  req.job = instance.name;
  req.cluster = instance.cluster;
  req.job_id = instance.job_id;
  req.origin = origin;
  req.stop = stop;
  if (jc != nullptr) {
    req.target_directory = jc->savepoint_dir;
    req.timeout_ms = Ms(jc->savepoints.timeout);
  }
  if (auto id = savepoints_->Start(req, now_ms); !id) {
    report.problems.push_back(instance.name + ": savepoint not started: " + id.error().message);
    return;
  }
  report.savepoints_started.push_back(instance.name + " (" + origin + ")");
}

void AgentLoop::ScheduleSavepoints(const Observation& o, const RuleEvaluation& e,
                                   std::int64_t now_ms, CycleReport& report) {
  for (const JobSnapshot& s : o.jobs) {
    if (!s.last_savepoint.known()) continue;
    const RestorePoint& p = *s.last_savepoint.value;
    const std::int64_t at = p.completed_ms != 0 ? p.completed_ms : p.trigger_ms;
    std::int64_t& newest = newest_savepoint_ms_[s.name];
    newest = std::max(newest, at);
  }
  // Rule action `savepoint`: one savepoint per firing episode of each (rule, job).
  std::set<std::pair<std::string, std::string>> firing;
  for (const Finding& f : e.findings) {
    if (f.action != Action::kSavepoint) continue;
    const auto key = std::make_pair(f.rule, f.job);
    firing.insert(key);
    if (savepoint_rules_.count(key) != 0 || savepoints_ == nullptr) continue;
    if (savepoints_->InFlight(f.job)) continue;
    const JobSnapshot* target = SavepointTarget(o.jobs, f.job);
    if (target == nullptr) {
      report.problems.push_back("rule " + f.rule + " asks for a savepoint of " + f.job +
                                ", which has no single RUNNING instance");
      savepoint_rules_.insert(key);
      continue;
    }
    savepoint_rules_.insert(key);
    RequestSavepoint(*target, "rule:" + f.rule, /*stop=*/false, now_ms, report);
  }
  for (auto it = savepoint_rules_.begin(); it != savepoint_rules_.end();) {
    it = firing.count(*it) != 0 ? std::next(it) : savepoint_rules_.erase(it);
  }
  if (savepoints_ == nullptr) return;
  const std::vector<std::string> recovering =
      executor_ != nullptr ? executor_->InProgress() : std::vector<std::string>{};
  const auto busy = [&](const std::string& job) {
    return savepoints_->InFlight(job) ||
           std::find(recovering.begin(), recovering.end(), job) != recovering.end();
  };
  for (const JobConfig& j : config_.jobs) {
    // Several live instances, policy `stop`: stop all but the newest, each with a savepoint.
    if (j.recovery.on_duplicate == RecoveryPolicyConfig::OnDuplicate::kStop && !busy(j.name)) {
      const DuplicateStops d = PlanDuplicateStops(o.jobs, j.name);
      if (!d.stop.empty()) {
        spdlog::warn("{}: {}", j.name, d.reason);
        RequestSavepoint(*d.stop.front(), "duplicate", /*stop=*/true, now_ms, report);
        continue;
      }
    }
    if (!j.savepoints.interval) continue;
    const JobSnapshot* target = SavepointTarget(o.jobs, j.name);
    if (target == nullptr) continue;
    if (store_ != nullptr && seeded_savepoints_.insert(j.name).second) {
      // After a restart: the catalog knows savepoints of earlier instances that Flink's history
      // of the current one does not show.
      if (auto points = store_->RestorePoints(j.name); points) {
        for (const KnownRestorePoint& p : *points) {
          if (p.point.kind != RestorePoint::Kind::kSavepoint) continue;
          std::int64_t& n = newest_savepoint_ms_[j.name];
          n = std::max(n, p.point.completed_ms != 0 ? p.point.completed_ms : p.point.trigger_ms);
        }
      }
    }
    std::optional<std::int64_t> newest;
    if (auto it = newest_savepoint_ms_.find(j.name); it != newest_savepoint_ms_.end()) {
      newest = it->second;
    }
    const SavepointDue due =
        PeriodicSavepointDue(SavepointPolicyOf(j), *target, newest, busy(j.name), now_ms);
    if (due.due) {
      spdlog::info("{}: periodic savepoint: {}", j.name, due.reason);
      RequestSavepoint(*target, "periodic", /*stop=*/false, now_ms, report);
    }
  }
}

void AgentLoop::TickSavepoints(std::int64_t now_ms) {
  if (savepoints_ == nullptr) return;
  savepoints_->Tick(now_ms);
  std::set<std::string> ended;
  for (const SavepointRecord& r : savepoints_->TakeEnded()) {
    if (r.status != "completed") continue;
    std::int64_t& newest = newest_savepoint_ms_[r.job];
    newest = std::max(newest, r.completed_ms.value_or(now_ms));
    ended.insert(r.job);
  }
  for (const std::string& job : ended) PruneSavepointsOf(job, now_ms);
}

void AgentLoop::PruneSavepoints(std::int64_t now_ms) {
  for (const JobConfig& j : config_.jobs) PruneSavepointsOf(j.name, now_ms);
}

void AgentLoop::PruneSavepointsOf(const std::string& job, std::int64_t now_ms) {
  if (store_ == nullptr) return;
  const JobConfig* jc = config_.FindJob(job);
  if (jc == nullptr) return;
  auto points = store_->RestorePoints(job);
  if (!points) {
    spdlog::warn("savepoint retention of {}: {}", job, points.error().message);
    return;
  }
  for (const KnownRestorePoint& p : SavepointsToForget(*points, job, SavepointPolicyOf(*jc),
                                                       now_ms)) {
    if (auto r = store_->ForgetRestorePoint(job, p.point.path); !r) {
      spdlog::warn("savepoint retention of {}: {}", job, r.error().message);
      return;
    }
    spdlog::info("{}: savepoint {} leaves the restore-point catalog (keep {}, max age {})", job,
                 p.point.path, jc->savepoints.keep, FormatDuration(jc->savepoints.max_age));
  }
}

void AgentLoop::RunFailover(const Observation& o, std::int64_t now_ms, CycleReport& report,
                            std::vector<Refusal>& refusals) {
  if (store_ == nullptr) return;
  // Read every cycle: `flinkguard move` and other replicas change placements too.
  if (auto all = store_->Placements(); all) {
    placements_.clear();
    for (Placement& p : *all) placements_[p.job] = std::move(p);
  } else {
    report.problems.push_back("cannot read job placements: " + all.error().message);
    return;
  }
  if (coordinator_ != nullptr) {
    auto shared = coordinator_->SharedPlacements();
    if (!shared) {
      // Without the shared record this replica may not know where a job lives: no failover.
      report.problems.push_back("cannot read the shared job placements: " +
                                shared.error().message);
      return;
    }
    for (const Placement& p : shared->value_or(std::vector<Placement>{})) {
      auto it = placements_.find(p.job);
      if (it != placements_.end() && it->second.since_ms >= p.since_ms) continue;
      if (auto ok = store_->SetPlacement(p); !ok) {
        report.problems.push_back("shared placement of " + p.job + " not recorded: " +
                                  ok.error().message);
      }
      placements_[p.job] = p;
    }
  }
  const std::vector<std::string> in_progress =
      executor_ != nullptr ? executor_->InProgress() : std::vector<std::string>{};
  // Failovers that ended: a failed one gives the job back its previous placement, so the next
  // cycle tries again (another backup, or the next restore point).
  for (auto it = failovers_.begin(); it != failovers_.end();) {
    const auto& [job, previous] = it->second;
    if (std::find(in_progress.begin(), in_progress.end(), job) != in_progress.end()) {
      ++it;
      continue;
    }
    bool failed = true;
    if (auto recs = store_->Recoveries(job, 0); recs) {
      for (const RecoveryRecord& r : *recs) {
        if (r.id == it->first) failed = r.outcome != RecoveryAttempt::Outcome::kSucceeded;
      }
    }
    if (failed) {
      Placement back = previous.value_or(Placement{job, "", now_ms, "failover failed"});
      if (const JobConfig* jc = config_.FindJob(job); jc != nullptr && !previous) {
        back.cluster = jc->cluster;
      }
      back.since_ms = now_ms;
      back.reason = "failover " + it->first + " failed; back to " + back.cluster;
      if (auto ok = RecordPlacement(back); ok) {
        placements_[job] = back;
        spdlog::warn("{}: {}", job, back.reason);
      }
    }
    it = failovers_.erase(it);
  }

  FailoverInput in;
  in.now_ms = now_ms;
  in.settings.down_after_polls = config_.failover.down_after_polls;
  in.settings.down_after_ms = Ms(config_.failover.down_after);
  in.settings.max_concurrent = config_.failover.max_concurrent;
  in.settings.shared_schemes = {config_.failover.shared_schemes.begin(),
                                config_.failover.shared_schemes.end()};
  in.settings.dry_run = config_.agent.dry_run;
  if (config_.failover.failback_auto) in.settings.failback_after_ms = Ms(config_.failover.failback_after);
  bool any_down = false;
  for (const ClusterSnapshot& c : o.clusters) {
    any_down |= !c.reachable && c.consecutive_failures >= in.settings.down_after_polls;
    if (c.reachable) {
      up_since_.emplace(c.name, now_ms);
    } else {
      up_since_.erase(c.name);
    }
  }
  in.up_since = up_since_;
  for (const JobConfig& j : config_.jobs) {
    FailoverJob f;
    f.name = j.name;
    f.home = j.cluster;
    f.failover = j.failover;
    f.slots = j.parallelism.value_or(1);
    f.allow_fresh_state = j.recovery.allow_fresh_state;
    f.allow_non_restored_state = j.recovery.allow_non_restored_state;
    if (j.recovery.max_checkpoint_age) f.max_checkpoint_age_ms = Ms(*j.recovery.max_checkpoint_age);
    in.jobs.push_back(std::move(f));
    auto placed = placements_.find(j.name);
    const bool away = placed != placements_.end() && placed->second.cluster != j.cluster;
    if (placed != placements_.end()) {
      in.placement[j.name] = placed->second.cluster;
      in.placed_since[j.name] = placed->second.since_ms;
    }
    if (any_down || (away && in.settings.failback_after_ms)) {
      if (auto points = store_->RestorePoints(j.name); points) {
        in.points.insert(in.points.end(), points->begin(), points->end());
      }
    }
  }
  in.clusters = o.clusters;
  in.snapshots = o.jobs;
  in.busy = {in_progress.begin(), in_progress.end()};
  if (savepoints_ != nullptr) {
    for (const JobConfig& j : config_.jobs) {
      if (savepoints_->InFlight(j.name)) in.busy.insert(j.name);
    }
  }
  in.in_flight = static_cast<int>(failovers_.size());
  FailoverOutput out = PlanFailovers(in);
  refusals = std::move(out.refusals);
  departed_.clear();
  for (const std::string& d : out.down) {
    for (const auto& [job, where] : in.placement) {
      if (where != d) departed_.push_back(DepartedCopy{job, d});
    }
  }

  // A standby (or an agent without its journal) decides nothing further: the leader acts.
  if (executor_ == nullptr) {
    if (!out.moves.empty() || !out.stale.empty() || !out.failbacks.empty()) {
      spdlog::debug("failover decisions left to the leader: {} moves, {} failbacks, {} stale copies",
                    out.moves.size(), out.failbacks.size(), out.stale.size());
    }
    refusals.clear();
    return;
  }
  for (FailoverMove& fb : out.failbacks) out.moves.push_back(std::move(fb));
  for (const FailoverMove& m : out.moves) {
    const bool failback = m.plan.rules == std::vector<std::string>{"failback"};
    if (failback) {
      spdlog::info("{}: {}", m.plan.job, m.plan.reason);
    } else {
      spdlog::warn("{}: {}", m.plan.job, m.plan.reason);
    }
    std::optional<Placement> previous;
    if (auto it = placements_.find(m.plan.job); it != placements_.end()) previous = it->second;
    // The placement is recorded before the submit, so a restart or another replica never
    // starts the job a second time on its old cluster's behalf.
    Placement p{m.plan.job, m.plan.cluster, now_ms, m.plan.reason};
    if (!m.plan.dry_run && executor_ != nullptr) {
      if (auto ok = RecordPlacement(p); !ok) {
        report.problems.push_back(m.plan.job + ": failover not started, placement not recorded: " +
                                  ok.error().message);
        continue;
      }
    }
    auto id = StartPlan(m.plan, failback ? "failback" : "failover", now_ms, report);
    if (!id || m.plan.dry_run) {
      if (!m.plan.dry_run && executor_ != nullptr) {
        Placement back =
            previous.value_or(Placement{m.plan.job, m.from, now_ms, "failover not started"});
        back.since_ms = now_ms;
        (void)RecordPlacement(back);
      }
      continue;
    }
    placements_[m.plan.job] = p;
    failovers_[*id] = {m.plan.job, previous};
  }
  for (const StaleCancel& sc : out.stale) {
    spdlog::error("{}: {}", sc.plan.job, sc.plan.reason);
    (void)StartPlan(sc.plan, "stale-copy", now_ms, report);
  }
  // Recoveries submit where the job lives now.
  for (CatalogJob& c : catalog_) {
    auto it = placements_.find(c.name);
    const JobConfig* jc = config_.FindJob(c.name);
    if (it != placements_.end() && !it->second.cluster.empty()) {
      c.home_cluster = it->second.cluster;
    } else if (jc != nullptr) {
      c.home_cluster = jc->cluster;
    }
  }
}

Result<void> AgentLoop::RecordPlacement(const Placement& p) {
  // Shared first: a replica that cannot share (not leading, session lost) records nothing.
  if (coordinator_ != nullptr) {
    if (auto ok = coordinator_->PublishPlacement(p); !ok) return ok;
  }
  return store_->SetPlacement(p);
}

std::optional<std::string> AgentLoop::StartPlan(const RecoveryPlan& plan,
                                                const std::string& trigger, std::int64_t now_ms,
                                                CycleReport& report) {
  if (executor_ == nullptr && !standby_.empty()) {
    spdlog::debug("not acting on {}: {}", plan.job, standby_);
    return std::nullopt;
  }
  if (executor_ == nullptr) {
    const std::string why = "not acting on " + plan.job +
                            ": the journal (history database) is not available, and "
                            "flinkguard does not act without it";
    spdlog::error("{}", why);
    report.problems.push_back(why);
    return std::nullopt;
  }
  auto id = executor_->Start(plan, trigger, now_ms);
  if (!id) {
    spdlog::error("{}: {} not started: {}", plan.job, trigger, id.error().message);
    report.problems.push_back(plan.job + ": " + trigger + " not started: " + id.error().message);
    return std::nullopt;
  }
  if (plan.dry_run) spdlog::warn("dry run: would act on {} ({}): {}", plan.job, trigger, plan.reason);
  report.started.push_back(*id);
  ++report.started_by_trigger[trigger];
  if (alerts_ != nullptr && store_ != nullptr) {
    if (auto ok = WriteAlerts(*store_, *alerts_,
                              alerts_->OnRecoveryStarted(StartedRecord(plan, *id, now_ms, trigger), now_ms),
                              standby_.empty());
        !ok) {
      report.problems.push_back(plan.job + ": recovery start not notified: " + ok.error().message);
    }
  }
  return *id;
}

CycleReport AgentLoop::RunCycle(std::int64_t now_ms, const std::string& late_reason) {
  CycleReport report;
  report.observation = observer_.RunCycle(now_ms);
  const Observation& o = report.observation;
  if (departed_.empty()) {
    report.evaluation = engine_.Evaluate(o.jobs, now_ms, o.clusters);
  } else {
    // Stale copies left on a cluster judged down (as of the last cycle) where the job no longer
    // lives are not the job's current instance: the rules judge the one where it lives.
    std::vector<JobSnapshot> current;
    current.reserve(o.jobs.size());
    for (const JobSnapshot& s : o.jobs) {
      const bool departed =
          !s.status.fresh() &&
          std::any_of(departed_.begin(), departed_.end(), [&](const DepartedCopy& d) {
            return d.job == s.name && d.cluster == s.cluster;
          });
      if (!departed) current.push_back(s);
    }
    report.evaluation = engine_.Evaluate(current, now_ms, o.clusters);
  }
  for (const RuleTransition& t : report.evaluation.transitions) {
    spdlog::info("rule {} for {} on {}: {} -> {} ({})", t.rule, t.job, t.cluster,
                 RuleStateName(t.from), RuleStateName(t.to), t.reason);
  }
  if (executor_ != nullptr) executor_->UpdateView(o);
  Record(o, report.evaluation, now_ms, report);
  ScheduleSavepoints(o, report.evaluation, now_ms, report);
  std::vector<Refusal> failover_refusals;
  RunFailover(o, now_ms, report, failover_refusals);

  const bool any_recover =
      std::any_of(report.evaluation.findings.begin(), report.evaluation.findings.end(),
                  [](const Finding& f) { return f.action == Action::kRecover; });
  if (!any_recover) {
    report.decisions.refusals = std::move(failover_refusals);
    RecordRefusals(report.decisions, now_ms, report);
    dry_runs_.clear();
    return report;
  }
  // Jobs that stopped asking for recovery start a new episode next time.
  for (auto it = dry_runs_.begin(); it != dry_runs_.end();) {
    const bool asks = std::any_of(
        report.evaluation.findings.begin(), report.evaluation.findings.end(),
        [&](const Finding& f) { return f.action == Action::kRecover && f.job == it->first; });
    it = asks ? std::next(it) : dry_runs_.erase(it);
  }

  // History the planner needs: past attempts (cooldown, give-up window, escalation) and the
  // restore points of the jobs asking for recovery.
  std::vector<RecoveryAttempt> attempts;
  std::vector<KnownRestorePoint> points;
  std::vector<std::string> in_progress;
  if (executor_ != nullptr) in_progress = executor_->InProgress();
  if (store_ != nullptr) {
    std::int64_t lookback = 24LL * 3'600'000;
    for (const CatalogJob& c : catalog_) lookback = std::max(lookback, c.policy.window_ms);
    if (auto a = store_->Attempts(now_ms - lookback); a) {
      attempts = std::move(*a);
    } else {
      report.problems.push_back("cannot read past recoveries: " + a.error().message);
    }
    std::set<std::string> asked;
    for (const Finding& f : report.evaluation.findings) {
      if (f.action != Action::kRecover || !asked.insert(f.job).second) continue;
      if (auto p = store_->RestorePoints(f.job); p) {
        points.insert(points.end(), p->begin(), p->end());
      } else {
        report.problems.push_back("cannot read restore points of " + f.job + ": " +
                                  p.error().message);
      }
    }
  }

  PlanInput in;
  in.now_ms = now_ms;
  in.settings = SettingsFrom(config_);
  in.findings = report.evaluation.findings;
  in.catalog = catalog_;
  in.snapshots = o.jobs;
  in.clusters = o.clusters;
  in.restore_points = points;
  in.departed = departed_;
  in.attempts = attempts;
  in.in_progress = in_progress;
  in.loop_late = !late_reason.empty();
  in.loop_late_reason = late_reason;
  report.decisions = planner_.Plan(in);
  report.decisions.refusals.insert(report.decisions.refusals.end(), failover_refusals.begin(),
                                   failover_refusals.end());
  RecordRefusals(report.decisions, now_ms, report);

  for (const RecoveryPlan& plan : report.decisions.plans) {
    if (plan.dry_run) {
      // Record a "would have" once per distinct plan while the job keeps asking for recovery.
      auto it = dry_runs_.find(plan.job);
      if (it != dry_runs_.end() && it->second.first == plan.reason) continue;
      dry_runs_[plan.job] = {plan.reason, now_ms};
    }
    (void)StartPlan(plan, "rule", now_ms, report);
  }
  return report;
}

}  // namespace flinkguard
