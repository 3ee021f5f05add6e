// Runs the built flinkguard binary as a subprocess: what an operator sees from check-config.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

extern char** environ;

namespace {

struct ProcessResult {
  int exit_code = -1;  // -1 when the process did not exit normally
  std::string out;
  std::string err;
};

// Runs `argv` with the inherited environment plus `extra_env` ("K=V") and waits for it to exit,
// collecting stdout and stderr separately.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env = {}) {
  int out_pipe[2];
  int err_pipe[2];
  REQUIRE(pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(pipe2(err_pipe, O_CLOEXEC) == 0);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& e : extra_env) env_strings.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    execve(cargv[0], cargv.data(), envp.data());
    const char msg[] = "exec failed\n";
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);

  ProcessResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  REQUIRE_MESSAGE(v != nullptr, name << " must be set (ctest sets it)");
  return v;
}

std::string Binary() { return Env("FLINKGUARD_BINARY_DIR") + "/agent/flinkguard"; }

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("check-config reports all three mistakes with line:column and exits 1") {
  flinkguard::testing::TempDir dir("flinkguard-cli-it");
  const std::string path = dir.File("flinkguard.yaml");
  {
    std::ofstream f(path);
    f << "region: us-east-1\n"
         "agent:\n"
         "  poll_intervl: 10s\n"  // 1: unknown key (typo)
         "clusters:\n"
         "  - name: yarn-a\n"
         "    url: http://jm-a:8081\n"
         "    timeout: ten\n"  // 2: not a duration
         "jobs:\n"
         "  - name: ads-spend\n"
         "    cluster: yarn-b\n"  // 3: no such cluster
         "    jar: /srv/jobs/ads.jar\n";
  }
  const ProcessResult r = RunProcess({Binary(), "check-config", "--config", path});
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(Contains(r.err, path + ":3:3: agent.poll_intervl: unknown key 'poll_intervl'; did you "
                               "mean 'poll_interval'?\n"));
  CHECK(Contains(r.err, path + ":7:14: clusters[0].timeout: expected a duration such as 500ms, "
                               "10s, 5m, 1h"));
  CHECK(Contains(r.err, "found 'ten'"));
  CHECK(Contains(r.err, path + ":10:14: jobs[0].cluster: no cluster named 'yarn-b'"));
  CHECK(Contains(r.err, path + ": 3 problems; the configuration is not valid\n"));
}

TEST_CASE("check-config accepts the packaged example config") {
  const std::string example = Env("FLINKGUARD_SOURCE_DIR") + "/packaging/flinkguard.yaml";
  const ProcessResult r =
      RunProcess({Binary(), "check-config", "--config", example},
                 {"FLINKGUARD_PAGERDUTY_ROUTING_KEY=0123456789abcdef0123456789abcdef",
                  "FLINKGUARD_SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T0/B0/SECRET"});
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "config OK: region us-east-1, 2 clusters, 2 jobs, 4 rules, 3 alert receivers\n");
  CHECK(r.err.empty());
}

TEST_CASE("the binary's usage errors exit 2, a missing file exits 1") {
  const ProcessResult usage = RunProcess({Binary(), "check-config"});
  CHECK(usage.exit_code == 2);
  CHECK(Contains(usage.err, "--config is required"));
  const ProcessResult missing =
      RunProcess({Binary(), "check-config", "--config", "/nonexistent/fg.yaml"});
  CHECK(missing.exit_code == 1);
  CHECK(Contains(missing.err, "/nonexistent/fg.yaml: cannot read the config file"));
  const ProcessResult version = RunProcess({Binary(), "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.rfind("flinkguard 0.", 0) == 0);
  // The binary runs on the allocator the build chose (jemalloc unless sanitized or turned off).
#ifdef FLINKGUARD_WITH_JEMALLOC
  CHECK_MESSAGE(Contains(version.out, "\nallocator: jemalloc 5."), version.out);
#else
  CHECK_MESSAGE(Contains(version.out, "\nallocator: "), version.out);
  CHECK_FALSE(Contains(version.out, "jemalloc"));
#endif
}
