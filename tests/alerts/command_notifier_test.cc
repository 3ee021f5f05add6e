// The command hook runs real programs (shell scripts written by the test): the alert arrives in
// environment variables and as JSON on stdin, arguments are passed without a shell, a program
// that outlives its timeout is killed, and exit statuses map to delivered/retry/permanent.

#include "alerts/command_notifier.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "alerts/alert_planner.h"
#include "tests/support/test_support.h"

using namespace flinkguard;
using namespace flinkguard::testing;

namespace {

std::string Script(const TempDir& dir, const std::string& name, const std::string& body) {
  const std::string path = dir.File(name);
  std::ofstream(path) << "#!/bin/sh\n" << body;
  chmod(path.c_str(), 0755);
  return path;
}

Notification Sample() {
  AlertPolicy policy;
  policy.receivers = {{"cmd", Severity::kInfo, 0}};
  policy.cluster_urls = {{"yarn-a", "http://jm-a:8081"}};
  AlertPlanner p(policy);
  RuleTransition t;
  t.rule = "job-failed";
  t.job = "ads";
  t.cluster = "yarn-a";
  t.job_id = "a1b2c3";
  t.from = RuleState::kInactive;
  t.to = RuleState::kFiring;
  t.severity = Severity::kCritical;
  t.reason = "status == FAILED";
  auto n = NotificationFromJson(p.OnTransitions({t}, 1'763'762'400'000).entries.at(0).payload);
  REQUIRE(n.has_value());
  return *n;
}

}  // namespace

TEST_CASE("the command hook gets the alert in its environment and on stdin, without a shell") {
  TempDir dir("fg-cmd");
  const std::string out = dir.File("out");
  const std::string prog = Script(dir, "hook.sh",
                                  "env | grep '^FLINKGUARD_ALERT_' | sort > \"$1/env\"\n"
                                  "cat > \"$1/stdin\"\n"
                                  "printf '%s' \"$2\" > \"$1/arg\"\n");
  CommandNotifier hook(
      {"cmd", {prog, dir.path(), "a; touch pwned $(id)"}, std::chrono::seconds(10)});
  const Notification n = Sample();
  const SendOutcome o = hook.Send(n, "job-failed/yarn-a/ads/firing/1");
  CHECK(o.kind == SendOutcome::Kind::kDelivered);
  const std::string env = ReadFile(dir.File("env"));
  for (const char* line : {"FLINKGUARD_ALERT_STATUS=firing\n", "FLINKGUARD_ALERT_NAME=job-failed\n",
                           "FLINKGUARD_ALERT_JOB=ads\n", "FLINKGUARD_ALERT_CLUSTER=yarn-a\n",
                           "FLINKGUARD_ALERT_SEVERITY=critical\n",
                           "FLINKGUARD_ALERT_KEY=job-failed/yarn-a/ads/firing/1\n",
                           "FLINKGUARD_ALERT_FLINK_UI=http://jm-a:8081/#/job/a1b2c3/overview\n",
                           "FLINKGUARD_ALERT_EVENT=firing\n"}) {
    CHECK_MESSAGE(env.find(line) != std::string::npos, line);
  }
  CHECK(ReadFile(dir.File("stdin")) == NotificationToJson(n));
  CHECK(ReadFile(dir.File("arg")) == "a; touch pwned $(id)");  // one argument, not run
  struct stat st {};
  CHECK(stat(dir.File("pwned").c_str(), &st) != 0);
}

TEST_CASE("a command past its timeout is killed and retried; exit statuses decide the rest") {
  TempDir dir("fg-cmd");
  const std::string pid_file = dir.File("pid");
  // Never reads stdin, writes its pid, then sleeps far past the timeout (exec keeps the pid).
  const std::string slow = Script(dir, "slow.sh", "echo $$ > \"$1\"\nexec sleep 60\n");
  CommandNotifier hook({"slow", {slow, pid_file}, std::chrono::milliseconds(500)});
  const SendOutcome o = hook.Send(Sample(), "k");
  CHECK(o.kind == SendOutcome::Kind::kRetry);
  CHECK(o.error == "receiver slow: timed out after 500 ms; killed");
  auto pid = WaitForFileLine(pid_file, std::chrono::seconds(5));
  REQUIRE(pid.has_value());
  CHECK(kill(std::stoi(*pid), 0) == -1);  // gone (killed and reaped)
  CHECK(errno == ESRCH);

  const std::string fails = Script(dir, "fails.sh", "exit 3\n");
  const SendOutcome f =
      CommandNotifier({"f", {fails}, std::chrono::seconds(10)}).Send(Sample(), "k");
  CHECK(f.kind == SendOutcome::Kind::kRetry);
  CHECK(f.error == "receiver f: exited with status 3");

  const SendOutcome missing =
      CommandNotifier({"m", {dir.File("no-such-program")}, std::chrono::seconds(10)})
          .Send(Sample(), "k");
  CHECK(missing.kind == SendOutcome::Kind::kPermanent);
  CHECK(missing.error.find("could not be run (exit 127)") != std::string::npos);
}
