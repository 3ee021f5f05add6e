#pragma once

// Telling the service manager how the agent is doing: systemd's notification protocol
// (Type=notify, WatchdogSec=) through libsystemd's sd_notify(3). Outside systemd (NOTIFY_SOCKET
// unset) every call does nothing, so `flinkguard run` behaves the same from a shell.

#include <chrono>
#include <cstddef>
#include <string>

namespace flinkguard {

// What the STATUS= line says after a cycle.
struct ServiceState {
  bool history = true;   // the history store is open; false: the agent observes only
  bool leading = false;  // this replica acts (single instance, or elected with `ha:`)
  bool dry_run = false;
  std::size_t jobs_seen = 0;  // job instances seen on the clusters in the last cycle
  std::size_t clusters = 0;
  std::size_t clusters_unreachable = 0;
  std::size_t recoveries_in_progress = 0;
};

// One line for `systemctl status`, e.g. "leader, 12 jobs, 0 recoveries in progress",
// "standby, 12 jobs" or "history unavailable: observing only, 12 jobs"; unreachable clusters
// and dry run are appended when they apply.
std::string ServiceStatusLine(const ServiceState& state);

// Sends READY=1, STATUS=, WATCHDOG=1, RELOADING=1 and STOPPING=1. Reads NOTIFY_SOCKET and
// WATCHDOG_USEC (WATCHDOG_PID, when set, must name this process) once, at construction.
// Used from the daemon's loop thread only; not thread-safe.
class ServiceNotifier {
 public:
  ServiceNotifier();

  // NOTIFY_SOCKET was set: the process runs under a service manager that listens.
  bool enabled() const { return enabled_; }
  // WatchdogSec= as passed in WATCHDOG_USEC; zero when there is no watchdog.
  std::chrono::microseconds watchdog_timeout() const { return watchdog_; }

  // READY=1 with a STATUS= line: startup (or a reload) is complete.
  void Ready(const std::string& status);
  // STATUS=, sent only when it differs from the last status sent.
  void Status(const std::string& status);
  // WATCHDOG=1 when a watchdog is set and a quarter of its timeout has passed since the last
  // one (so a loop that wakes often does not flood the manager). The caller calls it only while
  // healthy: after each loop pass that completed, never from another thread.
  void Watchdog(std::chrono::steady_clock::time_point now);
  // RELOADING=1 (with MONOTONIC_USEC): a SIGHUP reload has begun; Ready() ends it.
  void Reloading();
  // STOPPING=1: the agent is shutting down.
  void Stopping();

 private:
  void Send(const std::string& message);

  bool enabled_ = false;
  std::chrono::microseconds watchdog_{0};
  bool pinged_ = false;
  std::chrono::steady_clock::time_point last_ping_{};
  std::string last_status_;
  bool warned_ = false;
};

}  // namespace flinkguard
