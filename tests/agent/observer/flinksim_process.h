#pragma once

// A flinksim child process on 127.0.0.1 for the observer's integration tests: its REST and
// control endpoints, its internal view of the jobs (`GET /_sim/jobs`) and bounded waits.
// Test-only code.

#include <chrono>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "agent/observer.h"
#include "tests/support/test_support.h"

namespace flinkguard::testing {

// Simulated milliseconds per real millisecond in every FlinksimProcess.
constexpr int kTimeScale = 20;

// flinksim's binary (set by CMake).
std::string FlinksimBinary();

// Parses `body`; a document that is not an object when it does not parse.
rapidjson::Document ParseJson(const std::string& body);

// The agent's wall clock in epoch milliseconds, as RunCycle takes it.
std::int64_t WallMs();

// One flinksim process: `--listen 127.0.0.1:0 --control-listen 127.0.0.1:0 --time-scale kTimeScale`
// plus `extra`, its data dir under its own TempDir. Stopped (SIGTERM) when destroyed.
// Fails the current test (REQUIRE) when it does not come up within 15 s.
class FlinksimProcess {
 public:
  FlinksimProcess(std::string cluster_name, const std::vector<std::string>& extra);
  FlinksimProcess(const FlinksimProcess&) = delete;
  FlinksimProcess& operator=(const FlinksimProcess&) = delete;

  const std::string& name() const { return name_; }
  const std::string& rest() const { return rest_; }  // http://127.0.0.1:port

  // How the observer reaches this cluster: whole-request `timeout`, connect timeout at most 1 s.
  ObservedCluster Cluster(std::chrono::milliseconds timeout) const;

  // POST /_sim/<action> with `body` on the control listener (which answers while the REST port
  // is down or faulty); CHECKs that it was accepted.
  HttpReply Control(const std::string& action, const std::string& body = "{}") const;

  // GET /_sim/jobs: flinksim's own view of every job.
  rapidjson::Document SimJobs() const;
  // The entry of `GET /_sim/jobs` for the job named `job` (the last one with that name);
  // REQUIREs that it exists. `doc` must outlive the returned reference.
  static const rapidjson::Value& SimJob(const rapidjson::Document& doc, const std::string& job);
  // The job id of the newest job named `job`.
  std::string JobId(const std::string& job) const;

  // GET `path` on the REST port (a short timeout).
  HttpReply Get(const std::string& path) const;

  // The mutating REST requests flinksim logged (GET /_sim/requests), as "METHOD path".
  std::vector<std::string> Mutations() const;

  // Polls /_sim/jobs (every 50 ms, at most 15 s) until `jobs` jobs are RUNNING with every task
  // RUNNING and each has completed at least one checkpoint.
  bool WaitReady(int jobs) const;
  // Polls the REST port until it refuses connections (after cluster_down refuse), or until it
  // answers again (after cluster_up / clear_faults). At most 10 s.
  bool WaitRestRefused() const;
  bool WaitRestAnswers() const;

 private:
  std::string name_;
  TempDir dir_;
  ChildProcess proc_;
  std::string rest_;
  std::string control_;
};

}  // namespace flinkguard::testing
