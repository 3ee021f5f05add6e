// Failover under HA: two `flinkguard run` replicas coordinated through a real ZooKeeper, and
// two flinksim clusters. When cluster-a goes down, job-0 moves to cluster-c exactly once; the
// leader is then killed, and the replica that takes over knows where the job lives from the
// placement shared under the region's ZooKeeper root: it does not move the job again, and when
// cluster-a returns with the old instance running it cancels that stale copy.

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/agent/ha/zk_server.h"
#include "tests/agent/observer/flinksim_process.h"

namespace flinkguard {
namespace {

using testing::ChildProcess;
using testing::Contains;
using testing::FlinksimProcess;
using testing::WaitFor;
using testing::ZkServer;
using namespace std::chrono_literals;

int Count(const std::vector<std::string>& v, const std::string& part) {
  int n = 0;
  for (const std::string& s : v) n += Contains(s, part) ? 1 : 0;
  return n;
}

std::string StatusOf(const FlinksimProcess& sim, const std::string& id) {
  rapidjson::Document doc = sim.SimJobs();
  for (const auto& j : doc["jobs"].GetArray()) {
    if (id == j["id"].GetString()) return j["status"].GetString();
  }
  return "";
}

std::vector<std::string> Running(const FlinksimProcess& sim) {
  std::vector<std::string> out;
  rapidjson::Document doc = sim.SimJobs();
  for (const auto& j : doc["jobs"].GetArray()) {
    if (std::string(j["status"].GetString()) == "RUNNING") out.push_back(j["id"].GetString());
  }
  return out;
}

// A replica's (or a person's) configuration: ha: on `zk`, fast failover, file: counted as shared
// storage, job-0 at home on `home` with `backup` as its failover cluster.
std::string WriteConfig(const testing::TempDir& dir, const std::string& id, const ZkServer& zk,
                        const std::vector<const FlinksimProcess*>& sims, const std::string& home,
                        const std::string& backup) {
  const std::string path = dir.File(id + ".yaml");
  std::ofstream out(path);
  out << "region: test\nagent:\n  poll_interval: 1s\n  listen: 127.0.0.1:0\n  state_dir: "
      << dir.path() << "/" << id << "\n  instance_id: " << id << "\nha:\n  zookeeper: \""
      << zk.connect()
      << "\"\n  root: /flinkguard/test\n  session_timeout: 2s\n"
         "failover: {down_after: 2s, down_after_polls: 2, shared_schemes: [file]}\n"
         "clusters:\n";
  for (const FlinksimProcess* s : sims) {
    out << "  - {name: " << s->name() << ", url: \"" << s->rest()
        << "\", timeout: 2s, connect_timeout: 1s}\n";
  }
  out << "jobs:\n  - name: job-0\n    cluster: " << home << "\n    failover: [" << backup
      << "]\n    parallelism: 2\n    jar: " << dir.File("job-0.jar")
      << "\nrules:\n  - {name: job-failed, when: \"status == FAILED\", action: recover}\n";
  return path;
}

void WriteJar(const testing::TempDir& dir) {
  std::ofstream jar(dir.File("job-0.jar"));
  jar << "Manifest-Version: 1.0\nMain-Class: com.example.Events\nflinksim-job-name: job-0\n"
         "flinksim-parallelism: 2\nflinksim-checkpoint-interval: 10000ms\n";
}

TEST_CASE("HA failover: the job moves exactly once, and a new leader knows where it lives") {
  testing::TempDir dir("fg-ha-failover");
  ZkServer zk(500);
  REQUIRE(zk.Start());
  FlinksimProcess a{"cluster-a",
                    {"--jobs", "1", "--checkpoint-interval", "10s", "--flink-version", "1.20",
                     "--conf", "state.checkpoints.num-retained=10"}};
  FlinksimProcess c{"cluster-c", {"--jobs", "0", "--flink-version", "1.20"}};
  REQUIRE(a.WaitReady(1));
  WriteJar(dir);
  auto config = [&](const std::string& id) {
    return WriteConfig(dir, id, zk, {&a, &c}, "cluster-a", "cluster-c");
  };
  std::vector<std::optional<ChildProcess>> replicas(2);
  const std::vector<std::string> ids = {"r1", "r2"};
  for (std::size_t i = 0; i < 2; ++i) {
    replicas[i].emplace(ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", config(ids[i])},
                                            dir.File(ids[i] + ".log")));
  }
  std::optional<std::size_t> leader;
  REQUIRE(WaitFor(
      [&] {
        for (std::size_t i = 0; i < 2; ++i) {
          if (Contains(replicas[i]->Log(), "ZooKeeper: leading")) leader = i;
        }
        return leader.has_value();
      },
      30s));
  std::this_thread::sleep_for(2500ms);  // the leader records a few checkpoints of job-0
  const std::string old_id = a.JobId("job-0");

