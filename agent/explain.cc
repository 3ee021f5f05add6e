#include "agent/explain.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <utility>

#include "rules/duration.h"
#include "rules/job_status.h"
#include "rules/severity.h"

namespace flinkguard {
namespace {

std::int64_t Ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

RecoveryPolicy PolicyFrom(const RecoveryPolicyConfig& c) {
  RecoveryPolicy p;
  p.allow_fresh_state = c.allow_fresh_state;
  p.allow_non_restored_state = c.allow_non_restored_state;
  p.max_recoveries = c.max_recoveries;
  p.window_ms = Ms(c.window);
  if (c.max_checkpoint_age) p.max_checkpoint_age_ms = Ms(*c.max_checkpoint_age);
  p.cooldown_ms = Ms(c.cooldown);
  p.stable_after_ms = Ms(c.stable_after);
  p.stop_with_savepoint = c.stop_with_savepoint;
  return p;
}

// "12s ago" style age of an epoch-ms time relative to now.
std::string Age(std::int64_t at_ms, std::int64_t now_ms) {
  if (at_ms <= 0) return "at an unknown time";
  const std::int64_t d = now_ms - at_ms;
  if (d < 0) return "in the future (clock skew)";
  return FormatDuration(Duration{d / 1000 * 1000}) + " ago";
}

std::string PointText(const RestorePoint& p, std::int64_t now_ms) {
  std::string out = std::string(p.kind == RestorePoint::Kind::kSavepoint ? "savepoint " : "checkpoint ") +
                    std::to_string(p.id) + " " +
                    (p.addressable ? p.path : std::string("(not externally addressable)"));
  // Without a completion time (the checkpoint gauges before Flink 2.0) the trigger time is the
  // latest it can have been.
  out += p.completed_ms > 0 ? ", completed " + Age(p.completed_ms, now_ms)
                            : ", triggered " + Age(p.trigger_ms, now_ms) + " or earlier";
  if (p.discarded) out += ", discarded";
  return out;
}

template <typename T, typename F>
std::string ObservedText(const Observed<T>& o, F show) {
  if (o.known()) {
    std::string out = show(*o.value);
    if (o.freshness == Freshness::kStale) out += " (stale: " + o.why + ")";
    return out;
  }
  if (o.freshness == Freshness::kFresh) return "none";
  return "unknown" + (o.why.empty() ? std::string() : " (" + o.why + ")");
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

std::vector<CatalogJob> CatalogFrom(const Config& config) {
  std::vector<CatalogJob> out;
  out.reserve(config.jobs.size());
  for (const JobConfig& j : config.jobs) {
    out.push_back(CatalogJob{j.name, j.cluster, PolicyFrom(j.recovery)});
  }
  return out;
}

std::vector<CompiledRule> CompiledRulesFrom(const Config& config) {
  const std::set<std::string> custom = CustomSignalNames(config);
  std::vector<CompiledRule> out;
  out.reserve(config.rules.size());
  for (const RuleConfig& rule : config.rules) {
    auto compiled = CompileRule(ToRuleSpec(rule, config.jobs), custom);
    if (compiled) out.push_back(std::move(*compiled));
  }
  return out;
}

ExplainReport ExplainJob(const Config& config, const std::vector<Observation>& cycles,
                         std::string_view job) {
  ExplainReport report;
  report.job = std::string(job);
  report.in_catalog = config.FindJob(job) != nullptr;
  if (cycles.empty()) return report;
  const Observation& last = cycles.back();

  RuleEngine engine(CompiledRulesFrom(config), RuleEngineOptions{.sample_interval = config.agent.poll_interval});
  RuleEvaluation evaluation;
  for (const Observation& o : cycles) evaluation = engine.Evaluate(o.jobs, o.at_ms, o.clusters);

  for (const JobSnapshot& s : last.jobs) {
    if (s.name == job) report.instances.push_back(s);
  }
  for (const ClusterSnapshot& c : last.clusters) {
    const bool hosts = std::any_of(report.instances.begin(), report.instances.end(),
                                   [&](const JobSnapshot& s) { return s.cluster == c.name; });
    const JobConfig* jc = config.FindJob(job);
    if (hosts || (jc != nullptr && jc->cluster == c.name)) report.clusters.push_back(c);
  }
  report.rules = engine.Explain(job);
  std::vector<Finding> recover;
  for (const Finding& f : evaluation.findings) {
    if (f.job != job) continue;
    report.findings.push_back(f);
    if (f.action == Action::kRecover) recover.push_back(f);
  }
  if (recover.empty()) {
    // Nothing asks for recovery now: ask what would happen if something did.
    report.hypothetical = true;
    Finding f;
    f.rule = "(if a recover rule fired now)";
    f.job = report.job;
    if (!report.instances.empty()) {
      f.cluster = report.instances.front().cluster;
      f.job_id = report.instances.front().job_id;
    }
    f.severity = Severity::kCritical;
    f.action = Action::kRecover;
    f.firing_since_ms = last.at_ms;
    f.reason = "hypothetical";
    recover.push_back(std::move(f));
  }

  const std::vector<CatalogJob> catalog = CatalogFrom(config);
  PlanInput in;
  in.now_ms = last.at_ms;
  in.settings.dry_run = true;
  in.settings.max_concurrent_recoveries = config.agent.max_concurrent_recoveries;
  in.findings = recover;
  in.catalog = catalog;
  in.snapshots = last.jobs;
  in.clusters = last.clusters;
  Planner planner([] { return 0.5; });  // the jitter's midpoint: no jitter
  PlanOutput out = planner.Plan(in);
  for (RecoveryPlan& p : out.plans) {
    if (p.job == job) report.plan = std::move(p);
  }
  for (Refusal& r : out.refusals) {
    if (r.job == job) report.refusal = std::move(r);
  }
  return report;
}

std::string FormatExplain(const ExplainReport& r, std::int64_t now_ms) {
  std::ostringstream out;
  out << "job " << r.job << (r.in_catalog ? " (in the catalog)" : " (not in the catalog)") << "\n";
  for (const ClusterSnapshot& c : r.clusters) {
    out << "  cluster " << c.name << ": "
        << (c.reachable ? "reachable" : "unreachable: " + c.error);
    if (c.flink_version.value) out << ", Flink " << *c.flink_version.value;
    if (c.capacity.value) {
      out << ", " << c.capacity.value->slots_available << "/" << c.capacity.value->slots_total
          << " slots free";
      if (!c.capacity.fresh()) {
        out << " (stale: read " << Age(c.capacity.observed_at_ms, now_ms) << "; "
            << c.capacity.why << ")";
      }
    }
    out << "\n";
  }
  if (r.instances.empty()) out << "  instances: none seen\n";
  for (const JobSnapshot& s : r.instances) {
    out << "  instance " << s.cluster << "/" << s.job_id << ": "
        << ObservedText(s.status, [&](JobStatus st) { return std::string(JobStatusName(st)); })
        << "\n";
    auto dur = [](std::int64_t ms) { return FormatDuration(Duration{ms}); };
    out << "    restarts " << ObservedText(s.restarts, [](std::int64_t v) { return std::to_string(v); })
        << ", uptime " << ObservedText(s.uptime_ms, dur) << ", all tasks running "
        << ObservedText(s.all_tasks_running, [](bool b) { return std::string(b ? "yes" : "no"); })
        << "\n";
    out << "    last checkpoint: "
        << ObservedText(s.last_checkpoint, [&](const RestorePoint& p) { return PointText(p, now_ms); })
        << "\n";
    out << "    last savepoint: "
        << ObservedText(s.last_savepoint, [&](const RestorePoint& p) { return PointText(p, now_ms); })
        << "\n";
    out << "    checkpoint age " << ObservedText(s.checkpoint_age_ms, dur) << ", completed "
        << ObservedText(s.checkpoints_completed, [](std::int64_t v) { return std::to_string(v); })
        << ", failed "
        << ObservedText(s.checkpoints_failed, [](std::int64_t v) { return std::to_string(v); })
        << ", settings "
        << ObservedText(s.checkpoint_settings,
                        [&](const CheckpointSettings& c) {
                          return "every " + dur(c.interval_ms) + ", timeout " + dur(c.timeout_ms) +
                                 ", tolerable failures " + std::to_string(c.tolerable_failures);
                        })
        << "\n";
    out << "    qps " << ObservedText(s.qps, Number) << ", backpressure "
        << ObservedText(s.backpressure, Number) << ", lag " << ObservedText(s.lag, Number) << "\n";
    if (!s.root_exception.empty()) {
      const std::string first = s.root_exception.substr(0, s.root_exception.find('\n'));
      out << "    root exception: " << first << "\n";
    }
  }
  out << "rules:\n";
  for (const RuleStatus& st : r.rules) {
    out << "  " << st.rule << ": ";
    if (!st.applies) {
      out << "does not apply: " << st.reason << "\n";
      continue;
    }
    out << RuleStateName(st.state);
    if (!st.data_known) out << " (data unknown)";
    if (st.value) out << ", value " << FormatValue(*st.value);
    out << " -- " << (st.evaluated ? st.reason : std::string("not evaluated: job not observed"))
        << "\n";
  }
  if (r.hypothetical) {
    out << "no recover rule fires; if one did now:\n";
  } else {
    out << "recover rules firing:";
    for (const Finding& f : r.findings) {
      if (f.action == Action::kRecover) out << " " << f.rule;
    }
    out << "\n";
  }
  if (r.plan) {
    const RecoveryPlan& p = *r.plan;
    out << "  plan (dry run): restore from ";
    if (p.restore_point) {
      out << PointText(*p.restore_point, now_ms);
    } else {
      out << StrategyName(p.strategy) << (p.strategy == Strategy::kFresh ? " state" : "");
    }
    if (p.restore_from_stop_savepoint) out << " (the savepoint the stop takes)";
    out << "\n  on cluster " << p.cluster;
    if (!p.stop_job_id.empty()) out << ", stopping " << p.stop_job_id << " first";
    out << "\n  steps:";
    for (StepKind k : p.steps) out << " " << StepKindName(k);
    out << "\n  why: " << p.reason << "\n";
    if (p.if_stop_fails) {
      out << "  if the stop fails: " << StrategyName(p.if_stop_fails->strategy);
      if (p.if_stop_fails->point) out << " " << PointText(*p.if_stop_fails->point, now_ms);
      out << "\n";
    }
  } else if (r.refusal) {
    out << "  refused (" << RefusalCauseName(r.refusal->cause) << "): " << r.refusal->reason
        << (r.refusal->page ? " [pages a person]" : "") << "\n";
  } else {
    out << "  the planner decided nothing\n";
  }
  return out.str();
}

}  // namespace flinkguard
