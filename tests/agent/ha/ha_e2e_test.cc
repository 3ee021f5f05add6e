// flinkguard replicas coordinated through a real ZooKeeper server (started here on 127.0.0.1,
// stopped by PID) against flinksim: election, per-job locks, fencing, session loss, takeover of
// journaled recoveries, interop with kazoo, bad data under our paths. Every replica is a real
// `flinkguard run` process with its own state_dir and instance_id; every wait is bounded.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "agent/executor.h"
#include "agent/ha/zk_coordinator.h"
#include "agent/ha/zk_records.h"
#include "tests/agent/ha/zk_server.h"
#include "tests/agent/observer/flinksim_process.h"

namespace flinkguard {
namespace {

using testing::ChildProcess;
using testing::FlinksimProcess;
using testing::ZkServer;
using namespace std::chrono_literals;

const std::string kRoot = "/flinkguard/test";

bool WaitFor(const std::function<bool()>& ok, std::chrono::milliseconds limit) {
  for (auto until = std::chrono::steady_clock::now() + limit;
       std::chrono::steady_clock::now() < until;) {
    if (ok()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return ok();
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

bool Terminal(const std::string& status) {
  return status == "FAILED" || status == "CANCELED" || status == "FINISHED";
}

int LiveInstances(const FlinksimProcess& sim) {
  rapidjson::Document doc = sim.SimJobs();
  int live = 0;
  if (!doc.IsObject() || !doc.HasMember("jobs")) return live;
  for (const auto& j : doc["jobs"].GetArray()) {
    if (std::string(j["name"].GetString()) == "job-0" && !Terminal(j["status"].GetString())) {
      ++live;
    }
  }
  return live;
}

std::string Status(const FlinksimProcess& sim) {
  rapidjson::Document doc = sim.SimJobs();
  if (!doc.IsObject() || !doc.HasMember("jobs")) return "";
  const auto& j = FlinksimProcess::SimJob(doc, "job-0");
  return j.IsObject() ? j["status"].GetString() : "";
}

// The mutating requests flinksim logged: (instance header, "method path status").
std::vector<std::pair<std::string, std::string>> Mutations(const FlinksimProcess& sim) {
  std::vector<std::pair<std::string, std::string>> out;
  const testing::HttpReply log = testing::HttpCall("GET", sim.rest() + "/_sim/requests");
  rapidjson::Document doc = testing::ParseJson(log.body);
  if (!doc.IsObject() || !doc.HasMember("requests")) return out;
  for (const auto& r : doc["requests"].GetArray()) {
    out.emplace_back(r.HasMember("instance") && r["instance"].IsString()
                         ? r["instance"].GetString()
                         : "",
                     std::string(r["method"].GetString()) + " " + r["path"].GetString() + " " +
                         std::to_string(r["status"].GetInt()));
  }
  return out;
}

int CountFrom(const std::vector<std::pair<std::string, std::string>>& m, const std::string& who) {
  int n = 0;
  for (const auto& [instance, what] : m) n += instance == who ? 1 : 0;
  return n;
}

// Submits Flink accepted (a run answered 500 by an injected fault started nothing).
int Submits(const std::vector<std::pair<std::string, std::string>>& m) {
  int n = 0;
  for (const auto& [instance, what] : m) {
    n += what.rfind("POST ", 0) == 0 && what.find("/run 200") != std::string::npos ? 1 : 0;
  }
  return n;
}

// One test's world: ZooKeeper, flinksim with job-0, the job's jar and the replicas' configs.
struct World {
  testing::TempDir dir{"fg-ha"};
  ZkServer zk{500};
  FlinksimProcess sim{"cluster-a",
                      {"--jobs", "1", "--checkpoint-interval", "2s", "--flink-version", "1.20"}};
  std::vector<ChildProcess> agents;
  std::vector<std::string> ids;
  std::string zk_connect;  // what the replicas connect to, when not zk itself (a proxy)

  World() {
    REQUIRE(zk.Start());
    REQUIRE(sim.WaitReady(1));
    std::ofstream jar(dir.File("job-0.jar"));
    jar << "Manifest-Version: 1.0\nMain-Class: com.example.Events\nflinksim-job-name: job-0\n"
           "flinksim-parallelism: 2\nflinksim-checkpoint-interval: 2000ms\n";
  }

  std::string Config(const std::string& id, const std::string& extra_ha = "") {
    const std::string path = dir.File(id + ".yaml");
    std::ofstream out(path);
    out << "region: test\nagent:\n  poll_interval: 1s\n  state_dir: " << dir.path() << "/" << id
        << "\n  instance_id: " << id << "\nha:\n  zookeeper: \""
        << (zk_connect.empty() ? zk.connect() : zk_connect)
        << "\"\n  root: " << kRoot << "\n  session_timeout: " << session_timeout << "\n"
        << extra_ha << "clusters:\n"
        << "  - {name: cluster-a, url: \"" << sim.rest()
        << "\", timeout: 3s, connect_timeout: 1s}\njobs:\n  - name: job-0\n    cluster: cluster-a\n"
           "    jar: "
        << dir.File("job-0.jar")
        << "\n    parallelism: 2\n    recovery: {cooldown: 0s, max_recoveries: 100, window: 10m, "
           "stable_after: 0s}\nrules:\n  - {name: job-failed, when: \"status == FAILED\", action: "
           "recover, severity: critical}\n";
    return path;
  }

  // Starts replica `id` and waits until it competes in the election.
  std::size_t Start(const std::string& id, const std::string& extra_ha = "") {
    agents.push_back(
        ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", Config(id, extra_ha)},
                            dir.File(id + ".log")));
    ids.push_back(id);
    const std::size_t i = agents.size() - 1;
    CHECK(WaitFor([&] { return agents[i].Log().find("competing for leadership") !=
                               std::string::npos; },
                  20s));
    return i;
  }

  // Whether replica i leads now, from its log: "leading" starts it; a lost session, a lost
  // connection or "not leading" ends it; a reconnect that kept the session restores what it was.
  bool Leads(std::size_t i) const {
    const std::string log = agents[i].Log();
    bool leads = false;
    bool before_suspension = false;
    std::size_t start = 0;
    while (start < log.size()) {
      std::size_t end = log.find('\n', start);
      if (end == std::string::npos) end = log.size();
      const std::string_view line(log.data() + start, end - start);
      if (line.find("ZooKeeper: leading (") != std::string_view::npos) {
        leads = true;
      } else if (line.find("ZooKeeper connection lost") != std::string_view::npos) {
        before_suspension = leads;
        leads = false;
      } else if (line.find("ZooKeeper reconnected: session") != std::string_view::npos) {
        leads = before_suspension;
      } else if (line.find("not leading any more") != std::string_view::npos ||
                 line.find("ZooKeeper session lost") != std::string_view::npos) {
        leads = false;
        before_suspension = false;
      }
      start = end + 1;
    }
    return leads;
  }

  int Leaders() const {
    int n = 0;
    for (std::size_t i = 0; i < agents.size(); ++i) n += Leads(i) ? 1 : 0;
    return n;
  }

  std::string Kazoo(const std::vector<std::string>& args) {
    const std::string log = dir.File("kazoo-" + std::to_string(kazoo_runs++) + ".log");
    std::vector<std::string> a{zk.connect()};
    a.insert(a.end(), args.begin(), args.end());
    ChildProcess p = testing::StartPython(
        testing::SourceDir() + "/tests/agent/ha/zk_tool.py", a, log);
    for (int i = 0; i < 400 && p.Running(); ++i) std::this_thread::sleep_for(50ms);
    p.Stop();
    return p.Log();
  }

  void FailJob() {
    const testing::HttpReply r = sim.Control(
        "fail_job",
        R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
    REQUIRE(r.status == 200);
  }

  // Waits until job-0 runs again as an instance other than `old_id`.
  bool WaitRecovered(const std::string& old_id, std::chrono::milliseconds limit = 40s) {
    return WaitFor([&] { return sim.JobId("job-0") != old_id && Status(sim) == "RUNNING"; },
                   limit);
  }

  int kazoo_runs = 0;
  std::string session_timeout = "2s";
};

TEST_CASE("three replicas: exactly one leads, a failed job is recovered once; kill -9 of the "
          "leader mid-recovery: a standby takes over and finishes that recovery") {
  World w;
  for (const char* id : {"r1", "r2", "r3"}) w.Start(id);
  REQUIRE(WaitFor([&] { return w.Leaders() == 1; }, 20s));
  std::size_t leader = 0;
  while (!w.Leads(leader)) ++leader;
  // An independent client sees the same leader: the first latch node names it.
  CHECK(w.Kazoo({"leader", kRoot + "/leader"}).find("\"instance\":\"" + w.ids[leader] + "\"") !=
        std::string::npos);

  w.sim.Control("clear_requests");
  std::string old_id = w.sim.JobId("job-0");
  w.FailJob();
  REQUIRE(w.WaitRecovered(old_id));
  CHECK(WaitFor([&] { return w.agents[leader].Log().find("recovered in") != std::string::npos; },
                20s));
  auto m = Mutations(w.sim);
  CHECK(Submits(m) == 1);
  CHECK(CountFrom(m, w.ids[leader]) == static_cast<int>(m.size()));
  CHECK(LiveInstances(w.sim) == 1);
  CHECK(w.Leaders() == 1);

  // The next recovery stalls after its cancel (jar requests answer 500); the leader is killed.
  w.sim.Control("clear_requests");
  REQUIRE(w.sim.Control("error_500", R"({"path_prefix":"/jars/","duration":"10min"})").status ==
          200);
  old_id = w.sim.JobId("job-0");
  w.FailJob();
  const bool cancelled =
      WaitFor([&] { return CountFrom(Mutations(w.sim), w.ids[leader]) > 0; }, 20s);
  if (!cancelled) MESSAGE(w.agents[leader].Log());
  REQUIRE(cancelled);
  w.agents[leader].Signal(SIGKILL);
  w.sim.Control("clear_faults");
  int max_live = 0;
  std::size_t next = 0;
  REQUIRE(WaitFor(
      [&] {
        max_live = std::max(max_live, LiveInstances(w.sim));
        for (std::size_t i = 0; i < w.agents.size(); ++i) {
          if (i != leader && w.Leads(i)) {
            next = i;
            return true;
          }
        }
        return false;
      },
      15s));
  // It imported the dead leader's record and finishes that very recovery (its derived job id).
  // Leadership is logged before the journal is imported: wait for the takeover line.
  std::string taken;
  std::size_t at = std::string::npos;
  const bool took_over = WaitFor(
      [&] {
        max_live = std::max(max_live, LiveInstances(w.sim));
        taken = w.agents[next].Log();
        at = taken.find("taking over recovery ");
        return at != std::string::npos;
      },
      20s);
  if (!took_over) MESSAGE(taken);
  REQUIRE(took_over);
  const std::string id = taken.substr(at + 21, taken.find(' ', at + 21) - (at + 21));
  REQUIRE(WaitFor(
      [&] {
        max_live = std::max(max_live, LiveInstances(w.sim));
        return w.sim.JobId("job-0") == Executor::DerivedJobId(id) && Status(w.sim) == "RUNNING";
      },
      40s));
  CHECK(max_live <= 1);
  CHECK(LiveInstances(w.sim) == 1);
  const auto m2 = Mutations(w.sim);
  std::string seen;
  for (const auto& [instance, what] : m2) seen += instance + " " + what + "\n";
  CAPTURE(seen);
  // One run was accepted: the taken-over recovery's (the dead leader's were answered 500).
  CHECK(Submits(m2) == 1);
  CHECK(CountFrom(m2, w.ids[next]) + CountFrom(m2, w.ids[leader]) == static_cast<int>(m2.size()));
}

TEST_CASE("SIGSTOP of the leader mid-recovery past its session: after SIGCONT it sends no "
          "mutating request, notices it lost leadership and rejoins as a standby") {
  World w;
  const std::size_t a = w.Start("old");
  REQUIRE(WaitFor([&] { return w.Leads(a); }, 20s));
  const std::size_t b = w.Start("new");

  REQUIRE(w.sim.Control("error_500", R"({"path_prefix":"/jars/","duration":"10min"})").status ==
          200);
  w.sim.Control("clear_requests");
  w.FailJob();
  // The leader has cancelled the failed job and holds the job's lock; it stops there.
  REQUIRE(WaitFor([&] { return CountFrom(Mutations(w.sim), "old") > 0; }, 20s));
  w.agents[a].Signal(SIGSTOP);
  w.sim.Control("clear_requests");
  w.sim.Control("clear_faults");
  // The standby takes over once the session expired, and finishes the recovery.
  REQUIRE(WaitFor([&] { return w.Leads(b); }, 15s));
  REQUIRE(WaitFor([&] { return w.agents[b].Log().find("recovered in") != std::string::npos; },
                  40s));
  CHECK(w.agents[b].Log().find("taking over recovery") != std::string::npos);

  w.agents[a].Signal(SIGCONT);
  REQUIRE(WaitFor([&] { return w.agents[a].Log().find("ZooKeeper session lost") !=
                               std::string::npos; },
                  20s));
  REQUIRE(WaitFor([&] { return Count(w.agents[a].Log(), "competing for leadership") >= 2; }, 20s));
  // Another failure: the new leader acts, the old one still does not.
  const std::string old_id = w.sim.JobId("job-0");
  w.FailJob();
  REQUIRE(w.WaitRecovered(old_id));
  REQUIRE(WaitFor([&] { return Count(w.agents[b].Log(), "recovered in") >= 2; }, 20s));
  const auto m = Mutations(w.sim);
  CHECK(CountFrom(m, "old") == 0);
  CHECK(CountFrom(m, "new") > 0);
  CHECK(Submits(m) == 2);
  CHECK(!w.Leads(a));
  CHECK(w.Leads(b));
  CHECK(LiveInstances(w.sim) == 1);
}

TEST_CASE("ZooKeeper stopped and restarted: the replicas suspend and take no action, then resume") {
  World w;
  const std::size_t a = w.Start("z1");
  REQUIRE(WaitFor([&] { return w.Leads(a); }, 20s));
  const std::size_t b = w.Start("z2");
  (void)b;
  w.zk.Stop();
  REQUIRE(WaitFor([&] { return w.agents[a].Log().find("suspended (no new action") !=
                               std::string::npos; },
                  15s));
  REQUIRE(WaitFor([&] { return w.agents[a].Log().find("ZooKeeper session lost") !=
                               std::string::npos; },
                  15s));
  w.sim.Control("clear_requests");
  const std::string old_id = w.sim.JobId("job-0");
  w.FailJob();
  // Both replicas observe the failure and say that ZooKeeper is not reachable; neither acts.
  REQUIRE(WaitFor([&] { return w.Leaders() == 0 &&
                               w.agents[a].Log().find("is not reachable") != std::string::npos &&
                               w.agents[b].Log().find("is not reachable") != std::string::npos; },
                  30s));
  CHECK(Mutations(w.sim).empty());
  CHECK(Status(w.sim) == "FAILED");

  REQUIRE(w.zk.Start());
  REQUIRE(w.WaitRecovered(old_id, 60s));
  CHECK(w.Leaders() == 1);
  CHECK(Submits(Mutations(w.sim)) == 1);
  CHECK(LiveInstances(w.sim) == 1);
}

TEST_CASE("interop: a kazoo Lock on a job keeps flinkguard from acting on it; flinkguard's lock "
          "keeps kazoo waiting") {
  World w;
  const std::size_t a = w.Start("k1");
  REQUIRE(WaitFor([&] { return w.Leads(a); }, 20s));
  const std::string ready = w.dir.File("kazoo-ready");
  const std::string release = w.dir.File("kazoo-release");
  ChildProcess holder = testing::StartPython(
      testing::SourceDir() + "/tests/agent/ha/zk_tool.py",
      {w.zk.connect(), "hold", kRoot + "/locks/job-0", ready, release}, w.dir.File("hold.log"));
  REQUIRE(WaitFor([&] { return std::filesystem::exists(ready); }, 20s));

  w.sim.Control("clear_requests");
  const std::string old_id = w.sim.JobId("job-0");
  w.FailJob();
  REQUIRE(WaitFor([&] { return w.agents[a].Log().find("waiting for the lock " + kRoot +
                                                      "/locks/job-0") != std::string::npos; },
                  20s));
  CHECK(Mutations(w.sim).empty());
  { std::ofstream(release) << "go"; }
  REQUIRE(w.WaitRecovered(old_id));
  REQUIRE(WaitFor([&] { return w.agents[a].Log().find("recovered in") != std::string::npos; },
                  20s));
  CHECK(Submits(Mutations(w.sim)) == 1);
  CHECK(holder.Log().find("released") != std::string::npos);
  holder.Stop();

  // flinkguard holds the lock while its recovery stalls (jar requests answer 500): kazoo waits.
  REQUIRE(w.sim.Control("error_500", R"({"path_prefix":"/jars/","duration":"10min"})").status ==
          200);
  const std::string second_id = w.sim.JobId("job-0");
  w.FailJob();
  const bool locked = WaitFor(
      [&] { return Count(w.agents[a].Log(), "ZooKeeper: lock " + kRoot + "/locks/job-0") >= 2; },
      20s);
  if (!locked) MESSAGE(w.agents[a].Log());
  REQUIRE(locked);
  const std::string tried = w.Kazoo({"try", kRoot + "/locks/job-0", "2"});
  CHECK(tried.find("timeout") != std::string::npos);
  // kazoo lists flinkguard's node (its data names the replica) as the holder.
  CHECK(tried.find("contenders=['{\"instance\":\"k1\"") != std::string::npos);
  w.sim.Control("clear_faults");
  REQUIRE(w.WaitRecovered(second_id));
  CHECK(WaitFor([&] { return w.Kazoo({"try", kRoot + "/locks/job-0", "10"}).find("acquired") !=
                             std::string::npos; },
                20s));
}

TEST_CASE("a create whose answer is lost is found by our uuid: one latch node, and it leads") {
  World w;
  // A proxy between the replica and ZooKeeper passes the replica's first create under
  // <root>/leader to the server and loses the answer (the connection drops half a second
  // later); for 2 s after, it closes every new connection at once, so the replica's lookup of
  // its uuid fails too and the election is joined again on a later poll — within the session.
  w.session_timeout = "6s";
  const std::string port_file = w.dir.File("proxy.port");
  ChildProcess proxy = testing::StartPython(
      testing::SourceDir() + "/tests/agent/ha/zk_drop_proxy.py",
      {std::to_string(w.zk.port()), port_file, kRoot + "/leader/", "2"}, w.dir.File("proxy.log"));
  const std::optional<std::string> port = testing::WaitForFileLine(port_file, 15s);
  REQUIRE(port.has_value());
  w.zk_connect = "127.0.0.1:" + *port;
  const std::size_t a = w.Start("lost1");
  const bool leads = WaitFor([&] { return w.Leads(a); }, 30s);
  if (!leads) MESSAGE(w.agents[a].Log());
  REQUIRE(leads);
  CHECK(proxy.Log().find("dropped " + kRoot + "/leader/") != std::string::npos);
  CHECK(w.agents[a].Log().find("is already ours (a create whose answer was lost") !=
        std::string::npos);
  // One node of ours: a second create would have queued behind our own orphan for good.
  const std::string children = w.Kazoo({"children", kRoot + "/leader"});
  CHECK(Count(children, "-latch-") == 1);
  proxy.Stop();
}

TEST_CASE("the leader removes the empty lock parents of jobs that left the catalog") {
  World w;
  w.Kazoo({"put", kRoot + "/locks/gone-job", ""});
  w.Kazoo({"put", kRoot + "/locks/busy-job/held", "x"});  // someone's node in it: it stays
  w.Kazoo({"put", kRoot + "/locks/job-0", ""});           // in the catalog: it stays
  const std::size_t a = w.Start("t1");
  REQUIRE(WaitFor([&] { return w.Leads(a); }, 20s));
  REQUIRE(WaitFor(
      [&] {
        return w.agents[a].Log().find("removed 1 empty lock parent(s) under " + kRoot +
                                      "/locks") != std::string::npos;
      },
      20s));
  const std::string children = w.Kazoo({"children", kRoot + "/locks"});
  CHECK(children.find("gone-job") == std::string::npos);
  CHECK(children.find("busy-job") != std::string::npos);
  CHECK(children.find("job-0") != std::string::npos);
}

TEST_CASE("shared placements are read once, then answered from the cache until a watch fires") {
  World w;
  const std::string dir = kRoot + "/placements/";
  Placement p{.job = "job-0", .cluster = "cluster-b", .since_ms = 1'000, .reason = "test"};
  w.Kazoo({"put", dir + EncodeJobNode(p.job), PlacementJson(p)});
  ZooKeeperCoordinator c(ZooKeeperOptions{.connect_string = w.zk.connect(),
                                          .root = kRoot,
                                          .session_timeout_ms = 6'000,
                                          .instance_id = "cache-test",
                                          .compete = false});
  auto now = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  REQUIRE(WaitFor(
      [&] {
        c.Poll(now());
        return c.Connected();
      },
      20s));
  auto clusters = [&]() -> std::string {  // "job=cluster ..." as the coordinator answers now
    auto r = c.SharedPlacements();
    if (!r || !*r) return r ? "none" : "error: " + r.error().message;
    std::vector<std::string> entries;  // in job order (ZooKeeper lists children in no order)
    for (const Placement& q : **r) entries.push_back(q.job + "=" + q.cluster + " ");
    std::sort(entries.begin(), entries.end());
    std::string out;
    for (const std::string& e : entries) out += e;
    return out;
  };
  CHECK(clusters() == "job-0=cluster-b ");
  const std::int64_t reads = c.Status().placement_reads;
  CHECK(reads >= 1);
  for (int i = 0; i < 5; ++i) CHECK(clusters() == "job-0=cluster-b ");
  CHECK(c.Status().placement_reads == reads);  // nothing moved: no ZooKeeper round trip

  // Another client moves the job (a data change), then places a second one (a new child).
  p.cluster = "cluster-c";
  p.since_ms = 2'000;
  w.Kazoo({"put", dir + EncodeJobNode(p.job), PlacementJson(p)});
  CHECK(WaitFor([&] { return clusters() == "job-0=cluster-c "; }, 10s));
  Placement q{.job = "job-1", .cluster = "cluster-a", .since_ms = 3'000, .reason = "test"};
  w.Kazoo({"put", dir + EncodeJobNode(q.job), PlacementJson(q)});
  CHECK(WaitFor([&] { return clusters() == "job-0=cluster-c job-1=cluster-a "; }, 10s));
  const std::int64_t after = c.Status().placement_reads;
  CHECK(after > reads);
  for (int i = 0; i < 5; ++i) CHECK(clusters() == "job-0=cluster-c job-1=cluster-a ");
  CHECK(c.Status().placement_reads == after);
}

TEST_CASE("bad data under our paths (foreign and garbage children) is ignored with a warning") {
  World w;
  w.Kazoo({"put", kRoot + "/leader/not-a-contender", "x"});
  w.Kazoo({"put", kRoot + "/actions/job-0", "this is not JSON"});
  w.Kazoo({"put", kRoot + "/actions/%%bad", "{}"});
  w.Kazoo({"put", kRoot + "/actions/other-job",
           R"({"format":1,"action":"cancel","id":"x","job":"someone-else","cluster":"c",)"
           R"("started_ms":1,"strategy":"fresh","plan":"{}","progress":"{}"})"});
  w.Kazoo({"put", kRoot + "/locks/job-0/foreign", "x"});
  const std::size_t a = w.Start("b1");
  REQUIRE(WaitFor([&] { return w.Leads(a); }, 20s));
  // The scan of our paths runs after the election is won; its lines may land a moment later.
  const auto logged = [&](const std::string& line) {
    return WaitFor([&] { return w.agents[a].Log().find(line) != std::string::npos; }, 10s);
  };
  CHECK(logged("ignoring " + kRoot + "/leader/not-a-contender"));
  CHECK(logged("ignoring " + kRoot + "/actions/job-0: not a flinkguard recovery record"));
  CHECK(logged("ignoring " + kRoot + "/actions/%%bad"));
  CHECK(logged("ignoring " + kRoot + "/actions/other-job"));
  const std::string log = w.agents[a].Log();
  CHECK(log.find("taking over recovery") == std::string::npos);

  w.sim.Control("clear_requests");
  const std::string old_id = w.sim.JobId("job-0");
  w.FailJob();
  REQUIRE(w.WaitRecovered(old_id));
  CHECK(WaitFor([&] { return w.agents[a].Log().find("ignoring " + kRoot + "/locks/job-0/foreign") !=
                             std::string::npos; },
                10s));
  CHECK(Submits(Mutations(w.sim)) == 1);
  CHECK(w.agents[a].Running());
}

TEST_CASE("a short ZooKeeper outage within the session: suspended, then reconnected with our "
          "nodes verified; the same leader acts afterwards") {
  World w;
  // The client notices a silent server after 2/3 of the session timeout; the server (paused with
  // it) does not expire the session, so the same session continues after SIGCONT.
  w.session_timeout = "6s";
  const std::size_t a = w.Start("s1");
  REQUIRE(WaitFor([&] { return w.Leads(a); }, 20s));
  const std::size_t b = w.Start("s2");
  w.zk.Signal(SIGSTOP);
  const bool suspended = WaitFor(
      [&] { return w.agents[a].Log().find("suspended (no new action") != std::string::npos; },
      15s);
  w.zk.Signal(SIGCONT);
  REQUIRE(suspended);
  const bool reconnected = WaitFor(
      [&] {
        return w.agents[a].Log().find("ZooKeeper reconnected: session") != std::string::npos;
      },
      20s);
  if (!reconnected) {
    const std::string log = w.agents[a].Log();
    MESSAGE(log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  }
  REQUIRE(reconnected);
  CHECK(w.agents[a].Log().find("ZooKeeper session lost") == std::string::npos);
  REQUIRE(WaitFor([&] { return w.Leads(a) && !w.Leads(b); }, 10s));
  w.sim.Control("clear_requests");
  const std::string old_id = w.sim.JobId("job-0");
  w.FailJob();
  REQUIRE(w.WaitRecovered(old_id));
  const auto m = Mutations(w.sim);
  CHECK(Submits(m) == 1);
  CHECK(CountFrom(m, "s1") == static_cast<int>(m.size()));
}

TEST_CASE("flinkguard recover with ha: takes the job's ZooKeeper lock, so it waits while kazoo "
          "holds it, then acts") {
  World w;
  const std::string ready = w.dir.File("kazoo-ready");
  const std::string release = w.dir.File("kazoo-release");
  ChildProcess holder = testing::StartPython(
      testing::SourceDir() + "/tests/agent/ha/zk_tool.py",
      {w.zk.connect(), "hold", kRoot + "/locks/job-0", ready, release}, w.dir.File("hold.log"));
  REQUIRE(WaitFor([&] { return std::filesystem::exists(ready); }, 20s));
  w.sim.Control("clear_requests");
  const std::string old_id = w.sim.JobId("job-0");
  ChildProcess cli = ChildProcess::Start(
      {FLINKGUARD_BINARY, "recover", "--config", w.Config("cli"), "--job", "job-0"},
      w.dir.File("cli.log"));
  REQUIRE(WaitFor([&] { return cli.Log().find("waiting for the lock " + kRoot + "/locks/job-0") !=
                               std::string::npos; },
                  20s));
  CHECK(Mutations(w.sim).empty());
  { std::ofstream(release) << "go"; }
  REQUIRE(WaitFor([&] { return !cli.Running(); }, 60s));
  const int status = cli.Stop();
  CAPTURE(cli.Log());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(w.sim.JobId("job-0") != old_id);
  const auto m = Mutations(w.sim);
  CHECK(Submits(m) == 1);
  CHECK(CountFrom(m, "cli") == static_cast<int>(m.size()));
  CHECK(LiveInstances(w.sim) == 1);
}

TEST_CASE("digest auth: the nodes flinkguard creates carry its ACL; other clients cannot write") {
  World w;
  const std::string auth = w.dir.File("zk-auth");
  { std::ofstream(auth) << "flinkguard:pw-not-in-logs\n"; }
  const std::size_t a = w.Start("acl1", "  auth_file: " + auth + "\n");
  REQUIRE(WaitFor([&] { return w.Leads(a); }, 20s));
  // Without the credentials the ACL itself cannot be read.
  CHECK(w.Kazoo({"acl", kRoot + "/leader"}).find("NoAuthError") != std::string::npos);
  const std::string acl = w.Kazoo({"acl", kRoot + "/leader", "flinkguard:pw-not-in-logs"});
  CAPTURE(acl);
  CHECK(acl.find("digest:flinkguard:") != std::string::npos);
  CHECK(acl.find("world:anyone") == std::string::npos);
  CHECK(w.Kazoo({"create", kRoot + "/leader/intruder"}).find("NoAuthError") != std::string::npos);
  CHECK(w.Kazoo({"create", kRoot + "/locks/job-0", "someone:else"}).find("NoAuthError") !=
        std::string::npos);
  CHECK(w.Kazoo({"create", kRoot + "/actions/probe", "flinkguard:pw-not-in-logs"})
            .find("created") != std::string::npos);
  CHECK(w.agents[a].Log().find("pw-not-in-logs") == std::string::npos);
}

TEST_CASE("wrong ZooKeeper credentials: the replica cannot join the election, says why, and "
          "never acts; the replica with the right ones does") {
  World w;
  const std::string right = w.dir.File("zk-auth");
  { std::ofstream(right) << "flinkguard:pw-right\n"; }
  const std::string wrong = w.dir.File("zk-auth-wrong");
  { std::ofstream(wrong) << "flinkguard:pw-wrong-not-in-logs\n"; }
  const std::size_t a = w.Start("good", "  auth_file: " + right + "\n");
  REQUIRE(WaitFor([&] { return w.Leads(a); }, 20s));
  w.agents.push_back(ChildProcess::Start(
      {FLINKGUARD_BINARY, "run", "--config", w.Config("bad", "  auth_file: " + wrong + "\n")},
      w.dir.File("bad.log")));
  w.ids.push_back("bad");
  const std::size_t b = w.agents.size() - 1;
  const bool said = WaitFor(
      [&] {
        const std::string log = w.agents[b].Log();
        return log.find("ZNOAUTH") != std::string::npos &&
               log.find("ha.auth_file") != std::string::npos;
      },
      20s);
  if (!said) MESSAGE(w.agents[b].Log());
  CHECK(said);
  w.sim.Control("clear_requests");
  const std::string old_id = w.sim.JobId("job-0");
  w.FailJob();
  REQUIRE(w.WaitRecovered(old_id));
  const auto m = Mutations(w.sim);
  CHECK(CountFrom(m, "bad") == 0);
  CHECK(CountFrom(m, "good") > 0);
  CHECK_FALSE(w.Leads(b));
  CHECK(w.agents[b].Log().find("pw-wrong-not-in-logs") == std::string::npos);
  // Said once, not every poll (it kept trying with a backoff all along).
  CHECK(Count(w.agents[b].Log(), "ZNOAUTH") == 1);
}

TEST_CASE("startup without a reachable ZooKeeper: observe, say so, take no action; act once it "
          "is up") {
  World w;
  w.zk.Stop();
  const std::string id = "late";
  w.agents.push_back(ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", w.Config(id)},
                                         w.dir.File(id + ".log")));
  w.ids.push_back(id);
  w.sim.Control("clear_requests");
  const std::string old_id = w.sim.JobId("job-0");
  w.FailJob();
  REQUIRE(WaitFor([&] { return w.agents[0].Log().find("is not reachable: observing only") !=
                               std::string::npos; },
                  20s));
  REQUIRE(WaitFor([&] { return w.agents[0].Log().find("job-failed for job-0") !=
                               std::string::npos; },
                  20s));
  CHECK(Mutations(w.sim).empty());
  CHECK(!w.Leads(0));
  REQUIRE(w.zk.Start());
  REQUIRE(w.WaitRecovered(old_id, 60s));
  CHECK(w.Leads(0));
  CHECK(Submits(Mutations(w.sim)) == 1);
}

}  // namespace
}  // namespace flinkguard
