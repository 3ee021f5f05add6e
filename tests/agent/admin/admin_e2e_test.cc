// `flinkguard run` as a process against flinksim, with its admin endpoint on an ephemeral port:
//   - /readyz answers 503 until the first cycle is done (the cluster hangs it), then 200;
//   - `promtool check metrics` accepts the real /metrics;
//   - a real Prometheus scrapes it (target up) and, after a failure injected through flinksim's
//     control API, reads the recovery from flinkguard_recoveries_total;
//   - the mutating API calls without or with a wrong token get 401 and change nothing (no
//     request reached Flink, nothing in the history); with the token they recover and take a
//     savepoint;
//   - the shipped Prometheus rules pass `promtool check rules`, and every metric the rules and
//     the Grafana dashboard query is in the real /metrics.
// Every wait is bounded in count and time.

#include <doctest/doctest.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "storage/history_store.h"
#include "tests/agent/observer/flinksim_process.h"

namespace flinkguard {
namespace {

using testing::ChildProcess;
using testing::FlinksimProcess;
using testing::HttpCall;
using testing::ParseJson;
using namespace std::chrono_literals;

// Polls `done` every 100 ms for at most `limit`.
bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  for (auto until = std::chrono::steady_clock::now() + limit;
       std::chrono::steady_clock::now() < until;) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

// A port that was free a moment ago (for Prometheus, which cannot report a port it chose).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Runs a shell command line; returns its exit status and output.
std::pair<int, std::string> Shell(const std::string& command, const std::string& out_file) {
  const int rc = std::system((command + " > " + out_file + " 2>&1").c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, testing::ReadFile(out_file)};
}

// The value of the sample `series` (a name with its labels as exposed) in a /metrics text, or
// -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  const std::size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

// Every flinkguard_* name in `text`.
std::set<std::string> MetricNames(const std::string& text) {
  std::set<std::string> names;
  static const std::regex kName("flinkguard_[a-z0-9_]*[a-z0-9]");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kName);
       it != std::sregex_iterator(); ++it) {
    names.insert(it->str());
  }
  return names;
}

// True when /metrics has a sample of `name` (histogram series included by their full names).
bool Exposed(const std::string& metrics, const std::string& name) {
  return metrics.find("\n" + name + "{") != std::string::npos ||
         metrics.find("\n" + name + " ") != std::string::npos;
}

struct Agent {
  testing::TempDir dir{"fg-admin"};
  FlinksimProcess sim{"cluster-a",
                      {"--jobs", "1", "--checkpoint-interval", "2s", "--flink-version", "1.20"}};
  std::string config = dir.File("flinkguard.yaml");
  std::string state = dir.path() + "/state";
  int prometheus_port = FreePort();
  ChildProcess agent;
  std::string base;  // http://127.0.0.1:<admin port>

  // `unusable_state`: state_dir below a regular file, so the history cannot be opened.
  explicit Agent(bool unusable_state = false) {
    if (unusable_state) {
      std::ofstream(dir.File("not-a-dir")) << "x";
      state = dir.File("not-a-dir") + "/state";
    }
    REQUIRE(sim.WaitReady(1));
    {
      std::ofstream jar(dir.File("job-0.jar"));
      jar << "Manifest-Version: 1.0\nMain-Class: com.example.Events\nflinksim-job-name: job-0\n"
             "flinksim-parallelism: 2\nflinksim-checkpoint-interval: 2000ms\n";
    }
    { std::ofstream(dir.File("admin.token")) << "the-admin-token\n"; }
    std::ofstream out(config);
    out << "region: test\nagent:\n  poll_interval: 1s\n  listen: 127.0.0.1:0\n  state_dir: "
        << state << "\n  admin_token_file: " << dir.File("admin.token")
        << "\ntsdb:\n  prometheus: http://127.0.0.1:" << prometheus_port
        << "\n  timeout: 1s\n  signals:\n    lag: 'sum by (job_name) (flink_lag)'\n"
        << "clusters:\n  - {name: cluster-a, url: \"" << sim.rest()
        << "\", timeout: 30s, connect_timeout: 1s}\njobs:\n  - name: job-0\n    cluster: "
           "cluster-a\n    jar: "
        << dir.File("job-0.jar")
        << "\n    parallelism: 2\n    recovery: {cooldown: 0s, max_recoveries: 10, stable_after: 0s}\nrules:\n"
           "  - {name: job-failed, when: \"status == FAILED\", action: recover, severity: "
           "critical}\n"
           // Pending for the whole test: a (rule, job) pair in the rule-state gauge.
           "  - {name: long-uptime, when: \"uptime >= 0s\", for: 1h, action: alert}\n"
           "alerts:\n  - {type: webhook, name: oncall, url: \"http://127.0.0.1:9/hook\"}\n";
  }

