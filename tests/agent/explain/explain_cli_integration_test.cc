// `flinkguard explain` as an operator runs it: the built binary, a generated config, a flinksim
// cluster on 127.0.0.1 whose job failed for good. Polling loops are bounded.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/agent/observer/flinksim_process.h"
#include "tests/support/test_support.h"

namespace flinkguard {
namespace {

using testing::ChildProcess;
using testing::FlinksimProcess;
using testing::TempDir;
using namespace std::chrono_literals;

struct Run {
  int exit_code = -1;  // -1: did not exit normally in time
  std::string out;
  std::string err;
};

// Runs `args` with stdout and stderr in separate files under `dir`; waits at most `limit`.
Run RunBinary(const std::vector<std::string>& args, const TempDir& dir,
              std::chrono::milliseconds limit) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" 2>'" + dir.File("stderr") + "'",
                                   "sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess proc = ChildProcess::Start(argv, dir.File("stdout"));
  const auto end = std::chrono::steady_clock::now() + limit;
  while (proc.Running() && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(20ms);
  }
  Run r;
  const int status = proc.Stop();
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.out = testing::ReadFile(dir.File("stdout"));
  r.err = testing::ReadFile(dir.File("stderr"));
  return r;
}

TEST_CASE("flinkguard explain: a FAILED job would be restored from its last checkpoint") {
  FlinksimProcess sim("sim", {"--jobs", "1"});
  REQUIRE(sim.WaitReady(1));
  sim.Control("fail_job",
              R"({"job":"job-0","terminal":true,"exception":"java.io.IOException: disk full"})");
  std::string checkpoint;
  for (int i = 0; i < 300; ++i) {  // at most 15 s
    const rapidjson::Document doc = sim.SimJobs();
    const rapidjson::Value& j = FlinksimProcess::SimJob(doc, "job-0");
    if (std::string(j["status"].GetString()) == "FAILED") {
      checkpoint = j["checkpoints"]["latest_completed"].GetString();
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE_FALSE(checkpoint.empty());

  TempDir dir("explain-cli");
  const std::string config_path = dir.File("flinkguard.yaml");
  {
    std::ofstream config(config_path);
    config << "region: test\n"
              "agent:\n"
              "  state_dir: "
           << dir.File("state")
           << "\n"
              "  log_level: warn\n"
              "  instance_id: explain-cli-test\n"
              "clusters:\n"
              "  - {name: sim, url: \""
           << sim.rest()
           << "\", timeout: 3s, connect_timeout: 1s}\n"
              "jobs:\n"
              "  - {name: job-0, cluster: sim, jar: /opt/jobs/job-0.jar}\n";
  }

  SUBCASE("the plan names the checkpoint") {
    const Run run =
        RunBinary({FLINKGUARD_BINARY, "explain", "--config", config_path, "--job", "job-0"}, dir,
                  30s);
    INFO("stdout: " << run.out);
    INFO("stderr: " << run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(run.out.find("instance sim/") != std::string::npos);
    CHECK(run.out.find("FAILED") != std::string::npos);
    CHECK(run.out.find("job-failed: firing") != std::string::npos);
    CHECK(run.out.find("recover rules firing: job-failed") != std::string::npos);
    CHECK(run.out.find("plan (dry run): restore from checkpoint ") != std::string::npos);
    CHECK(run.out.find(checkpoint) != std::string::npos);
    CHECK(run.out.find("why: ") != std::string::npos);
  }
  SUBCASE("a job neither seen nor in the catalog") {
    const Run run =
        RunBinary({FLINKGUARD_BINARY, "explain", "--config", config_path, "--job", "nope"}, dir,
                  30s);
    INFO("stdout: " << run.out);
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("job 'nope' is not running on any configured cluster") !=
          std::string::npos);
    CHECK(run.out.empty());
  }
}

}  // namespace
}  // namespace flinkguard
