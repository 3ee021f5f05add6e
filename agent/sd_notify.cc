#include "agent/sd_notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdlib>
#include <ctime>

namespace flinkguard {

std::string ServiceStatusLine(const ServiceState& state) {
  std::string line;
  const std::string jobs =
      std::to_string(state.jobs_seen) + (state.jobs_seen == 1 ? " job" : " jobs");
  if (!state.history) {
    line = "history unavailable: observing only, " + jobs;
  } else if (state.leading) {
    line = "leader, " + jobs + ", " + std::to_string(state.recoveries_in_progress) +
           (state.recoveries_in_progress == 1 ? " recovery" : " recoveries") + " in progress";
  } else {
    line = "standby, " + jobs;
  }
  if (state.clusters_unreachable > 0) {
    line += ", " + std::to_string(state.clusters_unreachable) + " of " +
            std::to_string(state.clusters) + " clusters unreachable";
  }
  if (state.dry_run) line += ", dry run";
  return line;
}

ServiceNotifier::ServiceNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or this process.
  if (enabled_ && sd_watchdog_enabled(/*unset_environment=*/0, &usec) > 0) {
    watchdog_ = std::chrono::microseconds(static_cast<std::int64_t>(usec));
  }
}

void ServiceNotifier::Send(const std::string& message) {
  if (!enabled_) return;
  if (const int r = sd_notify(/*unset_environment=*/0, message.c_str()); r < 0 && !warned_) {
    // Once: a manager that stopped listening would otherwise be reported every loop pass.
    warned_ = true;
    spdlog::warn("cannot notify the service manager (NOTIFY_SOCKET): error {}", -r);
  }
}

void ServiceNotifier::Ready(const std::string& status) {
  last_status_ = status;
  Send("READY=1\nSTATUS=" + status);
}

void ServiceNotifier::Status(const std::string& status) {
  if (status == last_status_) return;
  last_status_ = status;
  Send("STATUS=" + status);
}

void ServiceNotifier::Watchdog(std::chrono::steady_clock::time_point now) {
  if (watchdog_.count() <= 0) return;
  if (pinged_ && now - last_ping_ < watchdog_ / 4) return;
  pinged_ = true;
  last_ping_ = now;
  Send("WATCHDOG=1");
}

void ServiceNotifier::Reloading() {
  // systemd 253+ wants the CLOCK_MONOTONIC time of the reload request alongside RELOADING=1.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const std::int64_t usec = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 +
                            static_cast<std::int64_t>(ts.tv_nsec) / 1000;
  Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void ServiceNotifier::Stopping() {
  last_status_ = "stopping";
  Send("STOPPING=1\nSTATUS=stopping");
}

}  // namespace flinkguard