  void Start() {
    agent = ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", config},
                                dir.File("agent.log"));
    std::string port;
    static const std::regex kListening("admin HTTP listening on 127\\.0\\.0\\.1:([0-9]+)");
    const bool found = Eventually(
        [&] {
          const std::string log = agent.Log();
          std::smatch m;
          if (std::regex_search(log, m, kListening)) port = m[1].str();
          return !port.empty() || !agent.Running();
        },
        20s);
    INFO(agent.Log());
    REQUIRE(found);
    REQUIRE(!port.empty());
    base = "http://127.0.0.1:" + port;
  }

  std::string Metrics() const { return HttpCall("GET", base + "/metrics").body; }

  std::vector<RecoveryRecord> Recoveries() const {
    auto store = SqliteHistoryStore::Open(state + "/history.db");
    REQUIRE(store.has_value());
    auto r = (*store)->Recoveries("job-0", 0);
    REQUIRE(r.has_value());
    return *r;
  }
  std::vector<SavepointRecord> Savepoints() const {
    auto store = SqliteHistoryStore::Open(state + "/history.db");
    REQUIRE(store.has_value());
    auto r = (*store)->Savepoints("job-0", 0);
    REQUIRE(r.has_value());
    return *r;
  }
  std::vector<std::string> Mutations() const {
    std::vector<std::string> out;
    rapidjson::Document doc = ParseJson(HttpCall("GET", sim.rest() + "/_sim/requests").body);
    for (const auto& r : doc["requests"].GetArray()) {
      out.push_back(std::string(r["method"].GetString()) + " " + r["path"].GetString());
    }
    return out;
  }
  int Succeeded(const std::string& trigger) const {
    int n = 0;
    for (const RecoveryRecord& r : Recoveries()) {
      n += r.trigger == trigger && r.outcome == RecoveryAttempt::Outcome::kSucceeded ? 1 : 0;
    }
    return n;
  }
};

// Prometheus scraping the agent every second, with its own storage dir.
struct Prometheus {
  ChildProcess proc;
  std::string base;

