#pragma once

// What to send, and to whom: turns rule transitions and recovery events into outbox entries.
// Pure: no I/O, no clock (every call takes `now_ms`), no threads. The caller writes the entries
// in the same transaction as the events that caused them, then calls Commit; a batch that was
// not committed (the transaction failed) is simply dropped and the state stays as it was.
//
// Lifecycle per alert (alertname, job, cluster): the first firing is sent at once; further
// firings while it fires are deduplicated; the resolve is sent at once when the firing was
// sent. A firing that comes back within group_interval of the alert's last notification is held
// and sent by Tick once group_interval has passed, and dropped if it resolves before that: a
// flapping job notifies at most once per group_interval. While an alert fires, Tick re-sends it
// to each receiver every repeat_interval of that receiver (Alertmanager needs this: it resolves
// alerts that are not re-sent within its resolve_timeout).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "alerts/notification.h"
#include "rules/decision.h"
#include "rules/snapshot.h"
#include "storage/history_store.h"

namespace flinkguard {

struct ReceiverPolicy {
  std::string name;
  Severity min_severity = Severity::kInfo;
  std::int64_t repeat_interval_ms = 0;  // re-send a firing alert this often; 0 = never
};

// Sends what it matches to `receivers`. Every condition given must hold; empty = any.
struct AlertRoute {
  std::vector<std::string> receivers;
  std::optional<Severity> min_severity;
  std::vector<std::string> rules;  // globs over the alert name (the rule, flinkguard_recovery...)
  std::vector<std::string> jobs;   // globs over the job name
  std::map<std::string, std::string> match;  // labels that must have these values
};

struct AlertPolicy {
  std::vector<ReceiverPolicy> receivers;
  // Empty: every receiver gets every notification at or above its min_severity. Otherwise a
  // notification goes to the receivers of every route that matches it (still filtered by each
  // receiver's min_severity); a notification no route matches goes nowhere.
  std::vector<AlertRoute> routes;
  std::int64_t group_interval_ms = 5 * 60'000;
  std::map<std::string, std::string> cluster_urls;  // cluster -> Flink web URL (for the UI link)
  std::string instance;  // this agent (host name); an annotation, never a label
};

// What one call produced: entries to enqueue, and the state to keep once they are written.
struct AlertBatch {
  std::vector<OutboxEntry> entries;

 private:
  friend class AlertPlanner;
  struct Alert {
    Notification firing;  // the latest firing notification (what repeats re-send)
    bool firing_now = false;
    bool sent = false;  // the current firing was notified
    std::int64_t last_sent_ms = 0;
    std::map<std::string, std::int64_t> last_repeat_ms;  // receiver -> last send of the firing
  };
  std::map<std::string, std::optional<Alert>> changes;  // key -> new state (nullopt = forget)
};

// The diagnosis of one job, from its latest snapshot.
struct JobDiagnosis {
  std::string cluster;  // where the job was last seen
  std::string job_id;
  std::string root_exception;
  std::string backpressured_vertex;  // "name (85% backpressured)"
  std::string checkpoint;            // "last completed 812 (age 41 s), 3 failed"
};

JobDiagnosis DiagnosisOf(const JobSnapshot& s);

class AlertPlanner {
 public:
  explicit AlertPlanner(AlertPolicy policy);
  // A reloaded configuration: the alerts firing now stay firing (and are resolved later).
  void SetPolicy(AlertPolicy policy) { policy_ = std::move(policy); }

  // Remembers each job's diagnosis (by job name) for the notifications that follow.
  void Observe(const std::vector<JobSnapshot>& jobs);

  // firing (-> kFiring) and resolved (kFiring -> kInactive) transitions; others ignored.
  AlertBatch OnTransitions(const std::vector<RuleTransition>& transitions, std::int64_t now_ms);
  // A recovery started (the executor journaled it). Dry runs are not notified.
  AlertBatch OnRecoveryStarted(const RecoveryRecord& r, std::int64_t now_ms);
  // A recovery ended: succeeded resolves flinkguard_recovery (and any recovery_failed or
  // gave_up alert of the job); failed resolves flinkguard_recovery and fires recovery_failed.
  AlertBatch OnRecoveryEnded(const RecoveryRecord& r, const std::string& new_job_id,
                             std::int64_t now_ms);
  // The planner refused to act and a person must look (Refusal::page): fires gave_up.
  AlertBatch OnGaveUp(const Refusal& refusal, std::int64_t now_ms);
  // Held firings whose group_interval passed, and repeats that are due.
  AlertBatch Tick(std::int64_t now_ms);
  // Keeps the batch's state: call once its entries are written.
  void Commit(AlertBatch& batch);

  // Alerts firing now (for tests and the admin API).
  std::vector<Notification> Firing() const;

  // The receivers `n` goes to, in policy order.
  std::vector<const ReceiverPolicy*> Route(const Notification& n) const;

 private:
  using Alert = AlertBatch::Alert;
  Notification Base(const std::string& alertname, const std::string& job,
                    const std::string& cluster, const std::string& job_id, Severity severity,
                    std::int64_t now_ms) const;
  void Plan(const Notification& n, std::int64_t now_ms, AlertBatch& batch) const;
  void Emit(const Notification& n, const ReceiverPolicy& r, std::int64_t now_ms,
            const std::string& tag, AlertBatch& batch) const;
  const Alert* Current(const AlertBatch& batch, const std::string& key) const;

  AlertPolicy policy_;
  std::map<std::string, JobDiagnosis> diagnosis_;  // job name -> latest
  std::map<std::string, Alert> alerts_;            // AlertKey -> state
};

}  // namespace flinkguard
