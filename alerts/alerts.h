#pragma once

// flinkguard_alerts: notifiers (webhook, Alertmanager, Slack, PagerDuty, command) and the
// durable outbox delivery worker. Severity, shared with the rules, lives in rules/severity.h.

#include "rules/severity.h"

namespace flinkguard {

// True when an alert of `severity` goes to a receiver whose threshold is `min_severity`.
inline bool SeverityPasses(Severity severity, Severity min_severity) {
  return severity >= min_severity;
}

}  // namespace flinkguard