  Prometheus(const testing::TempDir& dir, int port, const std::string& target) {
    const std::string config = dir.File("prometheus.yml");
    std::ofstream(config) << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                             "scrape_configs:\n  - job_name: flinkguard\n    static_configs:\n"
                             "      - targets: ['"
                          << target << "']\n";
    base = "http://127.0.0.1:" + std::to_string(port);
    proc = ChildProcess::Start({"/usr/bin/prometheus", "--config.file=" + config,
                                "--storage.tsdb.path=" + dir.path() + "/prometheus-data",
                                "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                               dir.File("prometheus.log"));
    const bool ready =
        Eventually([&] { return HttpCall("GET", base + "/-/ready").status == 200; }, 30s);
    INFO(proc.Log());
    REQUIRE(ready);
  }

  // The single value of an instant query, or nullopt.
  std::optional<double> Query(const std::string& promql) const {
    char* q = curl_escape(promql.c_str(), static_cast<int>(promql.size()));
    const std::string escaped = q;
    curl_free(q);
    rapidjson::Document d = ParseJson(HttpCall("GET", base + "/api/v1/query?query=" + escaped).body);
    if (!d.IsObject() || !d.HasMember("data")) return std::nullopt;
    const auto& result = d["data"]["result"];
    if (!result.IsArray() || result.Size() != 1) return std::nullopt;
    return std::stod(result[0]["value"][1].GetString());
  }

  std::string TargetHealth() const {
    rapidjson::Document d = ParseJson(HttpCall("GET", base + "/api/v1/targets").body);
    if (!d.IsObject() || !d.HasMember("data")) return "";
    const auto& t = d["data"]["activeTargets"];
    if (!t.IsArray() || t.Empty()) return "";
    return t[0]["health"].GetString();
  }
};

TEST_CASE("metrics, Prometheus, readiness and the token-guarded admin API of a running agent") {
  Agent a;
  // The cluster hangs every request: the first cycle cannot finish until it answers again.
  a.sim.Control("cluster_down", R"({"mode":"hang"})");
  a.Start();
  CHECK(HttpCall("GET", a.base + "/healthz").status == 200);
  const testing::HttpReply not_ready = HttpCall("GET", a.base + "/readyz");
  CHECK(not_ready.status == 503);
  CHECK(not_ready.body.find("first cycle") != std::string::npos);
  a.sim.Control("cluster_up");
  CHECK(Eventually([&] { return HttpCall("GET", a.base + "/readyz").status == 200; }, 40s));

  // promtool lints the real exposition.
  CHECK(Eventually([&] { return Exposed(a.Metrics(), "flinkguard_scrape_duration_seconds_bucket"); },
                   20s));
  { std::ofstream(a.dir.File("metrics.txt")) << a.Metrics(); }
  auto [lint_rc, lint] =
      Shell("promtool check metrics < " + a.dir.File("metrics.txt"), a.dir.File("promtool.out"));
  INFO(lint);
  CHECK(lint_rc == 0);

  Prometheus prom(a.dir, a.prometheus_port, a.base.substr(std::string("http://").size()));
  CHECK(Eventually([&] { return prom.TargetHealth() == "up"; }, 30s));

  // Without the token, with a wrong one, or another scheme: 401, and nothing happens.
  a.sim.Control("clear_requests");
  const std::string recover = a.base + "/api/v1/jobs/job-0/recover";
  const std::string savepoint = a.base + "/api/v1/jobs/job-0/savepoint";
  CHECK(HttpCall("POST", recover).status == 401);
  CHECK(HttpCall("POST", recover, R"({"from":"fresh"})", {"Authorization: Bearer wrong"}).status ==
        401);
  CHECK(HttpCall("POST", savepoint, "", {"Authorization: Bearer the-admin-token-"}).status == 401);
  CHECK(HttpCall("POST", savepoint, "", {"Authorization: Basic the-admin-token"}).status == 401);
  // Two more cycles, so anything queued would have run.
  const double cycles = Sample(a.Metrics(), "flinkguard_cycles_total");
  CHECK(Eventually([&] { return Sample(a.Metrics(), "flinkguard_cycles_total") >= cycles + 2; },
                   20s));
  CHECK(a.Mutations().empty());
  CHECK(a.Recoveries().empty());
  CHECK(a.Savepoints().empty());
  CHECK(Sample(a.Metrics(), "flinkguard_recoveries_started_total{trigger=\"api\"}") == 0);

  // A failure injected through flinksim: the rule recovers the job, and Prometheus sees it.
  a.sim.Control("fail_job",
                R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
  CHECK(Eventually([&] { return a.Succeeded("rule") == 1; }, 60s));
  CHECK(Eventually(
      [&] {
        return prom.Query(R"(sum(flinkguard_recoveries_total{job="flinkguard",outcome="succeeded"}))") ==
               1.0;
      },
      30s));
  CHECK(prom.Query(R"(sum(flinkguard_recoveries_started_total{trigger="rule"}))") == 1.0);
  CHECK(prom.Query(R"(flinkguard_leader)") == 1.0);
  // The receiver (a closed port) refuses the notifications about it: counted as retries, and
  // waiting in the outbox.
  CHECK(Eventually(
      [&] {
        return Sample(a.Metrics(),
                      R"(flinkguard_notifications_total{outcome="retry",receiver="oncall"})") > 0;
      },
      30s));
  CHECK(Sample(a.Metrics(), "flinkguard_outbox_pending_notifications") > 0);

  // With the token: a recovery and a savepoint, both run by the agent's loop.
  REQUIRE(a.sim.WaitReady(1));
  const std::vector<std::string> auth = {"Authorization: Bearer the-admin-token"};
  // The rails apply to the API as to the rules: right after a recovery the cooldown's jitter
  // may refuse it (409) for a moment.
  testing::HttpReply started;
  CHECK(Eventually(
      [&] {
        started = HttpCall("POST", recover, R"({"from":"checkpoint"})", auth);
        return started.status != 409;
      },
      20s));
  INFO(started.body);
  CHECK(started.status == 202);
  CHECK(started.body.find("recovery_id") != std::string::npos);
  CHECK(Eventually([&] { return a.Succeeded("api") == 1; }, 60s));
  std::string metrics = a.Metrics();
  CHECK(Sample(metrics, R"(flinkguard_recoveries_total{outcome="succeeded",strategy="checkpoint"})") ==
        2);
  CHECK(Sample(metrics, R"(flinkguard_recoveries_started_total{trigger="api"})") == 1);
  REQUIRE(a.sim.WaitReady(1));
  CHECK(Eventually(
      [&] {
        // The loop needs an observation of the new instance RUNNING before it can take one.
        return HttpCall("POST", savepoint, "", auth).status == 202;
      },
      20s));
  const bool completed = Eventually(
      [&] {
        for (const SavepointRecord& s : a.Savepoints()) {
          if (s.status == "completed") return true;
        }
        return false;
      },
      60s);
  std::string savepoints;
  for (const SavepointRecord& s : a.Savepoints()) {
    savepoints += "savepoint " + std::to_string(s.id) + " of " + s.job_id + " (" + s.origin +
                  "): " + s.status + " " + s.error + "\n";
  }
  INFO(savepoints);
  CHECK(completed);
  // The history API tells the same story.
  const testing::HttpReply history = HttpCall("GET", a.base + "/api/v1/history?job=job-0&since=0");
  CHECK(history.status == 200);
  CHECK(history.body.find("\"trigger\":\"api\"") != std::string::npos);

  // The shipped rules and dashboard: valid, and every metric they use is in the real /metrics.
  const std::string rules = testing::SourceDir() + "/packaging/prometheus/flinkguard-rules.yaml";
  auto [rules_rc, rules_out] = Shell("promtool check rules " + rules, a.dir.File("rules.out"));
  INFO(rules_out);
  CHECK(rules_rc == 0);
  metrics = a.Metrics();
  for (const std::string& name : MetricNames(testing::ReadFile(rules))) {
    INFO("rules use " << name);
    CHECK(Exposed(metrics, name));
  }
  rapidjson::Document dash =
      ParseJson(testing::ReadFile(testing::SourceDir() + "/packaging/grafana/flinkguard.json"));
  REQUIRE(dash.IsObject());
  REQUIRE(dash.HasMember("panels"));
  int queries = 0;
  std::set<std::string> used;
  for (const auto& panel : dash["panels"].GetArray()) {
    if (!panel.HasMember("targets")) continue;
    for (const auto& t : panel["targets"].GetArray()) {
      ++queries;
      for (const std::string& n : MetricNames(t["expr"].GetString())) used.insert(n);
    }
  }
  CHECK(queries > 20);
  CHECK(used.size() > 15);
  for (const std::string& name : used) {
    INFO("the dashboard uses " << name);
    CHECK(Exposed(metrics, name));
  }
  // SIGTERM: a clean exit (under the sanitizers: no leak, no error report).
  a.agent.Signal(SIGTERM);
  CHECK(Eventually([&] { return !a.agent.Running(); }, 20s));
  const int status = a.agent.Stop();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(a.agent.Log().find("runtime error:") == std::string::npos);
}

TEST_CASE("without a usable history the agent is alive, not ready, and the API does not act") {
  Agent a(/*unusable_state=*/true);
  a.Start();
  CHECK(HttpCall("GET", a.base + "/healthz").status == 200);
  testing::HttpReply ready;
  CHECK(Eventually(
      [&] {
        ready = HttpCall("GET", a.base + "/readyz");
        return ready.body.find("history") != std::string::npos;
      },
      20s));
  CHECK(ready.status == 503);
  CHECK(HttpCall("GET", a.base + "/api/v1/jobs").status == 200);  // it still observes
  a.sim.Control("clear_requests");
  const testing::HttpReply r = HttpCall("POST", a.base + "/api/v1/jobs/job-0/recover", "",
                                        {"Authorization: Bearer the-admin-token"});
  CHECK(r.status == 503);
  CHECK(r.body.find("journal") != std::string::npos);
  CHECK(a.Mutations().empty());
  CHECK(HttpCall("GET", a.base + "/api/v1/history").status == 503);
  CHECK(Sample(a.Metrics(), "flinkguard_leader") == 0);  // it does not act
}

}  // namespace
}  // namespace flinkguard