  a.Control("checkpoints", R"({"job":"job-0","mode":"stall"})");
  a.Control("cluster_down", R"({"mode":"refuse"})");
  REQUIRE(WaitFor([&] { return !Running(c).empty(); }, 40s));
  const std::string new_id = Running(c).front();
  CHECK(Contains(replicas[*leader]->Log(), "moving job-0 to cluster-c"));
  CHECK_FALSE(Contains(replicas[1 - *leader]->Log(), "moving job-0 to cluster-c"));

  // The leader dies; the other replica takes over after the session timeout.
  replicas[*leader]->Signal(SIGKILL);
  replicas[*leader]->Stop();
  const std::size_t next = 1 - *leader;
  REQUIRE(WaitFor([&] { return Contains(replicas[next]->Log(), "ZooKeeper: leading"); }, 30s));
  std::this_thread::sleep_for(3s);  // several cycles of the new leader while cluster-a is down
  CHECK(Count(c.Mutations(), "/run") == 1);
  CHECK(Running(c) == std::vector<std::string>{new_id});
  CHECK_FALSE(Contains(replicas[next]->Log(), "moving job-0"));

  // cluster-a returns with its old instance RUNNING: the new leader cancels that copy.
  a.Control("cluster_up");
  REQUIRE(WaitFor([&] { return StatusOf(a, old_id) == "CANCELED"; }, 30s));
  CHECK(Contains(replicas[next]->Log(), "stale copy " + old_id));
  CHECK(Running(c) == std::vector<std::string>{new_id});
  CHECK(Count(c.Mutations(), "/run") == 1);
  replicas[next]->Stop();
}

TEST_CASE("HA: `flinkguard move` run by a person elsewhere shares the new placement through "
          "ZooKeeper; the leader then fails the job over from where it lives now") {
  testing::TempDir dir("fg-ha-move");
  ZkServer zk(500);
  REQUIRE(zk.Start());
  FlinksimProcess a{"cluster-a",
                    {"--jobs", "1", "--checkpoint-interval", "10s", "--flink-version", "1.20",
                     "--conf", "state.checkpoints.num-retained=10"}};
  FlinksimProcess c{"cluster-c",
                    {"--jobs", "0", "--flink-version", "1.20", "--conf",
                     "state.checkpoints.num-retained=10"}};
  REQUIRE(a.WaitReady(1));
  WriteJar(dir);
  std::optional<ChildProcess> leader;
  leader.emplace(ChildProcess::Start(
      {FLINKGUARD_BINARY, "run", "--config",
       WriteConfig(dir, "r1", zk, {&a, &c}, "cluster-a", "cluster-c")},
      dir.File("r1.log")));
  REQUIRE(WaitFor([&] { return Contains(leader->Log(), "ZooKeeper: leading"); }, 30s));
  const std::string old_id = a.JobId("job-0");

  // A person moves job-0 to cluster-c from another host (its own state dir and history).
  const testing::ProgramRun move = testing::RunToExit(
      {FLINKGUARD_BINARY, "move", "--config",
       WriteConfig(dir, "person", zk, {&a, &c}, "cluster-a", "cluster-c"), "--job", "job-0",
       "--to", "cluster-c"},
      dir.File("move.log"), 90s);
  INFO(move.output);
  REQUIRE(move.code == 0);
  CHECK(Contains(move.output, "job-0 now lives on cluster-c"));
  CHECK(StatusOf(a, old_id) == "FINISHED");
  REQUIRE(Running(c).size() == 1);
  const std::string on_c = Running(c).front();
  // Shared under the region's root, where every replica reads it.
  const std::string log = dir.File("kazoo.log");
  testing::ChildProcess get = testing::StartPython(
      testing::SourceDir() + "/tests/agent/ha/zk_tool.py",
      {zk.connect(), "get", "/flinkguard/test/placements/job-0"}, log);
  for (int i = 0; i < 400 && get.Running(); ++i) std::this_thread::sleep_for(50ms);
  get.Stop();
  CHECK(Contains(get.Log(), "\"cluster\":\"cluster-c\""));

  // cluster-c goes down: the leader, which never saw the move in its own history, knows from
  // ZooKeeper that job-0 lives there, and fails it over home to cluster-a.
  std::this_thread::sleep_for(3s);  // the leader records checkpoints of the moved job
  c.Control("checkpoints", R"({"job":"job-0","mode":"stall"})");
  c.Control("cluster_down", R"({"mode":"refuse"})");
  const bool back = WaitFor(
      [&] {
        const std::vector<std::string> r = Running(a);
        return !r.empty() && r.front() != old_id;
      },
      40s);
  if (!back) {
    const std::string l = leader->Log();
    MESSAGE(l.substr(l.size() > 4000 ? l.size() - 4000 : 0));
  }
  REQUIRE(back);
  CHECK(Contains(leader->Log(), "moving job-0 to cluster-a"));
  leader->Stop();
}

}  // namespace
}  // namespace flinkguard
