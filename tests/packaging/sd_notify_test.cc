// ServiceNotifier against a real unix datagram socket standing in for systemd, and the STATUS=
// line. Time points are passed explicitly: no sleeping.

#include "agent/sd_notify.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/packaging/notify_listener.h"
#include "tests/support/test_support.h"

namespace flinkguard {
namespace {

using testing::Field;
using testing::HasLine;
using testing::NotifyListener;
using namespace std::chrono_literals;

// Sets NOTIFY_SOCKET (and optionally the watchdog variables) for the notifiers built in its
// scope; restores an unset environment afterwards.
class NotifyEnv {
 public:
  NotifyEnv(const std::string& socket, const std::string& watchdog_usec = "",
            const std::string& watchdog_pid = "") {
    ::setenv("NOTIFY_SOCKET", socket.c_str(), 1);
    if (!watchdog_usec.empty()) ::setenv("WATCHDOG_USEC", watchdog_usec.c_str(), 1);
    if (!watchdog_pid.empty()) ::setenv("WATCHDOG_PID", watchdog_pid.c_str(), 1);
  }
  NotifyEnv(const NotifyEnv&) = delete;
  NotifyEnv& operator=(const NotifyEnv&) = delete;
  ~NotifyEnv() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
};

TEST_CASE("status line: leader, standby, no history, unreachable clusters, dry run") {
  ServiceState s;
  s.leading = true;
  s.jobs_seen = 12;
  s.clusters = 2;
  CHECK(ServiceStatusLine(s) == "leader, 12 jobs, 0 recoveries in progress");
  s.recoveries_in_progress = 1;
  s.jobs_seen = 1;
  CHECK(ServiceStatusLine(s) == "leader, 1 job, 1 recovery in progress");
  s.leading = false;
  CHECK(ServiceStatusLine(s) == "standby, 1 job");
  s.history = false;
  s.clusters_unreachable = 1;
  s.dry_run = true;
  CHECK(ServiceStatusLine(s) ==
        "history unavailable: observing only, 1 job, 1 of 2 clusters unreachable, dry run");
}

TEST_CASE("without NOTIFY_SOCKET nothing is sent and there is no watchdog") {
  testing::TempDir dir("fg-sdnotify");
  NotifyListener manager(dir.File("notify.sock"));
  ::unsetenv("NOTIFY_SOCKET");
  ::setenv("WATCHDOG_USEC", "1000000", 1);
  ServiceNotifier n;
  ::unsetenv("WATCHDOG_USEC");
  CHECK_FALSE(n.enabled());
  CHECK(n.watchdog_timeout().count() == 0);
  n.Ready("leader, 0 jobs, 0 recoveries in progress");
  n.Watchdog(std::chrono::steady_clock::now());
  n.Stopping();
  CHECK_FALSE(manager.Next(100ms).has_value());
}

TEST_CASE("READY, STATUS only when it changes, RELOADING then READY, STOPPING") {
  testing::TempDir dir("fg-sdnotify");
  NotifyListener manager(dir.File("notify.sock"));
  NotifyEnv env(manager.path());
  ServiceNotifier n;
  CHECK(n.enabled());
  CHECK(n.watchdog_timeout().count() == 0);

  n.Ready("leader, 3 jobs, 0 recoveries in progress");
  auto m = manager.Next(2s);
  REQUIRE(m);
  CHECK(HasLine(*m, "READY=1"));
  CHECK(Field(*m, "STATUS") == "leader, 3 jobs, 0 recoveries in progress");

  n.Status("leader, 3 jobs, 0 recoveries in progress");  // unchanged: not sent
  n.Status("leader, 3 jobs, 1 recovery in progress");
  m = manager.Next(2s);
  REQUIRE(m);
  CHECK(*m == "STATUS=leader, 3 jobs, 1 recovery in progress");

  n.Reloading();
  m = manager.Next(2s);
  REQUIRE(m);
  CHECK(HasLine(*m, "RELOADING=1"));
  const std::optional<std::string> usec = Field(*m, "MONOTONIC_USEC");
  REQUIRE(usec);
  CHECK(std::stoll(*usec) > 0);
  n.Ready("reloaded");
  m = manager.Next(2s);
  REQUIRE(m);
  CHECK(HasLine(*m, "READY=1"));

  n.Stopping();
  m = manager.Next(2s);
  REQUIRE(m);
  CHECK(HasLine(*m, "STOPPING=1"));
  CHECK_FALSE(manager.Next(50ms).has_value());
}

TEST_CASE("WATCHDOG=1 at most every quarter of WATCHDOG_USEC") {
  testing::TempDir dir("fg-sdnotify");
  NotifyListener manager(dir.File("notify.sock"));
  NotifyEnv env(manager.path(), "4000000");  // WatchdogSec=4s: at most one ping per second
  ServiceNotifier n;
  REQUIRE(n.watchdog_timeout() == std::chrono::seconds(4));
  const auto t0 = std::chrono::steady_clock::now();
  n.Watchdog(t0);
  n.Watchdog(t0 + 500ms);   // too soon: dropped
  n.Watchdog(t0 + 999ms);   // too soon: dropped
  n.Watchdog(t0 + 1000ms);  // sent
  n.Watchdog(t0 + 2500ms);  // sent
  int pings = 0;
  for (int i = 0; i < 10; ++i) {
    auto m = manager.Next(100ms);
    if (!m) break;
    CHECK(*m == "WATCHDOG=1");
    ++pings;
  }
  CHECK(pings == 3);
}

TEST_CASE("a watchdog meant for another process is not this one's") {
  testing::TempDir dir("fg-sdnotify");
  NotifyListener manager(dir.File("notify.sock"));
  SUBCASE("WATCHDOG_PID names another process") {
    NotifyEnv env(manager.path(), "4000000", std::to_string(::getpid() + 1));
    ServiceNotifier n;
    CHECK(n.watchdog_timeout().count() == 0);
    n.Watchdog(std::chrono::steady_clock::now());
    CHECK_FALSE(manager.Next(100ms).has_value());
  }
  SUBCASE("WATCHDOG_PID names this process") {
    NotifyEnv env(manager.path(), "4000000", std::to_string(::getpid()));
    ServiceNotifier n;
    CHECK(n.watchdog_timeout() == std::chrono::seconds(4));
  }
}

}  // namespace
}  // namespace flinkguard
