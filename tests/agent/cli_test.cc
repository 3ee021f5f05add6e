#include "agent/cli.h"

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "tests/agent/config_test_helpers.h"
#include "tests/support/test_support.h"

using namespace flinkguard;
using namespace flinkguard::testing;

namespace {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

CliRun Run(std::vector<std::string> args, const ConfigEnvironment& env = FakeEnvironment()) {
  args.insert(args.begin(), "flinkguard");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out;
  std::ostringstream err;
  CliRun run;
  run.code = RunCli(static_cast<int>(argv.size()), argv.data(),
                    CliContext{out, err, env, /*setup_logging=*/false});
  run.out = out.str();
  run.err = err.str();
  return run;
}

}  // namespace

TEST_CASE("check-config on a valid file prints a one-line summary and exits 0") {
  TempDir dir("flinkguard-cli");
  WriteFile(dir.File("ok.yaml"), std::string(kMinimal) +
                                     "rules:\n"
                                     "  - {name: x, when: 'restarts > 1'}\n"
                                     "alerts:\n"
                                     "  - {type: pagerduty, routing_key_env: PD}\n");
  const CliRun r = Run({"check-config", "--config", dir.File("ok.yaml")},
                       FakeEnvironment({{"PD", "routing-key-secret"}}));
  CHECK(r.code == 0);
  CHECK(r.out == "config OK: region r1, 1 cluster, 0 jobs, 1 rule, 1 alert receiver\n");
  CHECK(r.err.empty());

  // --print adds the effective config, secrets hidden.
  const CliRun p = Run({"check-config", "-c", dir.File("ok.yaml"), "--print"},
                       FakeEnvironment({{"PD", "routing-key-secret"}}));
  CHECK(p.code == 0);
  CHECK(Contains(p.out, "poll_interval: 10s"));
  CHECK(Contains(p.out, "routing_key: \"***\"  # env PD"));
  CHECK_FALSE(Contains(p.out, "routing-key-secret"));
}

TEST_CASE("check-config on an invalid file lists every problem on stderr and exits 1") {
  TempDir dir("flinkguard-cli");
  WriteFile(dir.File("bad.yaml"),
            "region: r\n"
            "agent: {dry_run: yes}\n"
            "clusters:\n"
            "  - {name: a, url: 'jm:8081'}\n");
  const std::string path = dir.File("bad.yaml");
  const CliRun r = Run({"check-config", "--config", path});
  CHECK(r.code == 1);
  CHECK(r.out.empty());
  CHECK(r.err == path + ":2:18: agent.dry_run: expected true or false; found 'yes'\n" + path +
                     ":4:20: clusters[0].url: expected an http(s) URL such as "
                     "http://jobmanager:8081; found 'jm:8081': the scheme is missing: write "
                     "http://host:port or https://...\n" +
                     path + ": 2 problems; the configuration is not valid\n");
}

TEST_CASE("a missing config file is a clear error with exit code 1") {
  const CliRun r = Run({"check-config", "--config", "/nonexistent/flinkguard.yaml"});
  CHECK(r.code == 1);
  CHECK(Contains(r.err,
                 "/nonexistent/flinkguard.yaml: cannot read the config file: No such file "
                 "or directory\n"));
}

TEST_CASE("bad usage exits 2 with the parser's message") {
  const CliRun none = Run({});
  CHECK(none.code == 2);
  CHECK(Contains(none.err, "A subcommand is required"));
  const CliRun no_config = Run({"check-config"});
  CHECK(no_config.code == 2);
  CHECK(Contains(no_config.err, "--config is required"));
  const CliRun unknown = Run({"frobnicate"});
  CHECK(unknown.code == 2);
  const CliRun level = Run({"--log-level", "loud", "check-config", "-c", "x.yaml"});
  CHECK(level.code == 2);
  CHECK(Contains(level.err, "--log-level"));
}

TEST_CASE("--version and --help exit 0 on stdout") {
  const CliRun v = Run({"--version"});
  CHECK(v.code == 0);
  CHECK(v.out.rfind("flinkguard ", 0) == 0);
  const CliRun h = Run({"--help"});
  CHECK(h.code == 0);
  CHECK(Contains(h.out, "check-config"));
  CHECK(Contains(h.out, "--log-level"));
}
