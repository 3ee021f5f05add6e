#pragma once

// The command hook: runs a program (no shell) with the alert in environment variables and as
// JSON on stdin, and waits for it up to a timeout.

#include <chrono>
#include <string>
#include <vector>

#include "alerts/notifier.h"

namespace flinkguard {

struct CommandSettings {
  std::string name;               // the receiver's name
  std::vector<std::string> argv;  // argv[0] an absolute path
  std::chrono::milliseconds timeout{10000};
};

// Environment given to the program, on top of the agent's own: FLINKGUARD_ALERT_STATUS
// (firing|resolved), _EVENT, _NAME (alertname), _JOB, _CLUSTER, _SEVERITY, _SUMMARY, _FLINK_UI,
// _KEY (the idempotency key) and FLINKGUARD_ALERT_JSON_VERSION=1; stdin is
// NotificationToJson(n). Exit 0 = delivered; a program that cannot be started (exit 126/127)
// is a permanent failure; any other exit status, a signal or the timeout (the process group is
// then killed with SIGKILL) is retried.
class CommandNotifier final : public Notifier {
 public:
  explicit CommandNotifier(CommandSettings settings);
  SendOutcome Send(const Notification& n, const std::string& idempotency_key) override;

 private:
  CommandSettings s_;
};

}  // namespace flinkguard
