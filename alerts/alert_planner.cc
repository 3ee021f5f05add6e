#include "alerts/alert_planner.h"

#include <cmath>

#include "rules/rule_engine.h"

namespace flinkguard {
namespace {

std::string FirstLines(const std::string& text, int lines, std::size_t max_chars) {
  std::size_t end = 0;
  for (int i = 0; i < lines && end != std::string::npos; ++i) {
    end = text.find('\n', end == 0 && i == 0 ? 0 : end + 1);
  }
  std::string out = end == std::string::npos ? text : text.substr(0, end);
  if (out.size() > max_chars) out.resize(max_chars);
  return out;
}

bool AnyGlob(const std::vector<std::string>& globs, const std::string& name) {
  if (globs.empty()) return true;
  for (const std::string& g : globs) {
    if (MatchesGlob(g, name)) return true;
  }
  return false;
}

}  // namespace

JobDiagnosis DiagnosisOf(const JobSnapshot& s) {
  JobDiagnosis d;
  d.cluster = s.cluster;
  d.job_id = s.job_id;
  d.root_exception = FirstLines(s.root_exception, 5, 2000);
  if (!s.backpressured_vertex.empty()) {
    d.backpressured_vertex = s.backpressured_vertex;
    if (s.backpressure.known()) {
      d.backpressured_vertex +=
          " (" + std::to_string(static_cast<int>(std::lround(*s.backpressure.value * 100.0))) +
          "% backpressured)";
    }
  }
  std::string cp;
  if (s.last_checkpoint.known()) {
    cp = "last completed checkpoint " + std::to_string(s.last_checkpoint.value->id);
    if (s.checkpoint_age_ms.known()) {
      cp += " (age " + std::to_string(*s.checkpoint_age_ms.value / 1000) + " s)";
    }
  } else if (s.last_checkpoint.fresh()) {
    cp = "no completed checkpoint";
  }
  if (s.checkpoints_failed.known() && *s.checkpoints_failed.value > 0) {
    cp += (cp.empty() ? "" : ", ") + std::to_string(*s.checkpoints_failed.value) +
          " failed checkpoints";
  }
  d.checkpoint = cp;
  return d;
}

AlertPlanner::AlertPlanner(AlertPolicy policy) : policy_(std::move(policy)) {}

void AlertPlanner::Observe(const std::vector<JobSnapshot>& jobs) {
  for (const JobSnapshot& s : jobs) {
    if (!s.name.empty()) diagnosis_[s.name] = DiagnosisOf(s);
  }
}

Notification AlertPlanner::Base(const std::string& alertname, const std::string& job,
                                const std::string& cluster, const std::string& job_id,
                                Severity severity, std::int64_t now_ms) const {
  Notification n;
  n.alertname = alertname;
  n.job = job;
  n.cluster = cluster;
  n.severity = severity;
  n.at_ms = now_ms;
  n.starts_ms = now_ms;
  n.labels = {{"alertname", alertname},
              {"job", job},
              {"cluster", cluster},
              {"severity", SeverityName(severity)}};
  if (!policy_.instance.empty()) n.annotations["instance"] = policy_.instance;
  std::string id = job_id;
  if (auto d = diagnosis_.find(job); d != diagnosis_.end()) {
    if (id.empty()) id = d->second.job_id;
    if (!d->second.root_exception.empty()) {
      n.annotations["root_exception"] = d->second.root_exception;
    }
    if (!d->second.backpressured_vertex.empty()) {
      n.annotations["backpressured_vertex"] = d->second.backpressured_vertex;
    }
    if (!d->second.checkpoint.empty()) n.annotations["checkpoint"] = d->second.checkpoint;
  }
  if (!id.empty()) {
    n.annotations["job_id"] = id;
    if (auto u = policy_.cluster_urls.find(cluster); u != policy_.cluster_urls.end()) {
      std::string base = u->second;
      while (!base.empty() && base.back() == '/') base.pop_back();
      n.flink_ui = base + "/#/job/" + id + "/overview";
      n.annotations["flink_ui"] = n.flink_ui;
    }
  }
  return n;
}

std::vector<const ReceiverPolicy*> AlertPlanner::Route(const Notification& n) const {
  std::vector<const ReceiverPolicy*> out;
  for (const ReceiverPolicy& r : policy_.receivers) {
    if (n.severity < r.min_severity) continue;
    bool routed = policy_.routes.empty();
    for (const AlertRoute& route : policy_.routes) {
      if (routed) break;
      bool names = false;
      for (const std::string& name : route.receivers) names = names || name == r.name;
      if (!names) continue;
      if (route.min_severity && n.severity < *route.min_severity) continue;
      if (!AnyGlob(route.rules, n.alertname) || !AnyGlob(route.jobs, n.job)) continue;
      bool labels = true;
      for (const auto& [k, v] : route.match) {
        auto it = n.labels.find(k);
        labels = labels && it != n.labels.end() && it->second == v;
      }
      routed = labels;
    }
    if (routed) out.push_back(&r);
  }
  return out;
}

void AlertPlanner::Emit(const Notification& n, const ReceiverPolicy& r, std::int64_t now_ms,
                        const std::string& tag, AlertBatch& batch) const {
  OutboxEntry e;
  e.receiver = r.name;
  // Deterministic: the same event at the same time gives the same key, so a retried write is
  // a no-op, and a receiver that deduplicates sees one notification per event.
  e.idempotency_key =
      n.AlertKey() + "/" + NotificationStatusName(n.status) + "/" + std::to_string(now_ms) + tag;
  e.payload = NotificationToJson(n);
  e.created_ms = now_ms;
  e.next_attempt_ms = now_ms;
  batch.entries.push_back(std::move(e));
}

const AlertPlanner::Alert* AlertPlanner::Current(const AlertBatch& batch,
                                                 const std::string& key) const {
  if (auto c = batch.changes.find(key); c != batch.changes.end()) {
    return c->second ? &*c->second : nullptr;
  }
  auto it = alerts_.find(key);
  return it == alerts_.end() ? nullptr : &it->second;
}

void AlertPlanner::Plan(const Notification& n, std::int64_t now_ms, AlertBatch& batch) const {
  const std::string key = n.AlertKey();
  const Alert* cur = Current(batch, key);
  if (n.status == NotificationStatus::kFiring) {
    if (cur != nullptr && cur->firing_now) {
      Alert a = *cur;  // deduplicated; later repeats carry the newest annotations
      Notification f = n;
      f.starts_ms = a.firing.starts_ms;
      a.firing = std::move(f);
      batch.changes[key] = std::move(a);
      return;
    }
    Alert a;
    if (cur != nullptr) a = *cur;
    a.firing = n;
    a.firing_now = true;
    // A rule that came back too soon is held until group_interval has passed (flapping). An
    // action flinkguard takes is an event, never held: each recovery, failover or cancel is
    // told (max_recoveries per window bounds how many there are).
    if (cur != nullptr && now_ms - cur->last_sent_ms < policy_.group_interval_ms &&
        n.alertname != kRecoveryAlert) {
      a.sent = false;
      batch.changes[key] = std::move(a);
      return;
    }
    a.sent = true;
    a.last_sent_ms = now_ms;
    for (const ReceiverPolicy* r : Route(n)) {
      Emit(n, *r, now_ms, "", batch);
      a.last_repeat_ms[r->name] = now_ms;
    }
    batch.changes[key] = std::move(a);
    return;
  }
  // Resolved.
  if (cur == nullptr || !cur->firing_now) return;  // nothing fires: nothing to resolve
  Alert a = *cur;
  a.firing_now = false;
  if (a.sent) {
    Notification r = n;
    r.starts_ms = a.firing.starts_ms;
    r.ends_ms = now_ms;
    // The resolve carries the identity of what fired (same labels) plus its own annotations.
    r.labels = a.firing.labels;
    for (const auto& [k, v] : a.firing.annotations) r.annotations.emplace(k, v);
    for (const ReceiverPolicy* rp : Route(r)) Emit(r, *rp, now_ms, "", batch);
    a.last_sent_ms = now_ms;
  }
  a.sent = false;
  a.last_repeat_ms.clear();
  batch.changes[key] = std::move(a);
}

AlertBatch AlertPlanner::OnTransitions(const std::vector<RuleTransition>& transitions,
                                       std::int64_t now_ms) {
  AlertBatch batch;
  for (const RuleTransition& t : transitions) {
    const bool firing = t.to == RuleState::kFiring && t.from != RuleState::kFiring;
    const bool resolved = t.from == RuleState::kFiring && t.to == RuleState::kInactive;
    if (!firing && !resolved) continue;
    Notification n = Base(t.rule, t.job, t.cluster, t.job_id, t.severity, now_ms);
    for (const auto& [k, v] : t.labels) n.labels.emplace(k, v);
    for (const auto& [k, v] : t.annotations) n.annotations[k] = v;
    n.status = firing ? NotificationStatus::kFiring : NotificationStatus::kResolved;
    n.event = firing ? "firing" : "resolved";
    n.annotations["reason"] = t.reason;
    n.annotations.emplace(
        "summary", t.rule + " " + n.event + " for " + t.job + " on " + t.cluster + ": " + t.reason);
    Plan(n, now_ms, batch);
  }
  return batch;
}

AlertBatch AlertPlanner::OnRecoveryStarted(const RecoveryRecord& r, std::int64_t now_ms) {
  AlertBatch batch;
  if (r.dry_run) return batch;
  Notification n = Base(std::string(kRecoveryAlert), r.job, r.cluster, "", r.severity, now_ms);
  n.status = NotificationStatus::kFiring;
  n.event = "recovery-started";
  const std::string from =
      std::string(StrategyName(r.strategy)) + (r.restore_path.empty() ? "" : " " + r.restore_path);
  // What on-call reads first says what kind of action this is (RecoveryRecord::trigger).
  if (r.trigger == "failover") {
    n.annotations["summary"] = "failing " + r.job + " over to " + r.cluster + " from " + from;
  } else if (r.trigger == "failback") {
    n.annotations["summary"] = "moving " + r.job + " back home to " + r.cluster + " from " + from;
  } else if (r.trigger == "stale-copy") {
    n.annotations["summary"] = "cancelling a stale copy of " + r.job + " on " + r.cluster;
  } else {
    n.annotations["summary"] = "recovering " + r.job + " on " + r.cluster + " from " + from;
  }
  if (!r.trigger.empty()) n.annotations["trigger"] = r.trigger;
  n.annotations["restore_point"] = from;
  n.annotations["restore_reason"] = r.reason;
  n.annotations["rules"] = r.rules;
  n.annotations["recovery_id"] = r.id;
  Plan(n, now_ms, batch);
  return batch;
}

AlertBatch AlertPlanner::OnRecoveryEnded(const RecoveryRecord& r, const std::string& new_job_id,
                                         std::int64_t now_ms) {
  AlertBatch batch;
  if (r.dry_run) return batch;
  const bool ok = r.outcome == RecoveryAttempt::Outcome::kSucceeded;
  const std::string from =
      std::string(StrategyName(r.strategy)) + (r.restore_path.empty() ? "" : " " + r.restore_path);
  auto with = [&](std::string_view alertname, Severity sev, NotificationStatus status,
                  const std::string& event, const std::string& summary) {
    Notification n =
        Base(std::string(alertname), r.job, r.cluster, ok ? new_job_id : "", sev, now_ms);
    n.status = status;
    n.event = event;
    n.annotations["summary"] = summary;
    n.annotations["restore_point"] = from;
    n.annotations["restore_reason"] = r.reason;
    n.annotations["recovery_id"] = r.id;
    if (!r.error.empty()) n.annotations["error"] = r.error;
    Plan(n, now_ms, batch);
  };
  if (ok) {
    std::string s = "recovered " + r.job + " on " + r.cluster + " from " + from +
                    (new_job_id.empty() ? "" : ", now job " + new_job_id);
    if (r.trigger == "stale-copy") {
      s = "cancelled the stale copy of " + r.job + " on " + r.cluster;
    } else if (r.trigger == "failover") {
      s = "failed " + r.job + " over to " + r.cluster + " from " + from +
          (new_job_id.empty() ? "" : ", now job " + new_job_id);
    } else if (r.trigger == "failback") {
      s = "moved " + r.job + " back home to " + r.cluster + " from " + from +
          (new_job_id.empty() ? "" : ", now job " + new_job_id);
    }
    with(kRecoveryAlert, r.severity, NotificationStatus::kResolved, "recovery-succeeded", s);
    with(kRecoveryFailedAlert, Severity::kCritical, NotificationStatus::kResolved,
         "recovery-succeeded", s);
    with(kGaveUpAlert, Severity::kCritical, NotificationStatus::kResolved, "recovery-succeeded", s);
  } else {
    const std::string s =
        r.trigger == "stale-copy"
            ? "cancelling the stale copy of " + r.job + " on " + r.cluster + " failed: " + r.error
            : "recovery of " + r.job + " on " + r.cluster + " from " + from + " failed: " + r.error;
    with(kRecoveryAlert, r.severity, NotificationStatus::kResolved, "recovery-failed", s);
    with(kRecoveryFailedAlert, Severity::kCritical, NotificationStatus::kFiring, "recovery-failed",
         s);
  }
  return batch;
}

AlertBatch AlertPlanner::OnGaveUp(const Refusal& refusal, std::int64_t now_ms) {
  AlertBatch batch;
  std::string cluster;
  if (auto d = diagnosis_.find(refusal.job); d != diagnosis_.end()) cluster = d->second.cluster;
  Notification n =
      Base(std::string(kGaveUpAlert), refusal.job, cluster, "", Severity::kCritical, now_ms);
  n.status = NotificationStatus::kFiring;
  n.event = "gave-up";
  n.annotations["summary"] =
      "not recovering " + refusal.job + ", a person must look: " + refusal.reason;
  n.annotations["reason"] = refusal.reason;
  n.annotations["cause"] = RefusalCauseName(refusal.cause);
  Plan(n, now_ms, batch);
  return batch;
}

AlertBatch AlertPlanner::Tick(std::int64_t now_ms) {
  AlertBatch batch;
  for (const auto& [key, cur] : alerts_) {
    if (!cur.firing_now) {
      if (now_ms - cur.last_sent_ms >= policy_.group_interval_ms) batch.changes[key] = std::nullopt;
      continue;
    }
    Alert a = cur;
    if (!cur.sent) {
      if (now_ms - cur.last_sent_ms < policy_.group_interval_ms) continue;
      Notification n = cur.firing;
      n.at_ms = now_ms;
      a.sent = true;
      a.last_sent_ms = now_ms;
      for (const ReceiverPolicy* r : Route(n)) {
        Emit(n, *r, now_ms, "", batch);
        a.last_repeat_ms[r->name] = now_ms;
      }
      batch.changes[key] = std::move(a);
      continue;
    }
    bool changed = false;
    for (const ReceiverPolicy* r : Route(cur.firing)) {
      if (r->repeat_interval_ms <= 0) continue;
      auto it = cur.last_repeat_ms.find(r->name);
      const std::int64_t last = it == cur.last_repeat_ms.end() ? cur.last_sent_ms : it->second;
      if (now_ms - last < r->repeat_interval_ms) continue;
      Notification n = cur.firing;
      n.at_ms = now_ms;
      Emit(n, *r, now_ms, "/repeat", batch);
      a.last_repeat_ms[r->name] = now_ms;
      changed = true;
    }
    if (changed) batch.changes[key] = std::move(a);
  }
  return batch;
}

void AlertPlanner::Commit(AlertBatch& batch) {
  for (auto& [key, change] : batch.changes) {
    if (change) {
      alerts_[key] = std::move(*change);
    } else {
      alerts_.erase(key);
    }
  }
  batch.changes.clear();
}

std::vector<Notification> AlertPlanner::Firing() const {
  std::vector<Notification> out;
  for (const auto& [key, a] : alerts_) {
    if (a.firing_now) out.push_back(a.firing);
  }
  return out;
}

}  // namespace flinkguard
