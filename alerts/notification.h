#pragma once

// One notification as the outbox stores it: what happened to which (alert, job, cluster), with
// the diagnosis. Receivers render it into their own payload when they send it, so the outbox
// holds no receiver secret (URLs with tokens, routing keys).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "rules/error.h"
#include "rules/severity.h"

namespace flinkguard {

// What a notification says about its alert.
enum class NotificationStatus { kFiring, kResolved };

// "firing" or "resolved".
const char* NotificationStatusName(NotificationStatus s);

// Alert names of the notifications flinkguard sends about its own recoveries (rule alerts are
// named after their rule).
inline constexpr std::string_view kRecoveryAlert = "flinkguard_recovery";  // in progress
inline constexpr std::string_view kRecoveryFailedAlert = "flinkguard_recovery_failed";
inline constexpr std::string_view kGaveUpAlert = "flinkguard_gave_up";  // a person must look

struct Notification {
  NotificationStatus status = NotificationStatus::kFiring;
  // "firing", "resolved", "recovery-started", "recovery-succeeded", "recovery-failed",
  // "gave-up": what caused this notification (receivers show it; routing does not use it).
  std::string event;
  std::string alertname;  // the rule, or one of the k*Alert names above
  std::string job;        // job name
  std::string cluster;
  Severity severity = Severity::kWarning;
  // Identify the alert: alertname, job, cluster, severity and the rule's own labels. Never
  // replica-specific values (several agents sending the same alert must collapse into one).
  std::map<std::string, std::string> labels;
  // Everything else: summary, reason, job_id, the diagnosis (root_exception,
  // backpressured_vertex, checkpoint, restore_point, restore_reason), flink_ui, the rule's own
  // annotations, and the sending instance.
  std::map<std::string, std::string> annotations;
  std::int64_t starts_ms = 0;  // when the alert started firing (epoch ms)
  std::int64_t ends_ms = 0;    // when it resolved; 0 while firing
  std::int64_t at_ms = 0;      // when this notification was made
  std::string flink_ui;        // link to the job in the Flink UI; "" when unknown

  // "<alertname>/<cluster>/<job>": stable per alert (PagerDuty dedup_key, grouping).
  std::string AlertKey() const;
  // The summary annotation, or "<alertname> <status> for <job> on <cluster>".
  std::string Summary() const;
};

// The notification as one JSON object (the outbox payload, the command hook's stdin).
std::string NotificationToJson(const Notification& n);
// Parses NotificationToJson's output. kInvalid naming the field when malformed.
Result<Notification> NotificationFromJson(std::string_view json);

// RFC 3339 UTC with milliseconds, e.g. "2026-11-21T22:01:38.123Z".
std::string Rfc3339(std::int64_t epoch_ms);

}  // namespace flinkguard
