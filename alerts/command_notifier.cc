#include "alerts/command_notifier.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace flinkguard {

CommandNotifier::CommandNotifier(CommandSettings settings) : s_(std::move(settings)) {}

SendOutcome CommandNotifier::Send(const Notification& n, const std::string& key) {
  const std::string what = "receiver " + s_.name;
  if (s_.argv.empty()) return SendOutcome::Permanent(what + ": no command configured");
  // Everything the child needs is built before fork: after fork only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "FLINKGUARD_ALERT_", 17) != 0) env_strings.emplace_back(*e);
  }
  auto add = [&](const char* k, const std::string& v) {
    env_strings.push_back(std::string("FLINKGUARD_ALERT_") + k + "=" + v);
  };
  add("STATUS", NotificationStatusName(n.status));
  add("EVENT", n.event);
  add("NAME", n.alertname);
  add("JOB", n.job);
  add("CLUSTER", n.cluster);
  add("SEVERITY", SeverityName(n.severity));
  add("SUMMARY", n.Summary());
  add("FLINK_UI", n.flink_ui);
  add("KEY", key);
  add("JSON_VERSION", "1");
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = s_.argv;
  std::vector<char*> argv;
  for (std::string& a : argv_copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string json = NotificationToJson(n);

  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) {
    return SendOutcome::Retry(what + ": pipe: " + std::strerror(errno));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(in[0]);
    close(in[1]);
    return SendOutcome::Retry(what + ": fork: " + std::strerror(errno));
  }
  if (pid == 0) {
    setpgid(0, 0);  // its own process group, so a timeout kills its children too
    dup2(in[0], 0);
    const int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      dup2(null, 1);
      dup2(null, 2);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent: no race with the kill below
  close(in[0]);
  const auto deadline = std::chrono::steady_clock::now() + s_.timeout;
  auto left_ms = [&] {
    return static_cast<int>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now())
               .count()));
  };
  // Feed stdin without blocking past the deadline (a program may never read it).
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  signal(SIGPIPE, SIG_IGN);  // a program that exits without reading must not kill the agent
  while (written < json.size() && left_ms() > 0) {
    pollfd p{in[1], POLLOUT, 0};
    if (poll(&p, 1, std::min(left_ms(), 100)) <= 0) continue;
    const ssize_t w = write(in[1], json.data() + written, json.size() - written);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      break;  // EPIPE: it closed stdin; its exit status decides
    }
    written += static_cast<std::size_t>(w);
  }
  close(in[1]);
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return SendOutcome::Retry(what + ": waitpid failed");
    if (left_ms() == 0) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return SendOutcome::Retry(what + ": timed out after " + std::to_string(s_.timeout.count()) +
                                " ms; killed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == 0) return SendOutcome::Delivered();
    if (code == 126 || code == 127) {
      return SendOutcome::Permanent(what + ": " + s_.argv[0] + " could not be run (exit " +
                                    std::to_string(code) + ")");
    }
    return SendOutcome::Retry(what + ": exited with status " + std::to_string(code));
  }
  return SendOutcome::Retry(what + ": killed by signal " +
                            std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0));
}

}  // namespace flinkguard
