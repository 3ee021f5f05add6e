// takeover_bench: how long a region is without an acting replica when the leader dies.
//
// Starts a real ZooKeeper server (Debian's, java) and one flinksim cluster running job-0 on
// 127.0.0.1, then two `flinkguard run` replicas with `ha:`. Each repetition kills the leader with
// SIGKILL and, at the same instant, fails job-0 terminally on flinksim; it times
//   lead       SIGKILL -> the standby logs "ZooKeeper: leading" (the dead leader's session
//              expires after the session timeout; its latch node goes with it);
//   recovered  SIGKILL -> flinksim runs a new instance of job-0 (the new leader observed the
//              failure, planned, took the job's lock and resubmitted).
// Then it starts a fresh replica in place of the dead one, so two compete again. A benchmark, not
// a test: it prints figures and asserts nothing about time; it exits non-zero when the setup fails
// or a repetition does not finish within its limit (60 s).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>


#include "tests/agent/ha/zk_server.h"
#include "tests/bench/bench_sim.h"
#include "tests/support/test_support.h"

namespace flinkguard::bench {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ChildProcess;
using testing::Sim;
using testing::TempDir;
using testing::ZkServer;
using namespace std::chrono_literals;

struct Replica {
  std::string id;
  std::optional<ChildProcess> process;
};

std::size_t Count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// The id of the newest RUNNING job-0 on flinksim ("" when none).
std::string RunningJob0(const Sim& sim) {
  return testing::NewestSimInstance(sim.Get("/_sim/jobs").body, "job-0", "RUNNING");
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int Run(int reps, int session_ms, int poll_ms) {
  TempDir dir("fg-takeover-bench");
  ZkServer zk(500);
  if (!zk.Start()) {
    std::fprintf(stderr, "ZooKeeper did not start:\n%s\n", zk.Log().c_str());
    return 1;
  }
  Sim sim(FLINKGUARD_BENCH_FLINKSIM, {});
  for (int i = 0; i < 200 && RunningJob0(sim).empty(); ++i) std::this_thread::sleep_for(50ms);
  if (RunningJob0(sim).empty()) {
    std::fprintf(stderr, "flinksim's job-0 is not RUNNING after 10 s\n");
    return 1;
  }
  {
    std::ofstream jar(dir.File("job-0.jar"));
    jar << "Manifest-Version: 1.0\nMain-Class: com.example.Events\nflinksim-job-name: job-0\n"
           "flinksim-parallelism: 2\nflinksim-checkpoint-interval: 2000ms\n";
  }
  auto start = [&](const std::string& id) {
    const std::string path = dir.File(id + ".yaml");
    std::ofstream out(path);
    out << "region: bench\nagent:\n  poll_interval: " << poll_ms << "ms\n  listen: 127.0.0.1:0\n"
        << "  state_dir: " << dir.path() << "/" << id << "\n  instance_id: " << id
        << "\nha:\n  zookeeper: \"" << zk.connect() << "\"\n  root: /flinkguard/bench\n"
        << "  session_timeout: " << session_ms << "ms\nclusters:\n  - {name: cluster-a, url: \""
        << sim.rest() << "\", timeout: 3s, connect_timeout: 1s}\njobs:\n  - name: job-0\n"
        << "    cluster: cluster-a\n    jar: " << dir.File("job-0.jar")
        << "\n    parallelism: 2\n    recovery: {cooldown: 0s, max_recoveries: 1000, window: 1m, "
           "stable_after: 0s}\nrules:\n  - {name: job-failed, when: \"status == FAILED\", "
           "action: recover, severity: critical}\n";
    out.close();
    Replica r;
    r.id = id;
    r.process.emplace(ChildProcess::Start({FLINKGUARD_BENCH_BINARY, "run", "--config", path},
                                          dir.File(id + ".log")));
    return r;
  };
  std::vector<Replica> replicas;
  replicas.push_back(start("r0"));
  replicas.push_back(start("r1"));
  int next_id = 2;

  auto leader = [&]() -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      const std::string log = replicas[i].process->Log();
      if (Count(log, "ZooKeeper: leading") > Count(log, "not leading any more")) return i;
    }
    return std::nullopt;
  };

  std::printf("takeover_bench: ZooKeeper session timeout %d ms, poll interval %d ms, %d "
              "repetitions (SIGKILL of the leader + a FAILED job at the same instant)\n",
              session_ms, poll_ms, reps);
  std::printf("%-4s %-10s %-10s\n", "rep", "lead_s", "recovered_s");
  std::vector<double> leads;
  std::vector<double> recovers;
  for (int rep = 1; rep <= reps; ++rep) {
    std::optional<std::size_t> l;
    const auto deadline = Clock::now() + 60s;
    while (!(l = leader()) && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
    if (!l) {
      std::fprintf(stderr, "no leader within 60 s\n");
      return 1;
    }
    // Every replica has seen job-0 healthy for a few cycles.
    std::this_thread::sleep_for(std::chrono::milliseconds(3 * poll_ms));
    const std::string old_id = RunningJob0(sim);
    const std::size_t standby = 1 - *l;
    const std::size_t leads_before = Count(replicas[standby].process->Log(), "ZooKeeper: leading");
    const auto t0 = Clock::now();
    replicas[*l].process->Signal(SIGKILL);
    sim.Control("fail_job", R"({"job":"job-0","terminal":true})");
    std::optional<double> lead_s;
    std::optional<double> recovered_s;
    while (Clock::now() < t0 + 60s && !(lead_s && recovered_s)) {
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      if (!lead_s && Count(replicas[standby].process->Log(), "ZooKeeper: leading") > leads_before) {
        lead_s = s;
      }
      if (!recovered_s) {
        const std::string id = RunningJob0(sim);
        if (!id.empty() && id != old_id) recovered_s = s;
      }
      std::this_thread::sleep_for(20ms);
    }
    if (!lead_s || !recovered_s) {
      std::fprintf(stderr, "repetition %d did not finish within 60 s\n%s\n", rep,
                   replicas[standby].process->Log().c_str());
      return 1;
    }
    std::printf("%-4d %-10.2f %-10.2f\n", rep, *lead_s, *recovered_s);
    std::fflush(stdout);
    leads.push_back(*lead_s);
    recovers.push_back(*recovered_s);
    replicas[*l].process->Stop();
    replicas[*l] = start("r" + std::to_string(next_id++));
  }
  std::printf("median: lead %.2f s, recovered %.2f s (session timeout %.1f s)\n", Median(leads),
              Median(recovers), session_ms / 1000.0);
  for (Replica& r : replicas) r.process->Stop();
  return 0;
}

}  // namespace
}  // namespace flinkguard::bench

int main(int argc, char** argv) try {
  CLI::App app{"takeover_bench: time from the HA leader's death to a standby leading and acting"};
  int reps = 5;
  int session_ms = 2000;
  int poll_ms = 1000;
  app.add_option("--reps", reps, "repetitions")->check(CLI::Range(1, 100));
  app.add_option("--session-timeout-ms", session_ms, "ZooKeeper session timeout")
      ->check(CLI::Range(1000, 10000));
  app.add_option("--poll-interval-ms", poll_ms, "agent poll interval")
      ->check(CLI::Range(200, 10000));
  CLI11_PARSE(app, argc, argv);
  return flinkguard::bench::Run(reps, session_ms, poll_ms);
} catch (const std::exception& e) {
  std::fprintf(stderr, "takeover_bench: %s\n", e.what());
  return 1;
}
