#include "agent/agent_loop.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <tuple>

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
  auto body = [&]() -> Result<void> {
    for (const RuleTransition& t : e.transitions) {
      if (auto ok = store_->RecordTransition(t); !ok) return ok;
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
  report.recorded = true;
}

void AgentLoop::RecordRefusals(const PlanOutput& out, std::int64_t now_ms, CycleReport& report) {
  std::set<std::string> refused;
  for (const Refusal& r : out.refusals) {
    refused.insert(r.job);
    auto it = last_refusal_.find(r.job);
    const bool changed = it == last_refusal_.end() || it->second.first != r.cause;
    if (!changed && !r.page) continue;
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
    }
    last_refusal_[r.job] = {r.cause, r.page};
  }
  for (auto it = last_refusal_.begin(); it != last_refusal_.end();) {
    it = refused.count(it->first) ? std::next(it) : last_refusal_.erase(it);
  }
}

CycleReport AgentLoop::RunCycle(std::int64_t now_ms, const std::string& late_reason) {
  CycleReport report;
  report.observation = observer_.RunCycle(now_ms);
  const Observation& o = report.observation;
  report.evaluation = engine_.Evaluate(o.jobs, now_ms, o.clusters);
  for (const RuleTransition& t : report.evaluation.transitions) {
    spdlog::info("rule {} for {} on {}: {} -> {} ({})", t.rule, t.job, t.cluster,
                 RuleStateName(t.from), RuleStateName(t.to), t.reason);
  }
  if (executor_ != nullptr) executor_->UpdateView(o);
  Record(o, report.evaluation, now_ms, report);

  const bool any_recover =
      std::any_of(report.evaluation.findings.begin(), report.evaluation.findings.end(),
                  [](const Finding& f) { return f.action == Action::kRecover; });
  if (!any_recover) {
    last_refusal_.clear();
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
  in.attempts = attempts;
  in.in_progress = in_progress;
  in.loop_late = !late_reason.empty();
  in.loop_late_reason = late_reason;
  report.decisions = planner_.Plan(in);
  RecordRefusals(report.decisions, now_ms, report);

  for (const RecoveryPlan& plan : report.decisions.plans) {
    if (executor_ == nullptr && !standby_.empty()) {
      spdlog::debug("not recovering {}: {}", plan.job, standby_);
      continue;
    }
    if (executor_ == nullptr) {
      const std::string why = "not recovering " + plan.job +
                              ": the journal (history database) is not available, and "
                              "flinkguard does not act without it";
      spdlog::error("{}", why);
      report.problems.push_back(why);
      continue;
    }
    if (plan.dry_run) {
      // Record a "would have" once per distinct plan while the job keeps asking for recovery.
      auto it = dry_runs_.find(plan.job);
      if (it != dry_runs_.end() && it->second.first == plan.reason) continue;
      dry_runs_[plan.job] = {plan.reason, now_ms};
    }
    auto id = executor_->Start(plan, "rule", now_ms);
    if (!id) {
      spdlog::error("{}: recovery not started: {}", plan.job, id.error().message);
      report.problems.push_back(plan.job + ": recovery not started: " + id.error().message);
      continue;
    }
    if (plan.dry_run) spdlog::warn("dry run: would recover {}: {}", plan.job, plan.reason);
    report.started.push_back(*id);
  }
  return report;
}

}  // namespace flinkguard
